/* main.c - the sfgen command line (docs/CLI.md). Only this file exits. */
#include "driver.h"
#include "backends/cpu/kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: sfgen MODEL -o OUTDIR [options]   generate C/OpenMP source\n"
            "       sfgen inspect MODEL [--json] [options]   census and plan; writes nothing\n"
            "       sfgen kernels [--json]   the kernel variants --kernel accepts\n"
            "       sfgen ops                the ONNX ops the importer maps\n"
            "MODEL is a model JSON (with its safetensors weights) or an .onnx file\n"
            "       sfgen --help | --version\n"
            "options:\n"
            "  -o, --output DIR       output folder, written atomically; unchanged files are\n"
            "                         kept. An existing folder must be empty or sfgen's\n"
            "                         (holding a .sfgen file), unless --force\n"
            "  --force                write into an existing non-empty folder that sfgen did\n"
            "                         not write, replacing files of the generated names\n"
            "  --target T             cpu (default), cuda or cpu,cuda: cuda adds the CUDA\n"
            "                         library and program to the C/OpenMP sources\n"
            "  --gpu-dtype D          with --target cuda: GPU weights and tensor-core inputs:\n"
            "                         bf16 (default), f16, or f32 (CUDA cores only); fp32\n"
            "                         accumulation\n"
            "  --gpu-kernel K         with --target cuda: plan every GPU layer on dense\n"
            "                         (cuBLAS), sp24 (2:4 sparse tensor cores, where\n"
            "                         eligible) or ell (CUDA cores)\n"
            "  --threads N            thread count (1 to 4096) the generated program uses\n"
            "                         when its own --threads is not given; default: the\n"
            "                         OpenMP default (OMP_NUM_THREADS, else one per CPU).\n"
            "                         The plan is costed for N threads (1 without it)\n"
            "  --dense                plan every layer dense (for comparison)\n"
            "  --kernel K             plan every layer on kernel family K (dense, nm_unrolled,\n"
            "                         nm_compressed, nm24: 2:4 layers only) or on variant K\n"
            "                         of 'sfgen kernels'\n"
            "  --unroll-budget N      nonzeros per layer up to which kernels are fully\n"
            "                         mask-unrolled (default %d; 0 = never)\n"
            "  --no-propagate         skip dead-channel propagation\n"
            "  --max-arena BYTES      reject a model whose arena, key/value cache or CUDA\n"
            "                         scratch needs more (default 4G; K, M, G, T suffixes)\n"
            "  --static-arena BYTES   largest arena also kept as a static array for a NULL\n"
            "                         arena (default 256M; 0 = never)\n"
            "  --shape NAME=D0xD1x..  bind an ONNX input's shape (symbolic dimensions);\n"
            "                         D0 is the maximum batch\n"
            "  --external-weights     read the weights blob from a file at run time\n"
            "                         (<name>_load_weights) instead of linking it in\n"
            "  --report FILE.json     also write the JSON report there (before the folder)\n"
            "  -q, --quiet            do not print the census\n"
            "exit codes: 0 ok, 1 invalid input, 2 usage error, 3 internal error\n",
            SF_DEFAULT_UNROLL_BUDGET);
}

static sf_status parse_args(int argc, char **argv, sf_gen_opts *c, int *help)
{
    sf_gen_opts_init(c);
    *help = 0;
    int i = 1;
    if (argc > 1 && strcmp(argv[1], "inspect") == 0) {
        c->inspect = 1;
        i = 2;
    } else if (argc > 1 && strcmp(argv[1], "prune") == 0) {
        return sf_error(SF_EUSAGE, NULL, "'sfgen prune' is not available in this version");
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            return SF_OK;
        }
        if (a[0] == '-' && a[1]) {
            int took = 0;
            sf_status s = sf_gen_option(c, a, i + 1 < argc ? argv[i + 1] : NULL, &took);
            if (s)
                return s;
            i += took;
        } else if (!c->model) {
            c->model = a;
        } else {
            return sf_error(SF_EUSAGE, NULL, "unexpected argument '%s'", a);
        }
    }
    return sf_gen_opts_check(c);
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
                   "\"token_vectors\": %d, \"about\": \"%s\"}",
                   i ? "," : "", v[i].name, sf_kernel_name(v[i].family), v[i].row_block,
                   v[i].tile_vecs, v[i].about);
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
        if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            usage(stdout);
            return SF_OK;
        }
        if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json"))) {
            sf_error(SF_EUSAGE, NULL, "usage: sfgen kernels [--json]");
            return SF_EUSAGE;
        }
        return print_kernels(argc == 3);
    }
    if (argc > 1 && !strcmp(argv[1], "ops")) {
        if (argc != 2) {
            sf_error(SF_EUSAGE, NULL, "usage: sfgen ops");
            return SF_EUSAGE;
        }
        /* the ONNX ops the importer maps, one per line (docs/CLI.md) */
        char list[4000];
        sf_onnx_op_list(list, sizeof list);
        for (char *p = list; *p; p++)
            if (*p == ',' && p[1] == ' ')
                *p = '\n', p[1] = '\r';
        for (char *p = list; *p; p++)
            if (*p != '\r')
                putchar(*p);
        putchar('\n');
        return SF_OK;
    }
    sf_gen_opts c;
    int help;
    sf_status s = parse_args(argc, argv, &c, &help);
    if (!s && help) {
        usage(stdout);
        return SF_OK;
    }
    if (s == SF_EUSAGE) {
        /* the one-line error above says what is wrong; the options are a
         * command away (docs/CLI.md, "Messages") */
        fprintf(stderr, "sfgen: see 'sfgen --help' for the usage and options\n");
        return s;
    }
    if (s)
        return s;
    s = sf_generate(&c, NULL);
    sf_gen_opts_free(&c);
    if (s == SF_EUSAGE)
        fprintf(stderr, "sfgen: see 'sfgen --help' for the usage and options\n");
    return s;
}
