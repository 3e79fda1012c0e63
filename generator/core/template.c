/* template.c - section parser and ${var} substitution (see template.h). */
#include "core/template.h"

#include <stdio.h>
#include <string.h>

static int is_marker(const char *line, size_t len, const char **name, size_t *nlen)
{
    const char *p;
    if (len >= 4 && memcmp(line, "//@@", 4) == 0)
        p = line + 4;
    else if (len >= 3 && memcmp(line, "#@@", 3) == 0)
        p = line + 3;
    else
        return 0;
    const char *end = line + len;
    while (p < end && *p == ' ')
        p++;
    const char *q = p;
    while (q < end && *q != ' ' && *q != '\n' && *q != '\r')
        q++;
    *name = p;
    *nlen = (size_t)(q - p);
    return 1;
}

sf_status sf_tpl_parse(sf_tpl *t, const char *name, const char *text, size_t len)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    const char *p = text, *end = text + len;
    int cur = -1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        const char *sname;
        size_t slen;
        if (is_marker(p, (size_t)(next - p), &sname, &slen)) {
            if (slen == 0 || slen >= sizeof t->sec[0].name)
                return sf_error(SF_EINTERNAL, name, "template: bad section name");
            if (t->nsections == SF_TPL_MAX_SECTIONS)
                return sf_error(SF_EINTERNAL, name, "template: too many sections");
            cur = t->nsections++;
            memcpy(t->sec[cur].name, sname, slen);
            t->sec[cur].text = next;
            t->sec[cur].len = 0;
            for (int i = 0; i < cur; i++)
                if (strcmp(t->sec[i].name, t->sec[cur].name) == 0)
                    return sf_error(SF_EINTERNAL, name, "template: duplicate section '%s'",
                                    t->sec[cur].name);
        } else if (cur >= 0) {
            t->sec[cur].len += (size_t)(next - p);
        }
        p = next;
    }
    return SF_OK;
}

static const char *lookup(const sf_vars *v, const char *key, size_t klen)
{
    for (int i = 0; i < v->n; i++)
        if (strlen(v->v[i].key) == klen && memcmp(v->v[i].key, key, klen) == 0)
            return v->v[i].val;
    return NULL;
}

sf_status sf_tpl_expand(const sf_tpl *t, const char *section, const sf_vars *vars, sf_buf *out)
{
    int s = -1;
    for (int i = 0; i < t->nsections; i++)
        if (strcmp(t->sec[i].name, section) == 0)
            s = i;
    if (s < 0)
        return sf_error(SF_EINTERNAL, t->name, "template has no section '%s'", section);
    const char *p = t->sec[s].text, *end = p + t->sec[s].len;
    while (p < end) {
        const char *d = memchr(p, '$', (size_t)(end - p));
        if (!d) {
            if (sf_buf_append(out, p, (size_t)(end - p)))
                goto oom;
            break;
        }
        if (sf_buf_append(out, p, (size_t)(d - p)))
            goto oom;
        if (d + 1 < end && d[1] == '$') {
            if (sf_buf_append(out, "$", 1))
                goto oom;
            p = d + 2;
            continue;
        }
        if (d + 1 >= end || d[1] != '{') { /* a lone $ is literal: Make's $(X), $@ */
            if (sf_buf_append(out, "$", 1))
                goto oom;
            p = d + 1;
            continue;
        }
        const char *k = d + 2, *ke = memchr(k, '}', (size_t)(end - k));
        if (!ke)
            return sf_error(SF_EINTERNAL, t->name, "section '%s': unterminated ${", section);
        const char *val = vars ? lookup(vars, k, (size_t)(ke - k)) : NULL;
        if (!val)
            return sf_error(SF_EINTERNAL, t->name, "section '%s': no value for ${%.*s}",
                            section, (int)(ke - k), k);
        if (sf_buf_append(out, val, strlen(val)))
            goto oom;
        p = ke + 1;
    }
    return SF_OK;
oom:
    return sf_error(SF_EINTERNAL, NULL, "out of memory");
}

void sf_vars_clear(sf_vars *v) { v->n = 0; }

int sf_vars_set(sf_vars *v, const char *key, const char *fmt, ...)
{
    char val[sizeof v->v[0].val];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof val)
        return -1;
    int i;
    for (i = 0; i < v->n; i++)
        if (strcmp(v->v[i].key, key) == 0)
            break;
    if (i == v->n) {
        if (v->n == SF_TPL_MAX_VARS || strlen(key) >= sizeof v->v[0].key)
            return -1;
        snprintf(v->v[i].key, sizeof v->v[i].key, "%s", key);
        v->n++;
    }
    memcpy(v->v[i].val, val, (size_t)n + 1);
    return 0;
}
