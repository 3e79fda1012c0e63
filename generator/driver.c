/* driver.c - one generation or inspection, stage after stage (DESIGN §2):
 * load, verify, SPA, plan, then either a report (inspect) or pack, emit and
 * the atomic write of the output folder. Returns a status; never exits. */
#include "driver.h"
#include "emit/emitter.h"
#include "emit/names.h"
#include "passes/passes.h"
#include "core/output.h"
#include "backends/cpu/pack.h"
#include "report/report.h"
#include "backends/backend.h"
#include "backends/cuda/cuda.h"
#include "passes/spa.h"

#include "backends/cpu/kernels.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

/* ---- options (docs/CLI.md): the command line's and the library's ------------- */

/* Digits only: strtoll alone would also take " 3", "+3" and "-0". */
static int parse_uint(const char *s, long long max, long long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno || v > max)
        return -1;
    *out = v;
    return 0;
}

/* BYTES with an optional K, M, G or T (powers of 1024), 1 .. 2^62. */
static int parse_bytes(const char *s, size_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    int shift = !*end ? 0
                      : (end[1]        ? -1
                         : *end == 'K' ? 10
                         : *end == 'M' ? 20
                         : *end == 'G' ? 30
                         : *end == 'T' ? 40
                                       : -1);
    if (shift < 0 || v > (1ULL << 62) >> shift)
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

/* --shape NAME=D0xD1x...: the last '=' splits (names may hold '='), each
 * dimension 1 .. SF_MAX_DIM. */
static sf_status parse_shape(const char *v, sf_gen_opts *c)
{
    const char *eq = strrchr(v, '=');
    if (!eq || eq == v)
        return sf_error(SF_EUSAGE, NULL, "--shape %s: expected NAME=D0xD1x... (e.g. x=8x3x224x224)",
                        v);
    if (c->nshapes == SF_MAX_IO)
        return sf_error(SF_EUSAGE, NULL, "more than %d --shape options", SF_MAX_IO);
    sf_shape_binding *b = &c->shapes[c->nshapes];
    memset(b, 0, sizeof *b);
    size_t nlen = (size_t)(eq - v);
    char *name = sf_malloc(nlen + 1);
    if (!name)
        return sf_error(SF_EINTERNAL, NULL, "out of memory");
    memcpy(name, v, nlen);
    name[nlen] = 0;
    for (int i = 0; i < c->nshapes; i++)
        if (!strcmp(c->shapes[i].name, name)) {
            sf_free(name);
            return sf_error(SF_EUSAGE, NULL, "--shape %s given twice", c->shapes[i].name);
        }
    const char *p = eq + 1;
    char digits[24];
    while (1) {
        size_t k = strcspn(p, "x");
        long long d;
        if (b->rank == SF_MAX_RANK || k == 0 || k >= sizeof digits) {
            sf_free(name);
            return sf_error(SF_EUSAGE, NULL,
                            "--shape %s: expected 1 to %d positive dimensions separated by 'x'", v,
                            SF_MAX_RANK);
        }
        memcpy(digits, p, k);
        digits[k] = 0;
        if (parse_uint(digits, SF_MAX_DIM, &d) || d < 1) {
            sf_free(name);
            return sf_error(SF_EUSAGE, NULL, "--shape %s: '%s' is not a dimension (1..%lld)", v,
                            digits, SF_MAX_DIM);
        }
        b->dims[b->rank++] = d;
        if (!p[k])
            break;
        p += k + 1;
    }
    b->name = name;
    c->nshapes++;
    return SF_OK;
}

void sf_gen_opts_free(sf_gen_opts *c)
{
    for (int i = 0; i < c->nshapes; i++)
        sf_free((void *)c->shapes[i].name);
    c->nshapes = 0;
}

void sf_gen_opts_init(sf_gen_opts *c)
{
    memset(c, 0, sizeof *c);
    c->propagate = 1;
    c->plan.unroll_budget = SF_DEFAULT_UNROLL_BUDGET;
}

sf_status sf_gen_option(sf_gen_opts *c, const char *a, const char *val, int *took)
{
    int has = val != NULL;
    long long v;
    *took = 0;
    if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
        if (!has)
            return sf_error(SF_EUSAGE, NULL, "%s needs a folder name", a);
        c->outdir = (*took = 1, val);
    } else if (!strcmp(a, "--report")) {
        if (!has)
            return sf_error(SF_EUSAGE, NULL, "--report needs a file name");
        c->report = (*took = 1, val);
    } else if (!strcmp(a, "--target")) {
        if (!has)
            return sf_error(SF_EUSAGE, NULL, "--target needs a value");
        const char *t = (*took = 1, val);
        if (!strcmp(t, "cuda") || !strcmp(t, "cpu,cuda") || !strcmp(t, "cuda,cpu"))
            c->plan.target_cuda = 1;
        else if (strcmp(t, "cpu") != 0)
            return sf_error(SF_EUSAGE, NULL, "--target %s: expected cpu, cuda or cpu,cuda", t);
    } else if (!strcmp(a, "--gpu-dtype")) {
        c->gpu_option = "--gpu-dtype"; /* not `a`: the caller's string */
        const char *t = has ? (*took = 1, val) : "";
        if (!strcmp(t, "bf16"))
            c->plan.gpu_dtype = SF_GPU_BF16;
        else if (!strcmp(t, "f16"))
            c->plan.gpu_dtype = SF_GPU_F16;
        else if (!strcmp(t, "f32"))
            c->plan.gpu_dtype = SF_GPU_F32;
        else
            return sf_error(SF_EUSAGE, NULL, "--gpu-dtype needs bf16, f16 or f32");
    } else if (!strcmp(a, "--gpu-kernel")) {
        c->gpu_option = "--gpu-kernel";
        const char *t = has ? (*took = 1, val) : "";
        c->plan.gpu_force = 1;
        if (!strcmp(t, "dense"))
            c->plan.gpu_forced = SF_G_DENSE;
        else if (!strcmp(t, "sp24"))
            c->plan.gpu_forced = SF_G_SP24;
        else if (!strcmp(t, "ell"))
            c->plan.gpu_forced = SF_G_ELL;
        else
            return sf_error(SF_EUSAGE, NULL, "--gpu-kernel needs dense, sp24 or ell");
    } else if (!strcmp(a, "--threads")) {
        if (!has || parse_uint((*took = 1, val), 4096, &v) || v < 1)
            return sf_error(SF_EUSAGE, NULL, "--threads needs an integer 1..4096");
        c->threads = (int)v;
    } else if (!strcmp(a, "--unroll-budget")) {
        if (!has || parse_uint((*took = 1, val), 1LL << 40, &v))
            return sf_error(SF_EUSAGE, NULL, "--unroll-budget needs a non-negative integer");
        c->plan.unroll_budget = (size_t)v;
    } else if (!strcmp(a, "--kernel")) {
        const char *k = has ? (*took = 1, val) : "";
        c->plan.force_kernel = 1;
        if (!strcmp(k, "dense"))
            c->plan.forced_kernel = SF_K_DENSE;
        else if (!strcmp(k, "nm_unrolled"))
            c->plan.forced_kernel = SF_K_NM_UNROLLED;
        else if (!strcmp(k, "nm_compressed"))
            c->plan.forced_kernel = SF_K_NM_COMPRESSED;
        else if (!strcmp(k, "nm24"))
            c->plan.forced_kernel = SF_K_NM24;
        else if ((c->plan.forced_variant = sf_variant_find(k)) != NULL)
            c->plan.forced_kernel = c->plan.forced_variant->family;
        else
            return sf_error(SF_EUSAGE, NULL,
                            "--kernel needs dense, nm_unrolled, "
                            "nm_compressed, nm24 or a variant of 'sfgen kernels'");
    } else if (!strcmp(a, "--max-arena")) {
        size_t b;
        if (!has || parse_bytes((*took = 1, val), &b) || !b)
            return sf_error(SF_EUSAGE, NULL,
                            "--max-arena needs a positive number of bytes (suffix K, M, G or T "
                            "allowed, at most 4611686018427387904)");
        c->plan.max_arena = b;
    } else if (!strcmp(a, "--static-arena")) {
        size_t b;
        if (!has || parse_bytes((*took = 1, val), &b))
            return sf_error(SF_EUSAGE, NULL,
                            "--static-arena needs a number of bytes (suffix K, M, G or T "
                            "allowed; 0: no static arena)");
        c->plan.static_arena_max = b;
        c->plan.no_static_arena = b == 0;
    } else if (!strcmp(a, "--shape")) {
        if (!has)
            return sf_error(SF_EUSAGE, NULL, "--shape needs NAME=D0xD1x... (e.g. input_ids=8x128)");
        TRY(parse_shape((*took = 1, val), c));
    } else if (!strcmp(a, "--external-weights")) {
        c->external_weights = 1;
    } else if (!strcmp(a, "--dense")) {
        c->plan.force_dense = 1;
    } else if (!strcmp(a, "--force")) {
        c->force = 1;
    } else if (!strcmp(a, "--no-propagate")) {
        c->propagate = 0;
    } else if (!strcmp(a, "--json") && c->inspect) {
        c->json = 1;
    } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
        c->quiet = 1;
    } else {
        return sf_error(SF_EUSAGE, NULL, "unknown option '%s'", a);
    }
    return SF_OK;
}

