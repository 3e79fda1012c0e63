/* pack.c - writes weights in the formats the plan chose (DESIGN §2 "pack").
 *
 * dense:        bias[nrb*R], w[nrb][ncols][R] (rows padded with zeros),
 *               rows[nrows], cols[ncols] (int32)
 * nm_unrolled:  per row block: bias of its rows, then nonzeros in the order
 *               of sf_plan_walk_unrolled (the code holds the indices)
 * nm_compressed: ELL per block of R rows: bias[nrb*R], val[slots][R],
 *               col[slots][R] (uint16 when in <= 65536, else int32),
 *               slot offset of each block[nrb+1], rows[nrows]
 * every kernel: zero_rows[nzero_rows] (int32), outputs written as 0 */
#include "backends/cpu/pack.h"
#include "backends/cpu/plan.h"

#include <string.h>

static sf_status oom(void)
{
    return sf_error(SF_EINTERNAL, NULL, "out of memory");
}

static int put_f32(sf_buf *b, float v)
{
    return sf_buf_append(b, &v, sizeof v);
}
static int put_i32(sf_buf *b, int32_t v)
{
    return sf_buf_append(b, &v, sizeof v);
}

static int put_i32s(sf_buf *b, const int *v, int n)
{
    for (int i = 0; i < n; i++)
        if (put_i32(b, v[i]))
            return -1;
    return 0;
}

static float bias_of(const sf_linear *L, int row)
{
    return L->bias ? L->bias[row] : 0.0f;
}

typedef struct {
    sf_buf *b;
    const sf_linear *L;
    int fail;
} walk_ctx;

static void pack_fma(void *ctx, int r, int k, float w, size_t widx)
{
    (void)r;
    (void)k;
    (void)widx;
    walk_ctx *c = ctx;
    if (put_f32(c->b, w))
        c->fail = 1;
}

static int pack_dense(sf_buf *b, const sf_linear *L, const sf_plan *p)
{
    int R = p->row_block, nrb = (p->nrows + R - 1) / R;
    for (int i = 0; i < nrb * R; i++)
        if (put_f32(b, i < p->nrows ? bias_of(L, p->rows[i]) : 0.0f))
            return -1;
    for (int rb = 0; rb < nrb; rb++)
        for (int kk = 0; kk < p->ncols; kk++)
            for (int r = 0; r < R; r++) {
                int i = rb * R + r;
                float v = i < p->nrows ? L->w[(int64_t)p->rows[i] * L->in + p->cols[kk]] : 0.0f;
                if (put_f32(b, v))
                    return -1;
            }
    return 0;
}

static int pack_unrolled(sf_buf *b, const sf_linear *L, const sf_plan *p)
{
    int R = p->row_block, nrb = (p->nrows + R - 1) / R;
    static const sf_walk_visitor v = {NULL, NULL, pack_fma};
    for (int rb = 0; rb < nrb; rb++) {
        int r1 = (rb + 1) * R < p->nrows ? (rb + 1) * R : p->nrows;
        for (int i = rb * R; i < r1; i++)
            if (put_f32(b, bias_of(L, p->rows[i])))
                return -1;
        walk_ctx c = {b, L, 0};
        sf_plan_walk_unrolled(L, p, rb, &v, &c);
        if (c.fail)
            return -1;
    }
    return 0;
}

/* Compressed, ELL per row block: slot s of row r holds the s-th nonzero of
 * the row (k ascending) or a zero weight at column 0 when the row has fewer
 * than the block's widest row. Rows of a block are interleaved so the kernel
 * keeps R independent accumulators. */
