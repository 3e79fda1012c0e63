/* template.c - section parser and ${var} substitution (see template.h). */
#include "core/template.h"

#include <stdarg.h>
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

/* ---- expansion --------------------------------------------------------------- */

/* A loop variable: `name` stands for `item` inside its $for. */
typedef struct bind {
    const char *name;
    size_t nlen;
    const sf_titem *item;
    const struct bind *up;
} bind;

typedef struct {
    const sf_tpl *t;
    const char *section;
    const sf_vars *vars;
    sf_buf *out;
} xctx;

static sf_status oom(void)
{
    return sf_error(SF_EINTERNAL, NULL, "out of memory");
}

static sf_status fail(const xctx *x, const char *what, const char *s, size_t n)
{
    return sf_error(SF_EINTERNAL, x->t->name, "section '%s': %s '%.*s'", x->section, what, (int)n,
                    s);
}

/* The value of `key` (NAME, or LOOPVAR.NAME inside a $for); NULL if none. */
static const char *lookup(const xctx *x, const bind *b, const char *key, size_t klen)
{
    const char *dot = memchr(key, '.', klen);
    if (dot) {
        size_t nl = (size_t)(dot - key), kl = klen - nl - 1;
        for (; b; b = b->up)
            if (b->nlen == nl && memcmp(b->name, key, nl) == 0) {
                for (int i = 0; i < b->item->n; i++)
                    if (strlen(b->item->kv[i].key) == kl &&
                        memcmp(b->item->kv[i].key, dot + 1, kl) == 0)
                        return b->item->kv[i].val;
                return NULL;
            }
        return NULL;
    }
    const sf_vars *v = x->vars;
    for (int i = 0; v && i < v->n; i++)
        if (strlen(v->v[i].key) == klen && memcmp(v->v[i].key, key, klen) == 0)
            return v->v[i].val;
    return NULL;
}

/* ${name} substitution over [p, end). */
static sf_status subst(const xctx *x, const bind *b, const char *p, const char *end)
{
    while (p < end) {
        const char *d = memchr(p, '$', (size_t)(end - p));
        if (!d)
            return sf_buf_append(x->out, p, (size_t)(end - p)) ? oom() : SF_OK;
        if (sf_buf_append(x->out, p, (size_t)(d - p)))
            return oom();
        if (d + 1 < end && d[1] == '$') {
            if (sf_buf_append(x->out, "$", 1))
                return oom();
            p = d + 2;
            continue;
        }
        if (d + 1 >= end || d[1] != '{') { /* a lone $ is literal: Make's $(X), $@ */
            if (sf_buf_append(x->out, "$", 1))
                return oom();
            p = d + 1;
            continue;
        }
        const char *k = d + 2, *ke = memchr(k, '}', (size_t)(end - k));
        if (!ke)
            return sf_error(SF_EINTERNAL, x->t->name, "section '%s': unterminated ${", x->section);
        const char *val = lookup(x, b, k, (size_t)(ke - k));
        if (!val)
            return sf_error(SF_EINTERNAL, x->t->name, "section '%s': no value for ${%.*s}",
                            x->section, (int)(ke - k), k);
        if (sf_buf_append(x->out, val, strlen(val)))
            return oom();
        p = ke + 1;
    }
    return SF_OK;
}

enum { D_NONE, D_FOR, D_ENDFOR, D_IF, D_ELSE, D_ENDIF };

/* The directive on line [p, e), and its argument [*a, *ae). */
static int directive(const char *p, const char *e, const char **a, const char **ae)
{
    static const struct {
        const char *word;
        int d;
    } k[] = {{"$for", D_FOR},
             {"$endfor", D_ENDFOR},
             {"$if", D_IF},
             {"$else", D_ELSE},
             {"$endif", D_ENDIF}};
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    while (e > p && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        size_t n = strlen(k[i].word);
        if ((size_t)(e - p) >= n && memcmp(p, k[i].word, n) == 0 &&
            (p + n == e || p[n] == ' ' || p[n] == '\t')) {
            *a = p + n;
            while (*a < e && (**a == ' ' || **a == '\t'))
                (*a)++;
            *ae = e;
            return k[i].d;
        }
    }
    return D_NONE;
}

