/* sf_nn.h - the network ops the generated code calls beside its linear
 * kernels: convolution lowering, pooling, normalisation, softmax, batched
 * matmul, attention and data movement. Images are NCHW; the first dimension
 * of every activation is the batch, given at run time. None allocates. */
#ifndef SF_NN_H
#define SF_NN_H

#include "sf_names.h" /* the model prefix of the functions below */

#include <stddef.h>
#include <stdint.h>

/* Largest head size of the fused attention (its accumulator lives in registers
 * and on the stack, so the op needs no scratch). */
#define SF_ATTN_MAX_HEAD 256

typedef struct {
    int C, H, W;                        /* input channels and size */
    int O, Ho, Wo;                      /* output channels and size */
    int kh, kw, sh, sw, dh, dw, pt, pl; /* kernel, stride, dilation, top/left padding */
    int groups;
} sf_conv_shape;

/* Convolution as a linear layer (groups == 1): cols [N·Ho·Wo][C·kh·kw], each
 * row the receptive field of one output pixel in the weight's (c, i, j) order,
 * zeros where it hangs over the padding. */
void sf_im2col(const float *x, float *cols, int N, const sf_conv_shape *s);
/* The same rows channel-major for one image: cols [C·kh·kw][Ho·Wo], each row
 * one (c, i, j) tap over every output pixel (what the convolution kernels
 * multiply; a 1x1 stride-1 unpadded conv needs none, x is already this). */
void sf_im2col_chw(const float *x, float *cols, const sf_conv_shape *s);
/* y [N][O][HW] from t [N·HW][O]: the linear kernel's token-major result back to NCHW. */
void sf_tokens_to_nchw(const float *t, float *y, int N, int O, int HW);
/* Direct convolution for groups > 1 (depthwise too): w [O][C/groups][kh][kw], b [O] or NULL. */
void sf_conv2d_direct(const float *x, const float *w, const float *b, float *y, int N,
                      const sf_conv_shape *s);

/* Max or average pooling; average excludes padding from the count. Uses the
 * conv shape with O == C and groups unused. */
void sf_pool2d(int is_max, const float *x, float *y, int N, const sf_conv_shape *s);
/* y [rows] = mean of each row of x [rows][n]. */
void sf_row_mean(const float *x, float *y, size_t rows, size_t n);
/* y[n][c][i] = x[n][c][i]·scale[c] + shift[c]: batch norm at inference. */
void sf_channel_affine(const float *x, const float *scale, const float *shift, float *y, int N,
                       int C, size_t inner);

/* Layer norm over contiguous rows of n: y = (x - mean)/sqrt(var + eps)·g + b. */
void sf_layernorm(const float *x, const float *g, const float *b, float *y, size_t rows, int n,
                  float eps);
/* Softmax along an axis of length n; `inner` is the product of the dims after it. */
void sf_softmax(const float *x, float *y, size_t outer, int n, size_t inner);

/* y = a·b over the last two dims, with NumPy broadcasting over the leading
 * ones. All three have `rank` dims; dims[0] < 0 stands for the run-time batch. */
void sf_matmul(const float *a, const int32_t *adims, const float *b, const int32_t *bdims, float *y,
               const int32_t *ydims, int rank, int batch);

/* y [n][dim] = rows of table [rows][dim] picked by idx [n] (float-coded
 * integers). Returns the number of indices that were not an integer in
 * [0, rows); those rows of y are zero. */
size_t sf_gather_rows(const float *table, int rows, int dim, const float *idx, size_t n, float *y);

/* y = x permuted: y.dims[i] = x.dims[perm[i]]. dims[0] < 0: the run-time batch. */
void sf_transpose(const float *x, const int32_t *xdims, const int *perm, float *y, int rank,
                  int batch);
/* Copies `outer` blocks of `len` floats from x (stride xs) to y (stride ys). */
void sf_copy_blocks(const float *x, size_t xs, float *y, size_t ys, size_t outer, size_t len);

/* y = x[..., start : start + cnt·step : step, ...] along an axis of length len;
 * `outer` counts the blocks before the axis, `inner` the floats after it. */
void sf_slice(const float *x, float *y, size_t outer, int len, int start, int step, int cnt,
              size_t inner);

/* Multi-head attention: q [B][Sq][H·D], k and v [B][kv_stride][H·D] of which
 * the first Sk positions are read (kv_stride = Sk for plain tensors, the cache
 * length for a key/value cache), y like q. mask [B][Sk] or NULL: 0 drops a key
 * (padding). causal: query i sees keys up to i + Sk - Sq (the queries are the
 * last Sq positions). A query that sees no key gets zeros. Softmax is computed
 * online, so nothing is allocated. */
void sf_attention(const float *q, const float *k, const float *v, const float *mask, float *y,
                  int B, int Sq, int Sk, int kv_stride, int H, int D, int causal);

/* Appends x [B][T][E] to a cache [B][C][E] at positions at..at+T-1. */
void sf_cache_append(const float *x, float *cache, int B, int T, size_t E, int C, int at);

#endif
