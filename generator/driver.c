/* driver.c - one generation or inspection, stage after stage (DESIGN §2):
 * load, verify, SPA, plan, then either a report (inspect) or pack, emit and
 * the atomic write of the output folder. Returns a status; never exits. */
#include "driver.h"
#include "backends/cpu/emit.h"
#include "passes/passes.h"
#include "core/output.h"
#include "backends/cpu/pack.h"
#include "report/report.h"
#include "passes/spa.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void progress(const sf_gen_opts *c, const char *stage)
{
    if (!c->quiet && isatty(2))
        fprintf(stderr, "sfgen: %s...\n", stage);
}

static sf_status write_report(const char *path, const sf_buf *b)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return sf_error(SF_EINPUT, path, "cannot create the report file");
    int ok = fwrite(b->data, 1, b->len, f) == b->len;
    ok = fclose(f) == 0 && ok;
    return ok ? SF_OK : sf_error(SF_EINPUT, path, "cannot write the report file");
}

/* ---- the passes between verify and emit, in order (docs/ARCHITECTURE.md) ---- */

typedef struct {
    const char *name;
    sf_status (*run)(sf_graph *g, const sf_gen_opts *c);
} pass;

static sf_status fold(sf_graph *g, const sf_gen_opts *c)
{
    (void)c;
    return sf_pass_fold_batchnorm(g);
}

static sf_status census(sf_graph *g, const sf_gen_opts *c)
{
    (void)c;
    sf_spa_census(g);
    return SF_OK;
}

static sf_status propagate(sf_graph *g, const sf_gen_opts *c)
{
    sf_spa_propagate(g, c->propagate);
    return SF_OK;
}

static sf_status plan_cpu(sf_graph *g, const sf_gen_opts *c)
{
    sf_plan_opts po = c->plan;
    po.threads = c->threads;
    return sf_plan_graph(g, &po);
}

static sf_status plan_cuda(sf_graph *g, const sf_gen_opts *c)
{
    sf_plan_opts po = c->plan;
    po.threads = c->threads;
    return sf_plan_cuda_graph(g, &po);
}

static const pass k_passes[] = {
    {"folding batch norms into convolutions", fold},         /* passes/fold.c */
    {"sparsity census", census},                             /* passes/spa.c */
    {"propagating zero and unused channels", propagate},     /* passes/spa.c */
    {"planning CPU kernels and the arena", plan_cpu},        /* backends/cpu/plan.c */
    {"planning CUDA kernels, fusions and scratch", plan_cuda}, /* backends/cuda/plan_cuda.c */
};

sf_status sf_generate(const sf_gen_opts *c)
{
    sf_graph g;
    progress(c, "loading and verifying");
    sf_status s = sf_graph_load(c->model, &g);
    if (s)
        return s;
    for (size_t i = 0; i < sizeof k_passes / sizeof k_passes[0] && !s; i++) {
        progress(c, k_passes[i].name);
        s = k_passes[i].run(&g, c);
    }
    sf_blob blob;
    sf_buf_init(&blob.data);
    sf_files *fs = NULL;
    if (!s && c->inspect) {
        if (c->json) {
            sf_buf b;
            sf_buf_init(&b);
            s = sf_report_json(&g, NULL, &b);
            if (!s)
                fwrite(b.data, 1, b.len, stdout);
            sf_buf_free(&b);
        } else {
            sf_report_text(&g, stdout);
        }
        goto done;
    }
    if (!s) {
        progress(c, "packing weights");
        s = sf_pack_graph(&g, &blob);
    }
    if (!s) {
        progress(c, "emitting code");
        fs = sf_malloc(sizeof *fs);
        if (!fs)
            s = sf_error(SF_EINTERNAL, NULL, "out of memory");
        else
            sf_files_init(fs);
    }
    if (!s)
        s = sf_emit(&g, &blob, fs, c->threads);
    if (!s)
        s = sf_output_write(c->outdir, fs);
    if (!s && c->report) {
        for (int i = 0; i < fs->n; i++)
            if (!strcmp(fs->f[i].name, "report.json"))
                s = write_report(c->report, &fs->f[i].buf);
    }
    if (!s && !c->quiet) {
        sf_report_text(&g, stdout);
        size_t n = strlen(c->outdir);
        while (n > 1 && c->outdir[n - 1] == '/')
            n--;
        printf("\nwrote %.*s/ (%d files): run 'make -C %.*s' to build\n", (int)n, c->outdir,
               fs->n, (int)n, c->outdir);
    }
done:
    if (fs) {
        sf_files_free(fs);
        sf_free(fs);
    }
    sf_blob_free(&blob);
    sf_graph_free(&g);
    return s;
}

