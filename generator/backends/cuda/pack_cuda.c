/* pack_cuda.c - a linear layer's GPU sections of the weights blob, in the
 * format its CUDA kernel reads (docs/FORMATS.md, "GPU sections"):
 *
 *   dense  W [O][Kp] in the GPU dtype (Kp: K rounded up to 32 for bf16/f16,
 *          K for f32), zero-padded
 *   sp24   the 2:4 tiles of sp24.h: values, then metadata
 *   ell    values in the GPU dtype, then indices, both [S8][OP][8]: slot s
 *          of row r at ((s / 8) * OP + r) * 8 + s % 8, S8 = S / 8 rounded up,
 *          OP = O rounded up to 32. Indices: with N:M positions (group_n N,
 *          group_m M) slots jN..jN+N-1 hold group j's nonzeros and a uint8
 *          position in the group; else the row's nonzeros in order with
 *          their column (uint16 when K <= 65536, else int32). Unused slots
 *          hold value 0 and index 0.
 *   bias   [O] f32, for every kernel (absent bias: zeros)
 *
 * Columns that SPA showed cannot contribute are packed as zero weights. */
#include "backends/cuda/cuda.h"
#include "backends/cuda/sp24.h"

#include <string.h>

static int put(sf_buf *b, const void *p, size_t n)
{
    return sf_buf_append(b, p, n);
}

/* Zeroed temporary memory (sf_malloc: the tests' allocation hook sees it). */
static void *zalloc(size_t n, size_t size)
{
    size_t bytes;
    if (sf_mul_size(n, size, &bytes))
        return NULL;
    void *p = sf_malloc(bytes ? bytes : 1);
    if (p)
        memset(p, 0, bytes);
    return p;
}

static int put_value(sf_buf *b, sf_gpu_dtype d, float v)
{
    if (d == SF_GPU_F32)
        return put(b, &v, 4);
    uint16_t h = sf_f32_to_half(d == SF_GPU_BF16 ? SF_HALF_BF16 : SF_HALF_F16, v);
    return put(b, &h, 2);
}

static int pack_layer(const sf_linear *L, const unsigned char *colmask, sf_gpu_dtype dt, sf_buf *b,
                      sf_gplan *gp)
{
    const int64_t O = L->out, K = L->in;
    float *w = zalloc((size_t)(O * K), sizeof *w);
    void *t1 = NULL, *t2 = NULL; /* the format's temporaries */
    int fail = !w;
    if (fail)
        goto done;
    for (int64_t r = 0; r < O; r++)
        for (int64_t k = 0; k < K; k++)
            w[r * K + k] = colmask[k] ? L->w[r * K + k] : 0.0f;
    fail = sf_buf_pad(b, 256);
    gp->off_w = b->len;
    if (gp->kernel == SF_G_DENSE) {
        for (int64_t r = 0; r < O && !fail; r++)
            for (int64_t k = 0; k < gp->Kp && !fail; k++)
                fail = put_value(b, dt, k < K ? w[r * K + k] : 0.0f);
        gp->off_idx = gp->off_w;
    } else if (gp->kernel == SF_G_SP24) {
        size_t tiles = (size_t)(gp->Op / SF_SP24_TILE_ROWS * (gp->Kp / SF_SP24_TILE_COLS));
        uint16_t *values = t1 = zalloc(tiles * SF_SP24_TILE_VALUES, 2);
        uint32_t *meta = t2 = zalloc(tiles * SF_SP24_TILE_WORDS, 4);
        int64_t br, bc;
        fail = !values || !meta ||
               sf_sp24_encode(w, O, K, dt == SF_GPU_BF16 ? SF_HALF_BF16 : SF_HALF_F16, values, meta,
                              &br, &bc); /* the planner checked eligibility */
        fail = fail || put(b, values, tiles * SF_SP24_TILE_VALUES * 2) || sf_buf_pad(b, 256);
        gp->off_idx = b->len;
        fail = fail || put(b, meta, tiles * SF_SP24_TILE_WORDS * 4);
    } else {
        const int64_t OP = (O + 31) / 32 * 32, n8 = (gp->slots + 7) / 8 * 8 * OP;
        int32_t *idx = t1 = zalloc((size_t)n8, sizeof *idx);
        float *val = t2 = zalloc((size_t)n8, sizeof *val);
        if (!idx || !val) {
            fail = 1;
            goto done;
        }
        for (int64_t r = 0; r < O; r++) {
            int64_t s = 0, group = -1;
            for (int64_t k = 0; k < K; k++) {
                if (gp->group_n && k / gp->group_m != group) { /* next group's first slot */
                    group = k / gp->group_m;
                    s = group * gp->group_n;
                }
                if (w[r * K + k] == 0.0f)
                    continue;
                const int64_t at = (s / 8 * OP + r) * 8 + s % 8;
                val[at] = w[r * K + k];
                idx[at] = (int32_t)(gp->group_n ? k % gp->group_m : k);
                s++;
            }
        }
        for (int64_t i = 0; i < n8 && !fail; i++)
            fail = put_value(b, dt, val[i]);
        fail = fail || sf_buf_pad(b, 256);
        gp->off_idx = b->len;
        for (int64_t i = 0; i < n8 && !fail; i++) {
            if (gp->idx_bytes == 1) {
                uint8_t i8 = (uint8_t)idx[i];
                fail = put(b, &i8, 1);
            } else if (gp->idx_bytes == 2) {
                uint16_t i16 = (uint16_t)idx[i];
                fail = put(b, &i16, 2);
            } else {
                fail = put(b, &idx[i], 4);
            }
        }
    }
    fail = fail || sf_buf_pad(b, 256);
    gp->off_bias = b->len;
    for (int64_t r = 0; r < O && !fail; r++) {
        float v = L->bias ? L->bias[r] : 0.0f;
        fail = put(b, &v, 4);
    }
done:
    sf_free(w);
    sf_free(t1);
    sf_free(t2);
    return fail ? -1 : 0;
}

/* The CUDA backend's sections, after the CPU backend's: each linear layer's
 * in its GPU kernel's format; the kernel and layout join the mask hash. */
sf_status sf_pack_cuda(sf_graph *g, sf_blob *blob)
{
    for (int oi = 0; oi < g->nsteps; oi++) {
        sf_linear *L = g->nodes[g->order[oi]].lin;
        if (!L)
            continue;
        unsigned char *colmask = sf_arena_alloc(&g->arena, (size_t)L->in);
        if (!colmask || (sf_plan_col_mask(sf_cpu_plan(g, L), colmask),
                         pack_layer(L, colmask, g->gpu_dtype, &blob->data, sf_cuda_gplan(g, L))))
            return sf_error(SF_EINTERNAL, NULL, "out of memory");
        const sf_gplan *gp = sf_cuda_gplan(g, L);
        int gk[5] = {(int)gp->kernel, gp->slots, (int)g->gpu_dtype, gp->group_n, gp->group_m};
        blob->mask_hash = sf_hash_fnv1a(blob->mask_hash, gk, sizeof gk);
    }
    return SF_OK;
}
