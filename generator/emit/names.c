/* names.c - a model's name must not make the output folder unbuildable
 * (docs/CLI.md, "Model names"). The files and make targets are taken from
 * what was emitted, so a new runtime file or target is covered without a
 * list to keep in step; only the runtime's symbol prefixes and the file
 * names make itself reads are fixed here. */
#include "emit/names.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TARGETS 128

typedef struct {
    char name[128];
    int recipes; /* rules for it that have a recipe */
    int self;    /* listed as its own prerequisite */
} target;

static target *find_or_add(target *t, int *n, const char *name, size_t len)
{
    for (int i = 0; i < *n; i++)
        if (strlen(t[i].name) == len && !memcmp(t[i].name, name, len))
            return &t[i];
    if (*n == MAX_TARGETS || len >= sizeof t[0].name)
        return NULL;
    memset(&t[*n], 0, sizeof t[0]);
    memcpy(t[*n].name, name, len);
    return &t[(*n)++];
}

/* The explicit rules of a Makefile: "a b: prerequisites" lines (no pattern,
 * variable or special target), and whether a tab-indented recipe follows.
 * Rules in both branches of a conditional count alike. */
static int parse_rules(const sf_buf *mk, target *t)
{
    int n = 0;
    target *last[16];
    int nlast = 0;
    const char *p = mk->data, *end = mk->data + mk->len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        if (*p == '\t') {
            for (int i = 0; i < nlast; i++)
                last[i]->recipes++;
            nlast = 0; /* one recipe per rule */
        } else if (*p != '#' && eol > p) {
            nlast = 0;
            const char *colon = memchr(p, ':', (size_t)(eol - p));
            int rule = colon && colon + 1 < eol ? colon[1] != '=' : colon != NULL;
            for (const char *q = p; rule && q < (colon ? colon : eol); q++)
                if (*q == '=' || *q == '$' || *q == '%')
                    rule = 0;
            for (const char *q = p; rule && q < colon;) {
                while (q < colon && *q == ' ')
                    q++;
                const char *w = q;
                while (q < colon && *q != ' ')
                    q++;
                if (q == w || *w == '.')
                    continue;
                target *tg = find_or_add(t, &n, w, (size_t)(q - w));
                if (!tg)
                    continue;
                /* its own prerequisite: a whole word after the colon */
                for (const char *r = colon + 1; r < eol;) {
                    while (r < eol && *r == ' ')
                        r++;
                    const char *v = r;
                    while (r < eol && *r != ' ')
                        r++;
                    if ((size_t)(r - v) == strlen(tg->name) &&
                        !memcmp(v, tg->name, strlen(tg->name)))
                        tg->self = 1;
                }
                if (nlast < 16)
                    last[nlast++] = tg;
            }
        }
        p = eol + 1;
    }
    return n;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* `what` is the clashing name; the rest says how. */
static sf_status clash(const sf_graph *g, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sf_status clash(const sf_graph *g, const char *what, const char *fmt, ...)
{
    char where[300], why[400];
    va_list ap;
    snprintf(where, sizeof where, "%s: field 'name'", g->model_base);
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    /* every name the model's name does not enter is the generator's own */
    if (!strstr(what, g->name))
        return sf_error(SF_EINTERNAL, NULL, "generated output clashes: %s", why);
    return sf_error(SF_EINPUT, where, "'%s' cannot be used as the model's name: %s; choose another",
                    g->name, why);
}

sf_status sf_emit_check_names(const sf_graph *g, const sf_files *fs)
{
    /* the runtime's C symbols and macros (runtime/) carry these prefixes;
     * the model's symbols are <name>_..., its macros <NAME>_... */
    static const char *const runtime_prefixes[] = {"sf_", "sfc_"};
    char lower[80]; /* the name and a '_', lower case: "sf" is taken as well */
    size_t n = 0;
    for (; n < sizeof lower - 2 && g->name[n]; n++)
        lower[n] = (char)tolower((unsigned char)g->name[n]);
    lower[n] = '_';
    lower[n + 1] = 0;
    for (size_t i = 0; i < sizeof runtime_prefixes / sizeof runtime_prefixes[0]; i++)
        if (!strncmp(lower, runtime_prefixes[i], strlen(runtime_prefixes[i])))
            return clash(g, g->name,
                         "'%.*s' and names starting with '%s' (in any case) are the "
                         "runtime's",
                         (int)strlen(runtime_prefixes[i]) - 1, runtime_prefixes[i],
                         runtime_prefixes[i]);

    /* two generated files of one name: one would overwrite the other
     * (sorted, so thousands of layer files stay cheap) */
    const char **sorted = sf_malloc((size_t)(fs->n ? fs->n : 1) * sizeof *sorted);
    if (!sorted)
        return sf_error(SF_EINTERNAL, NULL, "out of memory");
    for (int i = 0; i < fs->n; i++)
        sorted[i] = fs->f[i].name;
    qsort(sorted, (size_t)fs->n, sizeof *sorted, cmp_names);
    const char *dup = NULL;
    for (int i = 1; i < fs->n && !dup; i++)
        if (!strcmp(sorted[i], sorted[i - 1]))
            dup = sorted[i];
    sf_free(sorted);
    if (dup)
        return clash(g, dup, "two generated files would be named '%s'", dup);

    const sf_buf *mk = NULL;
    for (int i = 0; i < fs->n; i++)
        if (!strcmp(fs->f[i].name, "Makefile"))
            mk = &fs->f[i].buf;
    if (!mk)
        return SF_OK;
    target t[MAX_TARGETS];
    int nt = parse_rules(mk, t);
    for (int k = 0; k < nt; k++) {
        /* make reads GNUmakefile, makefile or Makefile: a target of that
         * name would replace the Makefile */
        if (!strcmp(t[k].name, "GNUmakefile") || !strcmp(t[k].name, "makefile") ||
            !strcmp(t[k].name, "Makefile"))
            return clash(g, t[k].name, "make would build '%s', a name make reads its rules from",
                         t[k].name);
        for (int i = 0; i < fs->n; i++)
            if (!strcmp(fs->f[i].name, t[k].name))
                return clash(g, t[k].name, "make would build '%s' over a generated file",
                             t[k].name);
        if (t[k].recipes > 1 || t[k].self)
            return clash(g, t[k].name,
                         "the generated Makefile would have two rules for target '%s'", t[k].name);
    }
    return SF_OK;
}
