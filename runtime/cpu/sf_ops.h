/* sf_ops.h - elementwise ops the generated code calls, and the naive
 * reference kernels that tests compare generated kernels against. */
#ifndef SF_OPS_H
#define SF_OPS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { SF_UNARY_RELU, SF_UNARY_GELU, SF_UNARY_GELU_TANH, SF_UNARY_SILU,
               SF_UNARY_SIGMOID, SF_UNARY_TANH } sf_unary_op;
typedef enum { SF_BINARY_ADD, SF_BINARY_MUL } sf_binary_op;

/* y[i] = f(x[i]) for n elements; x == y allowed. */
void sf_unary(sf_unary_op op, const float *x, float *y, size_t n);

/* y = a op b with NumPy broadcasting. All three have `rank` dims; dims[0]
 * is the batch and is taken from `batch` at run time. */
void sf_binary(sf_binary_op op, const float *a, const int32_t *adims, const float *b,
               const int32_t *bdims, float *y, const int32_t *ydims, int rank, int batch);

/* Reference linear, naive and in double: y[t][o] = b[o] + sum_k x[t][k] w[o][k]. */
void sf_linear_ref(const float *x, const float *w, const float *b, float *y, int T, int O,
                   int K);

#endif
