/* fuzz_common.h - shared by the libFuzzer harnesses: a quiet diagnostics
 * sink, a fixed weights file in memory, and the generator pipeline after
 * verification (fold, SPA, CPU and CUDA plans, pack, emit into memory). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit/emitter.h"
#include "ir/graph.h"
#include "backends/cpu/pack.h"
#include "backends/cpu/plan.h"
#include "backends/cuda/cuda.h"
#include "passes/passes.h"
#include "passes/spa.h"

static void fuzz_quiet(const char *line, void *ctx)
{
    (void)line;
    (void)ctx;
}

/* Appends one little-endian F32/F16/BF16 tensor entry (rank 1 to 4) to a
 * header+data. Values by `kind`: K_24 every other pair of the flattened
 * tensor zero (a 2:4 pattern along each row whose length is a multiple of
 * 4), K_POS all positive (batch-norm variances), K_DENSE no zero, K_ZROWS
 * 2:4 with every third row zero (channels for SPA to find), K_18 one
 * nonzero in every 8 (N:M with a larger M for the ELL layouts). */
enum { K_24, K_POS, K_DENSE, K_ZROWS, K_18 };

typedef struct {
    char hdr[4096];
    size_t hlen;
    unsigned char data[65536];
    size_t dlen;
} st_builder;

static void st_add(st_builder *b, const char *name, const char *dtype, int kind, int rank,
                   const int *dims, uint32_t seed)
{
    size_t es = strcmp(dtype, "F32") ? 2 : 4, n = 1;
    for (int d = 0; d < rank; d++)
        n *= (size_t)dims[d];
    size_t row = n / (size_t)dims[0], begin = b->dlen;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        float v = (float)((int)(seed >> 24) - 128) / 64.0f;
        if (v == 0.0f || kind == K_POS)
            v = fabsf(v) + 0.25f;
        if ((kind == K_24 || kind == K_ZROWS) && (i & 2))
            v = 0.0f;
        if (kind == K_ZROWS && (i / row) % 3 == 0)
            v = 0.0f;
        if (kind == K_18 && (i % row) % 8 != (i / row) % 8)
            v = 0.0f;
        uint32_t u;
        memcpy(&u, &v, 4);
        if (es == 4) {
            memcpy(b->data + b->dlen, &u, 4);
        } else {
            uint16_t h = (uint16_t)(u >> 16); /* bf16; for F16 any bits are a value */
            memcpy(b->data + b->dlen, &h, 2);
        }
        b->dlen += es;
    }
    char shape[64];
    int at = snprintf(shape, sizeof shape, "[%d", dims[0]);
    for (int d = 1; d < rank; d++)
        at += snprintf(shape + at, sizeof shape - (size_t)at, ",%d", dims[d]);
    snprintf(shape + at, sizeof shape - (size_t)at, "]");
    b->hlen +=
        (size_t)snprintf(b->hdr + b->hlen, sizeof b->hdr - b->hlen,
                         "%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
                         b->hlen > 1 ? "," : "", name, dtype, shape, begin, b->dlen);
}

#define ST(name, dtype, kind, seed, ...)                                                   \
    do {                                                                                   \
        static const int dims_[] = {__VA_ARGS__};                                          \
        st_add(&b, name, dtype, kind, (int)(sizeof dims_ / sizeof dims_[0]), dims_, seed); \
    } while (0)

/* Tensors the seeds refer to (docs/FUZZING.md): the
 * golden tiny model's names and shapes, and more whose names say their
 * shape, for every op that reads weights (conv kernels are rank 4). */