static int pack_compressed(sf_buf *b, const sf_linear *L, const unsigned char *colmask, sf_plan *p)
{
    int R = p->row_block, nrb = (p->nrows + R - 1) / R;
    if (R > SF_ROW_BLOCK_COMPRESSED_MAX)
        return -1;
    int32_t *width = sf_malloc(sizeof(int32_t) * (size_t)(nrb + 1));
    int fail = !width;
    for (int rb = 0; rb < nrb && !fail; rb++) {
        width[rb] = 0;
        for (int i = rb * R; i < (rb + 1) * R && i < p->nrows; i++) {
            const float *row = L->w + (int64_t)p->rows[i] * L->in;
            int32_t n = 0;
            for (int64_t k = 0; k < L->in; k++)
                n += row[k] != 0.0f && colmask[k];
            if (n > width[rb])
                width[rb] = n;
        }
    }
    /* bias[nrb*R], then val[sum(width)*R] */
    for (int i = 0; i < nrb * R && !fail; i++)
        fail = put_f32(b, i < p->nrows ? bias_of(L, p->rows[i]) : 0.0f);
    for (int pass = 0; pass < 2 && !fail; pass++) { /* 0: values, 1: indices */
        if (pass) {
            fail = sf_buf_pad(b, 64);
            p->off_col = b->len;
        }
        for (int rb = 0; rb < nrb && !fail; rb++) {
            /* walk each row's nonzeros slot by slot */
            int64_t pos[SF_ROW_BLOCK_COMPRESSED_MAX];
            for (int r = 0; r < R; r++)
                pos[r] = 0;
            for (int32_t s = 0; s < width[rb] && !fail; s++)
                for (int r = 0; r < R && !fail; r++) {
                    int i = rb * R + r;
                    float v = 0.0f;
                    int64_t k = 0;
                    if (i < p->nrows) {
                        const float *row = L->w + (int64_t)p->rows[i] * L->in;
                        while (pos[r] < L->in && !(row[pos[r]] != 0.0f && colmask[pos[r]]))
                            pos[r]++;
                        if (pos[r] < L->in) {
                            k = pos[r];
                            v = row[k];
                            pos[r]++;
                        }
                    }
                    if (pass == 0) {
                        fail = put_f32(b, v);
                    } else if (p->col_u16) {
                        uint16_t c = (uint16_t)k;
                        fail = sf_buf_append(b, &c, sizeof c);
                    } else {
                        fail = put_i32(b, (int32_t)k);
                    }
                }
        }
    }
    /* slot offsets of each block (prefix sums of the widths) */
    fail = fail || sf_buf_pad(b, 64);
    p->off_rowptr = b->len;
    int32_t acc = 0;
    for (int rb = 0; rb <= nrb && !fail; rb++) {
        fail = put_i32(b, acc);
        if (rb < nrb)
            acc += width[rb];
    }
    fail = fail || sf_buf_pad(b, 64);
    p->off_rows = b->len;
    fail = fail || put_i32s(b, p->rows, p->nrows);
    sf_free(width);
    return fail ? -1 : 0;
}

/* One chunk of 2:4 row `row` (NULL: padding): inputs 32c.., 2 slots per
 * group of 4; slot j holds a value and its 2-bit position p (input
 * 32c + 4 (j / 2) + p). Groups with fewer than 2 nonzeros, and slots past
 * the last group, hold 0 at p = 0. */
static uint32_t nm24_chunk(const sf_linear *L, const float *row, const unsigned char *colmask,
                           int64_t c, float val[16])
{
    uint32_t code = 0;
    for (int j = 0; j < 16; j++)
        val[j] = 0.0f;
    for (int g = 0; g < 8 && row; g++)
        for (int q = 0, s = 0; q < 4; q++) {
            int64_t k = 32 * c + 4 * g + q;
            if (k < L->in && row[k] != 0.0f && colmask[k] && s < 2) {
                val[2 * g + s] = row[k];
                code |= (uint32_t)q << (2 * (2 * g + s));
                s++;
            }
        }
    return code;
}

/* 2:4 stream (linear_nm24.c.in): bias[R2] (rows padded to an even count),
 * then each pair of rows as one stream of super-chunks of up to 8 chunks
 * of 32 inputs: a 64-byte line of codes (u32 [2][8]: row, chunk), then the
 * values, 64 bytes per chunk and row, the two rows' chunks side by side.
 * A pair's bytes: NSUPER * 64 + CHUNKS * 128. Then rows. */
