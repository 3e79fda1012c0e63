/* fuzz_common.h - shared by the libFuzzer harnesses: a quiet diagnostics
 * sink, a fixed weights file in memory, and the generator pipeline after
 * verification (SPA, plan, pack, emit into memory). */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit/emitter.h"
#include "ir/graph.h"
#include "backends/cpu/pack.h"
#include "backends/cpu/plan.h"
#include "passes/spa.h"

static void fuzz_quiet(const char *line, void *ctx)
{
    (void)line;
    (void)ctx;
}

/* Appends one little-endian F32/F16/BF16 tensor entry to a header+data. */
typedef struct {
    char hdr[2048];
    size_t hlen;
    unsigned char data[8192];
    size_t dlen;
} st_builder;

static void st_add(st_builder *b, const char *name, const char *dtype, int rows, int cols,
                   uint32_t seed)
{
    size_t es = strcmp(dtype, "F32") ? 2 : 4, n = (size_t)rows * (size_t)(cols ? cols : 1);
    size_t begin = b->dlen;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        /* every other pair zero: a 2:4 pattern for the census to find */
        float v = (i & 2) ? 0.0f : (float)((int)(seed >> 24) - 128) / 64.0f;
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
    if (cols)
        snprintf(shape, sizeof shape, "[%d,%d]", rows, cols);
    else
        snprintf(shape, sizeof shape, "[%d]", rows);
    b->hlen +=
        (size_t)snprintf(b->hdr + b->hlen, sizeof b->hdr - b->hlen,
                         "%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
                         b->hlen > 1 ? "," : "", name, dtype, shape, begin, b->dlen);
}

/* Tensors the seeds refer to: the golden tiny model's names and shapes, and
 * a few more (names say shape) for matmul, other dtypes and sizes. */
static unsigned char *fuzz_weights(size_t *size)
{
    static st_builder b;
    b.hlen = 1;
    b.hdr[0] = '{';
    b.dlen = 0;
    st_add(&b, "fc1.weight", "F32", 6, 8, 1);
    st_add(&b, "fc1.bias", "F32", 6, 0, 2);
    st_add(&b, "fc2.weight", "F32", 3, 6, 3);
    st_add(&b, "fc2.bias", "F32", 3, 0, 4);
    st_add(&b, "w8x8", "F16", 8, 8, 5);
    st_add(&b, "w16x8", "BF16", 16, 8, 6);
    st_add(&b, "k8x4", "F32", 8, 4, 7);
    st_add(&b, "b8", "F32", 8, 0, 8);
    st_add(&b, "b16", "BF16", 16, 0, 9);
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

/* The fixed weights, made once; also silences the diagnostics. */
static const unsigned char *fuzz_setup(size_t *size)
{
    static unsigned char *weights;
    static size_t wsize;
    if (!weights)
        weights = fuzz_weights(&wsize);
    sf_diag_set_sink(fuzz_quiet, NULL);
    *size = wsize;
    return weights;
}

/* Everything after verification, in memory; frees the graph. */
static void fuzz_pipeline(sf_graph *g, int variant)
{
    static sf_files files;
    sf_spa_census(g);
    sf_spa_propagate(g, !(variant & 1));
    sf_plan_opts o = {.force_dense = (variant >> 1) & 1, .unroll_budget = (variant & 4) ? 0 : 64};
    sf_blob blob;
    sf_buf_init(&blob.data);
    if (sf_plan_graph(g, &o) == SF_OK && sf_pack_graph(g, &blob) == SF_OK) {
        sf_files_init(&files);
        sf_emit(g, &blob, &files, 0);
        sf_files_free(&files);
    }
    sf_blob_free(&blob);
    sf_graph_free(g);
}

#endif