/* --report must not replace the model it describes. */
static sf_status check_report_path(const sf_gen_opts *c)
{
    struct stat r, m;
    if (c->report && stat(c->report, &r) == 0 && stat(c->model, &m) == 0 && r.st_dev == m.st_dev &&
        r.st_ino == m.st_ino)
        return sf_error(SF_EUSAGE, NULL, "--report %s is the model file: give another file name",
                        c->report);
    return SF_OK;
}

sf_status sf_gen_opts_check(const sf_gen_opts *c)
{
    if (!c->model)
        return sf_error(SF_EUSAGE, NULL, "no model file given");
    if (!c->inspect && !c->outdir)
        return sf_error(SF_EUSAGE, NULL, "no output folder given: use -o OUTDIR");
    if (c->external_weights && c->plan.target_cuda)
        return sf_error(SF_EUSAGE, NULL,
                        "--external-weights is for the CPU target only: drop it or --target cuda");
    if (c->inspect && (c->outdir || c->report || c->force))
        return sf_error(SF_EUSAGE, NULL, "inspect writes nothing: drop %s (use --json)",
                        c->outdir   ? "-o"
                        : c->report ? "--report"
                                    : "--force");
    sf_status s = check_report_path(c);
    if (s)
        return s;
    if (c->gpu_option && !c->plan.target_cuda)
        return sf_error(SF_EUSAGE, NULL, "%s applies to GPU code only: add --target cuda",
                        c->gpu_option);
    return SF_OK;
}