static int pack_nm24(sf_buf *b, const sf_linear *L, const unsigned char *colmask, sf_plan *p)
{
    int64_t chunks = (L->in + 31) / 32;
    int r2 = (p->nrows + 1) / 2 * 2;
    int fail = 0;
    for (int i = 0; i < r2 && !fail; i++)
        fail = put_f32(b, i < p->nrows ? bias_of(L, p->rows[i]) : 0.0f);
    fail = fail || sf_buf_pad(b, 64);
    p->off_col = b->len;
    for (int i = 0; i < r2 && !fail; i += 2) {
        const float *row[2];
        for (int q = 0; q < 2; q++)
            row[q] = i + q < p->nrows ? L->w + (int64_t)p->rows[i + q] * L->in : NULL;
        for (int64_t c0 = 0; c0 < chunks && !fail; c0 += 8) {
            int n = chunks - c0 < 8 ? (int)(chunks - c0) : 8;
            uint32_t code[2][8] = {{0}};
            float val[8][2][16];
            for (int j = 0; j < n; j++)
                for (int q = 0; q < 2; q++)
                    code[q][j] = nm24_chunk(L, row[q], colmask, c0 + j, val[j][q]);
            fail = sf_buf_append(b, code, sizeof code) ||
                   sf_buf_append(b, val, sizeof(float) * 32 * (size_t)n);
        }
    }
    fail = fail || sf_buf_pad(b, 64);
    p->off_rows = b->len;
    return fail || put_i32s(b, p->rows, p->nrows);
}

static uint64_t mask_hash_layer(uint64_t h, const sf_linear *L, const sf_plan *p)
{
    int32_t hdr[9] = {(int32_t)p->kernel, p->nrows,     p->ncols,        p->nzero_rows, p->m,
                      p->row_block,       p->tile_vecs, (int32_t)L->out, (int32_t)L->in};
    h = sf_hash_fnv1a(h, hdr, sizeof hdr);
    h = sf_hash_fnv1a(h, p->rows, sizeof(int) * (size_t)p->nrows);
    h = sf_hash_fnv1a(h, p->cols, sizeof(int) * (size_t)p->ncols);
    h = sf_hash_fnv1a(h, p->zero_rows, sizeof(int) * (size_t)p->nzero_rows);
    if (p->kernel != SF_K_DENSE)
        for (int i = 0; i < p->nrows; i++) {
            const float *row = L->w + (int64_t)p->rows[i] * L->in;
            for (int c = 0; c < p->ncols; c++) {
                unsigned char nz = row[p->cols[c]] != 0.0f;
                h = sf_hash_fnv1a(h, &nz, 1);
            }
        }
    return h;
}

/* The CPU backend's sections: each step's weights (norm scales, tables),
 * then each linear layer's in the format its kernel reads. */
sf_status sf_pack_cpu(sf_graph *g, sf_blob *blob)
{
    sf_buf *b = &blob->data;
    for (int oi = 0; oi < g->nsteps; oi++) {
        sf_node *n = &g->nodes[g->order[oi]];
        for (int j = 0; j < n->ncst && !n->folded; j++) { /* norm scales, tables */
            int64_t cnt = n->cst[j].n;
            if (!cnt)
                continue; /* an absent bias: the code passes NULL */
            if (sf_buf_pad(b, 64))
                return oom();
            n->cst[j].off = b->len;
            if (sf_buf_append(b, n->cst[j].data, sizeof(float) * (size_t)cnt))
                return oom();
            blob->mask_hash = sf_hash_fnv1a(blob->mask_hash, &cnt, sizeof cnt);
        }
        if (!n->lin)
            continue;
        sf_linear *L = n->lin;
        sf_plan *p = sf_cpu_plan(g, L);
        unsigned char *colmask = sf_arena_alloc(&g->arena, (size_t)L->in);
        if (!colmask)
            return oom();
        sf_plan_col_mask(p, colmask);
        int fail = sf_buf_pad(b, 64);
        size_t base = b->len;
        p->off_w = base;
        if (!fail) {
            if (p->kernel == SF_K_DENSE) {
                fail = pack_dense(b, L, p) || sf_buf_pad(b, 64);
                p->off_rows = b->len;
                fail = fail || put_i32s(b, p->rows, p->nrows) || sf_buf_pad(b, 64);
                p->off_cols = b->len;
                fail = fail || put_i32s(b, p->cols, p->ncols);
            } else if (p->kernel == SF_K_NM_UNROLLED) {
                fail = pack_unrolled(b, L, p);
            } else if (p->kernel == SF_K_NM24) {
                fail = pack_nm24(b, L, colmask, p);
            } else {
                fail = pack_compressed(b, L, colmask, p);
            }
        }
        fail = fail || sf_buf_pad(b, 64);
        p->off_zero_rows = b->len;
        fail = fail || put_i32s(b, p->zero_rows, p->nzero_rows);
        if (fail)
            return oom();
        blob->mask_hash = mask_hash_layer(blob->mask_hash, L, p);
    }
    return SF_OK;
}
