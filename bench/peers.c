/* peers.c - times the dense libraries SparseFlow is compared with, on the
 * product a linear layer computes: y[T][O] = x[T][K] . W[O][K]^T (row-major).
 *
 *   peers LIB O K T THREADS RUNS      LIB: onednn | openblas | membw | peak
 *   peers_blis blis O K T THREADS RUNS     (the same, built on BLIS)
 *
 * Prints `median_ms=<x> p90_ms=<y>` like a generated program's --bench, after
 * three warm-up runs. `membw` instead streams a 512 MiB buffer (sum of
 * floats) with THREADS threads and prints `gbps=<read bandwidth>`, the bound
 * for single-token layers whose weights come from memory; `peak` runs
 * register-only FMAs and prints `gflops=<fp32 peak>`. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <omp.h>
#ifndef PEERS_BLIS
#include <oneapi/dnnl/dnnl.h>
void openblas_set_num_threads(int num_threads);
#else
void bli_thread_set_num_threads(int64_t n_threads);
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static float *filled(size_t n, unsigned seed)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    for (size_t i = 0; p && i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
    return p;
}

static int membw(int threads, int runs)
{
    size_t n = (size_t)128 << 20; /* 512 MiB of floats */
    float *p = filled(n, 1);
    if (!p)
        return 1;
    double best = 0, *t = malloc(sizeof(double) * (size_t)runs);
    volatile float sink = 0;
    typedef float v16 __attribute__((vector_size(64)));
    const v16 *pv = (const v16 *)(void *)p;
    size_t nv = n / 16;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        float s = 0;
#pragma omp parallel num_threads(threads) reduction(+ : s)
        {
            /* eight independent sums: the loads, not the adds, set the pace */
            v16 a[8] = {{0}};
#pragma omp for schedule(static)
            for (size_t i = 0; i < nv / 8; i++)
                for (int j = 0; j < 8; j++)
                    a[j] += pv[8 * i + (size_t)j];
            for (int j = 1; j < 8; j++)
                a[0] += a[j];
            for (int j = 0; j < 16; j++)
                s += a[0][j];
        }
        t[r] = now_ms() - t0;
        sink += s;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    best = (double)n * sizeof(float) / (t[runs / 2] * 1e6);
    printf("gbps=%.2f\n", best);
    (void)sink;
    free(t);
    free(p);
    return 0;
}

/* Register-only FMAs on 16-lane vectors, 12 independent chains per thread:
 * the machine's fp32 peak, which the bench holds achieved GFLOP/s against. */
static int peak(int threads, int runs)
{
    typedef float v16 __attribute__((vector_size(64)));
    const long iters = 20000000;
    double *t = malloc(sizeof(double) * (size_t)runs);
    volatile float sink = 0;
    for (int r = 0; r < runs; r++) {
        double t0 = now_ms();
        float s = 0;
#pragma omp parallel num_threads(threads) reduction(+ : s)
        {
            v16 a[12], m = {0}, c = {0};
            for (int j = 0; j < 16; j++) {
                m[j] = 0.999999f;
                c[j] = 1e-7f;
            }
            for (int j = 0; j < 12; j++)
                a[j] = c * (float)j;
            for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
                for (int j = 0; j < 12; j++)
                    a[j] = a[j] * m + c;
                __asm__ volatile("" : "+v"(m), "+v"(c));
            }
            for (int j = 0; j < 12; j++)
                s += a[j][0];
        }
        t[r] = now_ms() - t0;
        sink += s;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    printf("gflops=%.1f\n", 2.0 * 16 * 12 * (double)iters * threads / (t[runs / 2] * 1e6));
    (void)sink;
    free(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: peers onednn|openblas|blis|membw|peak O K T THREADS RUNS\n");
        return 2;
    }
    const char *lib = argv[1];
    long O = atol(argv[2]), K = atol(argv[3]), T = atol(argv[4]);
    int threads = atoi(argv[5]), runs = atoi(argv[6]);
    if (O < 1 || K < 1 || T < 1 || threads < 1 || runs < 1) {
        fprintf(stderr, "peers: bad arguments\n");
        return 2;
    }
    if (!strcmp(lib, "membw"))
        return membw(threads, runs);
    if (!strcmp(lib, "peak"))
        return peak(threads, runs);
#ifndef PEERS_BLIS
    int onednn = !strcmp(lib, "onednn");
    if (!onednn && strcmp(lib, "openblas")) {
        fprintf(stderr, "peers: unknown library %s\n", lib);
        return 2;
    }
    /* each library gets the threads; the other one stays single-threaded so
     * that idle pool threads do not compete (run_bench.py also sets
     * OPENBLAS_NUM_THREADS / OMP_NUM_THREADS per library) */
    omp_set_num_threads(onednn ? threads : 1);
    openblas_set_num_threads(onednn ? 1 : threads);
#else
    const int onednn = 0;
    if (strcmp(lib, "blis")) {
        fprintf(stderr, "peers_blis: unknown library %s\n", lib);
        return 2;
    }
    bli_thread_set_num_threads(threads);
#endif
    float *x = filled((size_t)(T * K), 2), *w = filled((size_t)(O * K), 3);
    float *y = filled((size_t)(T * O), 4);
    double *t = malloc(sizeof(double) * (size_t)runs);
    if (!x || !w || !y || !t)
        return 3;
    for (int r = -3; r < runs; r++) {
        double t0 = now_ms();
        if (onednn) {
#ifndef PEERS_BLIS
            if (dnnl_sgemm('N', 'T', T, O, K, 1.0f, x, K, w, K, 0.0f, y, O) != dnnl_success)
                return 3;
#endif
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)O, (int)K, 1.0f, x,
                        (int)K, w, (int)K, 0.0f, y, (int)O);
        }
        if (r >= 0)
            t[r] = now_ms() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    double med = runs % 2 ? t[runs / 2] : 0.5 * (t[runs / 2 - 1] + t[runs / 2]);
    printf("median_ms=%.4f p90_ms=%.4f\n", med, t[(int)(0.9 * (runs - 1) + 0.5)]);
    return 0;
}