static void progress(const sf_gen_opts *c, const char *stage)
{
    if (!c->quiet && isatty(2))
        fprintf(stderr, "sfgen: %s...\n", stage);
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
    {"folding batch norms into convolutions", fold},           /* passes/fold.c */
    {"sparsity census", census},                               /* passes/spa.c */
    {"propagating zero and unused channels", propagate},       /* passes/spa.c */
    {"planning CPU kernels and the arena", plan_cpu},          /* backends/cpu/plan.c */
    {"planning CUDA kernels, fusions and scratch", plan_cuda}, /* backends/cuda/plan_cuda.c */
};

sf_status sf_generate(const sf_gen_opts *c, FILE *inspect_out)
{
    FILE *rep = inspect_out ? inspect_out : stdout;
    sf_graph g;
    progress(c, "loading and verifying");
    sf_status s = sf_graph_load_shapes(c->model, c->shapes, c->nshapes, &g);
    if (s)
        return s;
    struct stat r, w;
    if (c->report && stat(c->report, &r) == 0 && stat(g.weights_path, &w) == 0 &&
        r.st_dev == w.st_dev && r.st_ino == w.st_ino)
        s = sf_error(SF_EUSAGE, NULL, "--report %s is the weights file: give another file name",
                     c->report);
    for (size_t i = 0; i < sizeof k_passes / sizeof k_passes[0] && !s; i++) {
        progress(c, k_passes[i].name);
        s = k_passes[i].run(&g, c);
    }
    sf_blob blob;
    sf_buf_init(&blob.data);
    sf_files *fs = NULL;
    if (!s && c->inspect) {
        if (c->json) {
            /* packed like a generation, so the JSON is report.json's, field
             * for field (mask_hash, blob_bytes; README.md) */
            sf_buf b;
            sf_buf_init(&b);
            progress(c, "packing weights");
            s = sf_pack_graph(&g, &blob);
            if (!s)
                s = sf_report_json(&g, &blob, &b);
            if (!s)
                fwrite(b.data, 1, b.len, rep);
            sf_buf_free(&b);
        } else {
            sf_report_text(&g, rep);
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
    g.external_weights = c->external_weights;
    if (!s)
        s = sf_emit(&g, &blob, fs, c->threads);
    if (!s)
        s = sf_emit_check_names(&g, fs);
    if (!s) {
        sf_output_opts oo = {c->force, NULL, NULL};
        for (int i = 0; c->report && i < fs->n; i++)
            if (!strcmp(fs->f[i].name, "report.json")) {
                oo.report = c->report;
                oo.report_data = &fs->f[i].buf;
            }
        if (c->report && !oo.report)
            s = sf_error(SF_EINTERNAL, NULL, "no report.json was generated");
        if (!s)
            s = sf_output_write_opts(c->outdir, fs, &oo);
    }
    if (!s && !c->quiet) {
        sf_report_text(&g, stdout);
        size_t n = strlen(c->outdir);
        while (n > 1 && c->outdir[n - 1] == '/')
            n--;
        printf("\nwrote %.*s/ (%d files): run 'make -C %.*s' to build\n", (int)n, c->outdir, fs->n,
               (int)n, c->outdir);
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
