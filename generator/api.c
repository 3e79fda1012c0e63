/* api.c - the public C API (include/sparseflow.h): a session holds its
 * options and its context (diagnostics, allocation hook); each call makes
 * that context current on the calling thread for its duration, runs the
 * driver, and restores the previous one. */
#define _POSIX_C_SOURCE 200809L
#include "driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sf_session {
    sf_ctx ctx;
    sf_gen_opts opts;
    char *strings[16]; /* option values copied from the caller */
    int nstrings;
};

sf_session *sf_session_new(void)
{
    sf_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    sf_gen_opts_init(&s->opts);
    s->opts.quiet = 1;
    return s;
}

void sf_session_free(sf_session *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nstrings; i++)
        free(s->strings[i]);
    sf_gen_opts_free(&s->opts);
    free(s);
}

void sf_session_set_sink(sf_session *s, sf_diag_sink sink, void *ctx)
{
    s->ctx.sink = sink;
    s->ctx.sink_ctx = ctx;
}

void sf_session_set_alloc_hook(sf_session *s, sf_alloc_hook hook, void *ctx)
{
    s->ctx.hook = hook;
    s->ctx.hook_ctx = ctx;
}

int sf_session_errors(const sf_session *s)
{
    return s->ctx.errors;
}

const char *sf_session_last_error(const sf_session *s)
{
    return s->ctx.last;
}

sf_status sf_session_option(sf_session *s, const char *name, const char *value)
{
    sf_ctx *prev = sf_ctx_enter(&s->ctx);
    sf_status st = SF_OK;
    char *copy = NULL;
    if (!name || !strcmp(name, "-o") || !strcmp(name, "--output") || !strcmp(name, "--report") ||
        !strcmp(name, "--json"))
        st = sf_error(SF_EUSAGE, NULL,
                      "option '%s': give the model, the folder and the "
                      "report form to the call",
                      name ? name : "(null)");
    else if (!strcmp(name, "--verbose"))
        s->opts.quiet = 0;
    else if (value && s->nstrings == (int)(sizeof s->strings / sizeof s->strings[0]))
        st = sf_error(SF_EUSAGE, NULL, "too many options with values");
    else if (value && !(copy = strdup(value)))
        st = sf_error(SF_EINTERNAL, NULL, "out of memory");
    if (!st && strcmp(name, "--verbose")) {
        sf_gen_opts o = s->opts; /* unchanged on failure */
        int took = 0;
        st = sf_gen_option(&o, name, copy, &took);
        if (!st && value && !took)
            st = sf_error(SF_EUSAGE, NULL, "option '%s' takes no value", name);
        if (!st) {
            s->opts = o;
            if (copy)
                s->strings[s->nstrings++] = copy, copy = NULL;
        }
    }
    free(copy);
    sf_ctx_enter(prev);
    return st;
}

sf_status sf_session_inspect(sf_session *s, const char *model, int json, char **text)
{
    sf_ctx *prev = sf_ctx_enter(&s->ctx);
    sf_gen_opts o = s->opts;
    char *buf = NULL;
    size_t len = 0;
    sf_status st = SF_OK;
    *text = NULL;
    o.inspect = 1;
    o.json = json;
    o.model = model;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        st = sf_error(SF_EINTERNAL, NULL, "out of memory");
    if (!st)
        st = sf_gen_opts_check(&o);
    if (!st)
        st = sf_generate(&o, f);
    if (f && fclose(f) && !st)
        st = sf_error(SF_EINTERNAL, NULL, "out of memory");
    if (st)
        free(buf);
    else
        *text = buf;
    sf_ctx_enter(prev);
    return st;
}

void sf_text_free(char *text)
{
    free(text);
}

sf_status sf_session_generate(sf_session *s, const char *model, const char *outdir)
{
    sf_ctx *prev = sf_ctx_enter(&s->ctx);
    sf_gen_opts o = s->opts;
    o.model = model;
    o.outdir = outdir;
    sf_status st = sf_gen_opts_check(&o);
    if (!st)
        st = sf_generate(&o, NULL);
    sf_ctx_enter(prev);
    return st;
}
