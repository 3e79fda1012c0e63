/* sf_cuda_ops.cuh - part of the CUDA runtime (sf_cuda.cuh): the declarations
 * of the network ops that sf_cuda.cu implements (elementwise, convolution
 * helpers, pooling, norms, softmax, matmul between activations, data
 * movement, attention), one kernel each with the semantics of the CPU
 * runtime (sf_nn.h, sf_ops.h). Apart from the linear-layer kernels, which
 * are templates in headers of their own. */
#ifndef SF_CUDA_OPS_CUH
#define SF_CUDA_OPS_CUH

#include "sf_cuda_core.cuh"
#include "sf_nn.h"
#include "sf_ops.h"

/* ---- network ops (sf_cuda.cu); semantics as in sf_nn.h / sf_ops.h ----------- */

int sfc_unary(sf_unary_op op, const float *x, float *y, size_t n, cudaStream_t st);
/* The same for every op, the two with parameters included (sf_unary_ab):
 * CLIP clamps to [a, b], HARDSIGMOID is max(0, min(1, a x + b)). sfc_unary is
 * this with a = b = 0, as sf_unary is. */
int sfc_unary_ab(sf_unary_op op, float a, float b, const float *x, float *y, size_t n,
                 cudaStream_t st);
int sfc_binary(sf_binary_op op, const float *a, sfc_dims ad, const float *b, sfc_dims bd, float *y,
               sfc_dims yd, int rank, int batch, cudaStream_t st);
/* y = c != 0 ? a : b, all four broadcast as in sfc_binary (sf_where). */
int sfc_where(const float *c, sfc_dims cd, const float *a, sfc_dims ad, const float *b, sfc_dims bd,
              float *y, sfc_dims yd, int rank, int batch, cudaStream_t st);
/* y = x broadcast to yd (sf_expand). */
int sfc_expand(const float *x, sfc_dims xd, float *y, sfc_dims yd, int rank, int batch,
               cudaStream_t st);
/* y = x reduced over the axes set in `axes` (sf_reduce). */
int sfc_reduce(sf_reduce_op op, const float *x, sfc_dims dims, unsigned axes, int rank, float *y,
               int batch, cudaStream_t st);
/* token-major im2col: cols [N*Ho*Wo][C*kh*kw] */
int sfc_im2col(const float *x, float *cols, int N, sf_conv_shape s, cudaStream_t st);
int sfc_tokens_to_nchw(const float *t, float *y, int N, int O, int HW, cudaStream_t st);
int sfc_conv2d_direct(const float *x, const float *w, const float *b, float *y, int N,
                      sf_conv_shape s, cudaStream_t st);
int sfc_pool2d(int is_max, const float *x, float *y, int N, sf_conv_shape s, cudaStream_t st);
int sfc_row_mean(const float *x, float *y, size_t rows, int n, cudaStream_t st);
int sfc_channel_affine(const float *x, const float *scale, const float *shift, float *y, int N,
                       int C, size_t inner, cudaStream_t st);
int sfc_layernorm(const float *x, const float *g, const float *b, float *y, size_t rows, int n,
                  float eps, cudaStream_t st);
int sfc_softmax(const float *x, float *y, size_t outer, int n, size_t inner, cudaStream_t st);
int sfc_matmul(const float *a, sfc_dims ad, const float *b, sfc_dims bd, float *y, sfc_dims yd,
               int rank, int batch, cudaStream_t st);
/* Rows of `table`; an index that is not an integer in [0, rows) gives a zero
 * row and sets *bad (device memory) to 1. */
int sfc_gather_rows(const float *table, int rows, int dim, const float *idx, size_t n, float *y,
                    int *bad, cudaStream_t st);
int sfc_transpose(const float *x, sfc_dims xd, sfc_perm perm, float *y, int rank, int batch,
                  cudaStream_t st);
int sfc_copy_blocks(const float *x, size_t xs, float *y, size_t ys, size_t outer, size_t len,
                    cudaStream_t st);
int sfc_copy(const float *x, float *y, size_t n, cudaStream_t st);
int sfc_slice(const float *x, float *y, size_t outer, int len, int start, int step, int cnt,
              size_t inner, cudaStream_t st);
int sfc_attention(const float *q, const float *k, const float *v, const float *mask, float *y,
                  int B, int Sq, int Sk, int kv_stride, int H, int D, int causal, cudaStream_t st);
int sfc_cache_append(const float *x, float *cache, int B, int T, size_t E, int C, int at,
                     cudaStream_t st);

#endif