static unsigned char *fuzz_weights(size_t *size)
{
    static st_builder b;
    b.hlen = 1;
    b.hdr[0] = '{';
    b.dlen = 0;
    ST("fc1.weight", "F32", K_24, 1, 6, 8);
    ST("fc1.bias", "F32", K_24, 2, 6);
    ST("fc2.weight", "F32", K_24, 3, 3, 6);
    ST("fc2.bias", "F32", K_24, 4, 3);
    ST("w8x8", "F16", K_24, 5, 8, 8);
    ST("w16x8", "BF16", K_24, 6, 16, 8);
    ST("k8x4", "F32", K_24, 7, 8, 4);
    ST("b8", "F32", K_24, 8, 8);
    ST("b16", "BF16", K_24, 9, 16);
    ST("c8x4x3x3", "F32", K_24, 10, 8, 4, 3, 3);
    ST("c8x1x3x3", "F32", K_DENSE, 11, 8, 1, 3, 3);
    ST("c16x8x1x1", "F16", K_ZROWS, 12, 16, 8, 1, 1);
    ST("c8x2x1x2", "BF16", K_24, 13, 8, 2, 1, 2);
    ST("mean8", "F32", K_DENSE, 14, 8);
    ST("var8", "F32", K_POS, 15, 8);
    ST("g8", "F32", K_POS, 16, 8);
    ST("emb32x8", "F32", K_DENSE, 17, 32, 8);
    ST("d8x8", "F32", K_DENSE, 18, 8, 8);
    ST("z8x8", "F32", K_ZROWS, 19, 8, 8);
    ST("s40x64", "F32", K_18, 20, 40, 64);
    ST("w24x64", "F16", K_24, 21, 24, 64);
    ST("b24", "F32", K_DENSE, 22, 24);
    ST("d8x32", "BF16", K_DENSE, 23, 8, 32);
    ST("r1x8", "F16", K_ZROWS, 24, 1, 8); /* a constant: first dimension 1 */
    b.hdr[b.hlen++] = '}';
    size_t total = 8 + b.hlen + b.dlen;
    unsigned char *img = malloc(total);
    uint64_t hl = b.hlen;
    for (int i = 0; i < 8; i++)
        img[i] = (unsigned char)(hl >> (8 * i));
    memcpy(img + 8, b.hdr, b.hlen);
    memcpy(img + 8 + b.hlen, b.data, b.dlen);
    *size = total;
    return img;
}

static void fuzz_loud(const char *line, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

/* The fixed weights, made once; also silences the diagnostics (FUZZ_VERBOSE
 * in the environment prints them: what a seed is rejected for). */
static const unsigned char *fuzz_setup(size_t *size)
{
    static unsigned char *weights;
    static size_t wsize;
    if (!weights)
        weights = fuzz_weights(&wsize);
    sf_diag_set_sink(getenv("FUZZ_VERBOSE") ? fuzz_loud : fuzz_quiet, NULL);
    *size = wsize;
    return weights;
}

/* Options of one pipeline run, from one byte:
 *   bit 0  --no-propagate        bit 1  --dense
 *   bit 2  --unroll-budget 0     bit 3  --target cuda
 *   bits 4-5  --gpu-dtype bf16, f16, f32, bf16
 *   bits 6-7  --gpu-kernel none, dense, sp24, ell */
static sf_plan_opts fuzz_opts(int variant)
{
    sf_plan_opts o = {.force_dense = (variant >> 1) & 1,
                      .unroll_budget = (variant & 4) ? 0 : 64,
                      .target_cuda = (variant >> 3) & 1};
    static const sf_gpu_dtype dt[4] = {SF_GPU_BF16, SF_GPU_F16, SF_GPU_F32, SF_GPU_BF16};
    o.gpu_dtype = dt[(variant >> 4) & 3];
    if ((variant >> 6) & 3) {
        o.gpu_force = 1;
        o.gpu_forced = (sf_gkernel)(((variant >> 6) & 3) - 1);
    }
    return o;
}

/* Called after packing, before emitting (the CUDA harness checks the blob). */
typedef void (*fuzz_check_fn)(const sf_graph *g, const sf_blob *blob);

/* Everything after verification, as the driver runs it (generator/driver.c),
 * in memory; frees the graph. */
static void fuzz_pipeline_check(sf_graph *g, int variant, fuzz_check_fn check)
{
    static sf_files files;
    sf_plan_opts o = fuzz_opts(variant);
    sf_blob blob;
    sf_buf_init(&blob.data);
    if (sf_pass_fold_batchnorm(g) == SF_OK) {
        sf_spa_census(g);
        sf_spa_propagate(g, !(variant & 1));
        if (sf_plan_graph(g, &o) == SF_OK && sf_plan_cuda_graph(g, &o) == SF_OK &&
            sf_pack_graph(g, &blob) == SF_OK) {
            if (check)
                check(g, &blob);
            sf_files_init(&files);
            sf_emit(g, &blob, &files, 0);
            sf_files_free(&files);
        }
    }
    sf_blob_free(&blob);
    sf_graph_free(g);
}

static void fuzz_pipeline(sf_graph *g, int variant)
{
    fuzz_pipeline_check(g, variant, NULL);
}

#endif