static const char *next_line(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl + 1 : end;
}

/* From the line after a $for or $if at `body`: where its $else (if) starts
 * and ends, where its closing line starts, and the text after it. */
static sf_status match(const xctx *x, int open, const char *body, const char *end, const char **els,
                       const char **els_next, const char **close, const char **after)
{
    int depth = 0;
    *els = *els_next = NULL;
    for (const char *p = body; p < end;) {
        const char *next = next_line(p, end), *a, *ae;
        int d = directive(p, next, &a, &ae);
        if (d == D_FOR || d == D_IF) {
            depth++;
        } else if ((d == D_ENDFOR || d == D_ENDIF) && depth) {
            depth--;
        } else if (d == D_ELSE && !depth) {
            if (open != D_IF || *els)
                return fail(x, "misplaced", "$else", 5);
            *els = p;
            *els_next = next;
        } else if (d == D_ENDFOR || d == D_ENDIF) {
            if ((d == D_ENDFOR) != (open == D_FOR))
                return fail(x, "mismatched", d == D_ENDFOR ? "$endfor" : "$endif",
                            d == D_ENDFOR ? 7 : 6);
            *close = p;
            *after = next;
            return SF_OK;
        }
        p = next;
    }
    return fail(x, "unterminated", open == D_FOR ? "$for" : "$if", open == D_FOR ? 4 : 3);
}

static const sf_tlist *find_list(const sf_vars *v, const char *name, size_t n)
{
    for (int i = 0; v && i < v->nlists; i++)
        if (strlen(v->lists[i].name) == n && memcmp(v->lists[i].name, name, n) == 0)
            return &v->lists[i];
    return NULL;
}

static sf_status run(const xctx *x, const bind *b, const char *p, const char *end)
{
    while (p < end) {
        const char *next = next_line(p, end), *a, *ae;
        int d = directive(p, next, &a, &ae);
        if (d == D_NONE) {
            TRY(subst(x, b, p, next));
            p = next;
            continue;
        }
        if (d != D_FOR && d != D_IF)
            return fail(x, "unbalanced", p, (size_t)(next - p) - (next[-1] == '\n'));
        const char *els = NULL, *els_next = NULL, *close = NULL, *after = NULL;
        TRY(match(x, d, next, end, &els, &els_next, &close, &after));
        if (d == D_IF) {
            int neg = a < ae && *a == '!';
            const char *val = lookup(x, b, a + neg, (size_t)(ae - a - neg));
            if (!val)
                return fail(x, "no value for condition", a + neg, (size_t)(ae - a - neg));
            int holds = (val[0] && strcmp(val, "0") != 0) != neg;
            if (holds)
                TRY(run(x, b, next, els ? els : close));
            else if (els)
                TRY(run(x, b, els_next, close));
        } else { /* $for NAME in LIST */
            const char *nm = a, *ne = a;
            while (ne < ae && *ne != ' ' && *ne != '\t')
                ne++;
            const char *in = ne;
            while (in < ae && (*in == ' ' || *in == '\t'))
                in++;
            if (ne == nm || ae - in < 4 || memcmp(in, "in", 2) != 0 ||
                (in[2] != ' ' && in[2] != '\t'))
                return fail(x, "expected '$for NAME in LIST', got", a, (size_t)(ae - a));
            const char *ln = in + 3;
            while (ln < ae && (*ln == ' ' || *ln == '\t'))
                ln++;
            const sf_tlist *l = find_list(x->vars, ln, (size_t)(ae - ln));
            if (!l)
                return fail(x, "no list", ln, (size_t)(ae - ln));
            for (int i = 0; i < l->n; i++) {
                bind nb = {nm, (size_t)(ne - nm), &l->items[i], b};
                TRY(run(x, &nb, next, close));
            }
        }
        p = after;
    }
    return SF_OK;
}

