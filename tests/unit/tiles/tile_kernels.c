/* tile_kernels.c - the runtime's tile repack and block store, compiled twice
 * by the Makefile: portable (-DTILE_VARIANT=portable) and with AVX-512
 * (-DTILE_VARIANT=avx512 -mavx512f), so the unit tests hold both paths
 * against a scalar reference whatever -march the tests build with. */
#include "sf_runtime.h"

#define TILE_CAT2(a, b) a##_##b
#define TILE_CAT(a, b)  TILE_CAT2(a, b)
#define TILE_FN(name)   TILE_CAT(name, TILE_VARIANT)

void TILE_FN(tile_pack)(const float *x, int K, int t0, int tn, const int32_t *cols, int ncols,
                        int tb, float *xt);
void TILE_FN(tile_store)(float *y, int O, const int32_t *rows, int nr, int tn, const float *acc,
                         int stride);

void TILE_FN(tile_pack)(const float *x, int K, int t0, int tn, const int32_t *cols, int ncols,
                        int tb, float *xt)
{
    sf_pack_tile(x, K, t0, tn, cols, ncols, tb, (sf_vf *)(void *)xt);
}

void TILE_FN(tile_store)(float *y, int O, const int32_t *rows, int nr, int tn, const float *acc,
                         int stride)
{
    sf_store_rows(y, O, rows, nr, tn, (const sf_vf *)(const void *)acc, stride);
}

/* The recomputation of tokens with Inf or NaN inputs (docs/NUMERICS.md). */
void TILE_FN(tile_exact_dense)(const float *x, float *y, int T, int K, int O, int nrows, int ncols,
                               int R, const float *bias, const float *w, const int32_t *rows,
                               const int32_t *cols);
void TILE_FN(tile_exact_ell)(const float *x, float *y, int T, int K, int O, int nrows, int R,
                             const float *bias, const float *val, const void *col, int idx_bytes,
                             const int32_t *slot0, const int32_t *rows);

void TILE_FN(tile_exact_dense)(const float *x, float *y, int T, int K, int O, int nrows, int ncols,
                               int R, const float *bias, const float *w, const int32_t *rows,
                               const int32_t *cols)
{
    sf_exact_dense(x, y, (sf_exact_shape){T, K, (size_t)K, 1, (size_t)O, 1}, nrows, ncols, R, bias,
                   w, rows, cols);
}

void TILE_FN(tile_exact_ell)(const float *x, float *y, int T, int K, int O, int nrows, int R,
                             const float *bias, const float *val, const void *col, int idx_bytes,
                             const int32_t *slot0, const int32_t *rows)
{
    sf_exact_ell(x, y, (sf_exact_shape){T, K, (size_t)K, 1, (size_t)O, 1}, nrows, R, bias, val, col,
                 idx_bytes, slot0, rows);
}
