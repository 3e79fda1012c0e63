/* main.c - the sfgen command line (docs/CLI.md). Only this file exits. */
#include "driver.h"
#include "backends/cpu/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sfgen MODEL.json -o OUTDIR [options]   generate C/OpenMP source\n"
            "       sfgen inspect MODEL.json [--json] [options]   census and plan; writes nothing\n"
            "       sfgen kernels [--json]   the kernel variants --kernel accepts\n"
            "       sfgen --help | --version\n"
            "options:\n"
            "  -o, --output DIR       output folder (replaced atomically; unchanged files kept)\n"
            "  --target T             cpu (default), cuda or cpu,cuda: cuda adds the CUDA\n"
            "                         library and program to the C/OpenMP sources\n"
            "  --gpu-dtype D          GPU weights and tensor-core inputs: bf16 (default),\n"
            "                         f16, or f32 (CUDA cores only); fp32 accumulation\n"
            "  --gpu-kernel K         plan every GPU layer on dense (cuBLAS), sp24 (2:4\n"
            "                         sparse tensor cores, where eligible) or ell (CUDA cores)\n"
            "  --threads N            default thread count of the generated program; the\n"
            "                         plan is costed for it (default 1)\n"
            "  --dense                plan every layer dense (for comparison)\n"
            "  --kernel K             plan every layer on kernel family K (dense, nm_unrolled,\n"
            "                         nm_compressed, nm24: 2:4 layers only) or on variant K\n"
            "                         of 'sfgen kernels'\n"
            "  --unroll-budget N      nonzeros per layer up to which kernels are fully\n"
            "                         mask-unrolled (default %d; 0 = never)\n"
            "  --no-propagate         skip dead-channel propagation\n"
            "  --report FILE.json     also write the JSON report there\n"
            "  -q, --quiet            do not print the census\n"
            "exit codes: 0 ok, 1 invalid input, 2 usage error, 3 internal error\n",
            SF_DEFAULT_UNROLL_BUDGET);
}

static int parse_uint(const char *s, long long max, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static sf_status parse_args(int argc, char **argv, sf_gen_opts *c)
{
    memset(c, 0, sizeof *c);
    c->propagate = 1;
    c->plan.unroll_budget = SF_DEFAULT_UNROLL_BUDGET;
    int i = 1;
    if (argc > 1 && strcmp(argv[1], "inspect") == 0) {
        c->inspect = 1;
        i = 2;
    } else if (argc > 1 && strcmp(argv[1], "prune") == 0) {
        return sf_error(SF_EUSAGE, NULL, "'sfgen prune' is not available in this version");
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        long long v;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!has)
                return sf_error(SF_EUSAGE, NULL, "%s needs a folder name", a);
            c->outdir = argv[++i];
        } else if (!strcmp(a, "--report")) {
            if (!has)
                return sf_error(SF_EUSAGE, NULL, "--report needs a file name");
            c->report = argv[++i];
        } else if (!strcmp(a, "--target")) {
            if (!has)
                return sf_error(SF_EUSAGE, NULL, "--target needs a value");
            const char *t = argv[++i];
            if (!strcmp(t, "cuda") || !strcmp(t, "cpu,cuda") || !strcmp(t, "cuda,cpu"))
                c->plan.target_cuda = 1;
            else if (strcmp(t, "cpu") != 0)
                return sf_error(SF_EUSAGE, NULL, "--target %s: expected cpu, cuda or cpu,cuda",
                                t);
        } else if (!strcmp(a, "--gpu-dtype")) {
            const char *t = has ? argv[++i] : "";
            if (!strcmp(t, "bf16"))
                c->plan.gpu_dtype = SF_GPU_BF16;
            else if (!strcmp(t, "f16"))
                c->plan.gpu_dtype = SF_GPU_F16;
            else if (!strcmp(t, "f32"))
                c->plan.gpu_dtype = SF_GPU_F32;
            else
                return sf_error(SF_EUSAGE, NULL, "--gpu-dtype needs bf16, f16 or f32");
        } else if (!strcmp(a, "--gpu-kernel")) {
            const char *t = has ? argv[++i] : "";
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
            if (!has || parse_uint(argv[++i], 4096, &v) || v < 1)
                return sf_error(SF_EUSAGE, NULL, "--threads needs an integer 1..4096");
            c->threads = (int)v;
        } else if (!strcmp(a, "--unroll-budget")) {
            if (!has || parse_uint(argv[++i], 1LL << 40, &v))
                return sf_error(SF_EUSAGE, NULL, "--unroll-budget needs a non-negative integer");
            c->plan.unroll_budget = (size_t)v;
        } else if (!strcmp(a, "--kernel")) {
            const char *k = has ? argv[++i] : "";
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
                return sf_error(SF_EUSAGE, NULL, "--kernel needs dense, nm_unrolled, "
                                "nm_compressed, nm24 or a variant of 'sfgen kernels'");
        } else if (!strcmp(a, "--dense")) {
            c->plan.force_dense = 1;
        } else if (!strcmp(a, "--no-propagate")) {
            c->propagate = 0;
        } else if (!strcmp(a, "--json") && c->inspect) {
            c->json = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            c->quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            return sf_error(SF_EUSAGE, NULL, "unknown option '%s' (see sfgen --help)", a);
        } else if (!c->model) {
            c->model = a;
        } else {
            return sf_error(SF_EUSAGE, NULL, "unexpected argument '%s'", a);
        }
    }
    if (!c->model)
        return sf_error(SF_EUSAGE, NULL, "no model file given (see sfgen --help)");
    if (!c->inspect && !c->outdir)
        return sf_error(SF_EUSAGE, NULL, "no output folder given: use -o OUTDIR");
    if (c->inspect && (c->outdir || c->report))
        return sf_error(SF_EUSAGE, NULL, "inspect writes nothing: drop %s (use --json)",
                        c->outdir ? "-o" : "--report");
    return SF_OK;
}

/* The registry, for users, tests and benchmarks: one variant per line
 * (name, family, R, TB, about) or a JSON array. */
static int print_kernels(int json)
{
    int n;
    const sf_variant *v = sf_variant_list(&n);
    if (json)
        printf("[");
    for (int i = 0; i < n; i++) {
        if (json)
            printf("%s\n  {\"name\": \"%s\", \"family\": \"%s\", \"rows\": %d, "
                   "\"token_vectors\": %d, \"about\": \"%s\"}", i ? "," : "", v[i].name,
                   sf_kernel_name(v[i].family), v[i].row_block, v[i].tile_vecs, v[i].about);
        else
            printf("%-24s %-14s R=%-2d TB=%d  %s\n", v[i].name, sf_kernel_name(v[i].family),
                   v[i].row_block, v[i].tile_vecs, v[i].about);
    }
    if (json)
        printf("\n]\n");
    return SF_OK;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return SF_OK;
    }
    if (argc > 1 && !strcmp(argv[1], "--version")) {
        printf("sfgen %s\n", SF_VERSION);
        return SF_OK;
    }
    if (argc > 1 && !strcmp(argv[1], "kernels")) {
        if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json"))) {
            sf_error(SF_EUSAGE, NULL, "usage: sfgen kernels [--json]");
            return SF_EUSAGE;
        }
        return print_kernels(argc == 3);
    }
    sf_gen_opts c;
    sf_status s = parse_args(argc, argv, &c);
    if (s == SF_EUSAGE) {
        usage(stderr);
        return s;
    }
    if (s)
        return s;
    return sf_generate(&c);
}