sf_status sf_tpl_expand(const sf_tpl *t, const char *section, const sf_vars *vars, sf_buf *out)
{
    int s = -1;
    for (int i = 0; i < t->nsections; i++)
        if (strcmp(t->sec[i].name, section) == 0)
            s = i;
    if (s < 0)
        return sf_error(SF_EINTERNAL, t->name, "template has no section '%s'", section);
    xctx x = {t, section, vars, out};
    return run(&x, NULL, t->sec[s].text, t->sec[s].text + t->sec[s].len);
}

/* ---- variables ---------------------------------------------------------------- */

void sf_vars_clear(sf_vars *v)
{
    for (int i = 0; i < v->nlists; i++) {
        for (int j = 0; j < v->lists[i].n; j++) {
            for (int k = 0; k < v->lists[i].items[j].n; k++) {
                sf_free(v->lists[i].items[j].kv[k].key);
                sf_free(v->lists[i].items[j].kv[k].val);
            }
            sf_free(v->lists[i].items[j].kv);
        }
        sf_free(v->lists[i].items);
    }
    sf_free(v->lists);
    v->lists = NULL;
    v->nlists = v->lists_cap = 0;
    v->n = 0;
}

/* Grows an array of `size`-byte elements to hold one more; -1 on failure. */
static int grow(void **arr, int n, int *cap, size_t size)
{
    if (n < *cap)
        return 0;
    int nc = *cap ? 2 * *cap : 8;
    void *p = sf_realloc(*arr, (size_t)nc * size);
    if (!p)
        return -1;
    memset((char *)p + (size_t)*cap * size, 0, (size_t)(nc - *cap) * size);
    *arr = p;
    *cap = nc;
    return 0;
}

static sf_tlist *list_of(sf_vars *v, const char *name)
{
    for (int i = 0; i < v->nlists; i++)
        if (strcmp(v->lists[i].name, name) == 0)
            return &v->lists[i];
    return NULL;
}

int sf_vars_list(sf_vars *v, const char *name)
{
    sf_tlist *l = list_of(v, name);
    if (l) {
        for (int j = 0; j < l->n; j++) {
            for (int k = 0; k < l->items[j].n; k++) {
                sf_free(l->items[j].kv[k].key);
                sf_free(l->items[j].kv[k].val);
            }
            sf_free(l->items[j].kv);
            memset(&l->items[j], 0, sizeof l->items[j]);
        }
        l->n = 0;
        return 0;
    }
    if (strlen(name) >= sizeof v->lists[0].name ||
        grow((void **)&v->lists, v->nlists, &v->lists_cap, sizeof *v->lists))
        return -1;
    snprintf(v->lists[v->nlists++].name, sizeof v->lists[0].name, "%s", name);
    return 0;
}

int sf_vars_item(sf_vars *v, const char *name)
{
    sf_tlist *l = list_of(v, name);
    if (!l || grow((void **)&l->items, l->n, &l->cap, sizeof *l->items))
        return -1;
    l->n++;
    return 0;
}

int sf_vars_item_set(sf_vars *v, const char *name, const char *key, const char *fmt, ...)
{
    sf_tlist *l = list_of(v, name);
    if (!l || !l->n)
        return -1;
    sf_titem *it = &l->items[l->n - 1];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *val = n < 0 ? NULL : sf_malloc((size_t)n + 1);
    if (!val)
        return -1;
    va_start(ap, fmt);
    vsnprintf(val, (size_t)n + 1, fmt, ap);
    va_end(ap);
    for (int i = 0; i < it->n; i++)
        if (strcmp(it->kv[i].key, key) == 0) {
            sf_free(it->kv[i].val);
            it->kv[i].val = val;
            return 0;
        }
    size_t kl = strlen(key);
    char *k = sf_malloc(kl + 1);
    if (!k || grow((void **)&it->kv, it->n, &it->cap, sizeof *it->kv)) {
        sf_free(k);
        sf_free(val);
        return -1;
    }
    memcpy(k, key, kl + 1);
    it->kv[it->n].key = k;
    it->kv[it->n++].val = val;
    return 0;
}

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
