/* sf_ops.h - elementwise ops the generated code calls, and the naive
 * reference kernels that tests compare generated kernels against. */
#ifndef SF_OPS_H
#define SF_OPS_H

#include "sf_names.h" /* the model prefix of the functions below */

#include <stddef.h>
#include <stdint.h>

/* Elementwise functions, in the order of the op table's runtime names
 * (generator/ir/ops.def). Two take parameters (sf_unary_ab): CLIP clamps to
 * [a, b]; HARDSIGMOID is max(0, min(1, a·x + b)). HARDSWISH is
 * x·max(0, min(1, x/6 + 1/2)). */
typedef enum {
    SF_UNARY_RELU,
    SF_UNARY_GELU,
    SF_UNARY_GELU_TANH,
    SF_UNARY_SILU,
    SF_UNARY_SIGMOID,
    SF_UNARY_TANH,
    SF_UNARY_ERF,
    SF_UNARY_SQRT,
    SF_UNARY_HARDSWISH,
    SF_UNARY_CLIP,
    SF_UNARY_HARDSIGMOID
} sf_unary_op;
/* POW is powf(a, b). */
typedef enum {
    SF_BINARY_ADD,
    SF_BINARY_MUL,
    SF_BINARY_SUB,
    SF_BINARY_DIV,
    SF_BINARY_POW
} sf_binary_op;

/* An unbounded clip end, as a constant expression (GCC, Clang, nvcc). */
#define SF_INF (__builtin_inff())

/* y[i] = f(x[i]) for n elements; x == y allowed. */
void sf_unary(sf_unary_op op, const float *x, float *y, size_t n);
/* The same for the functions with parameters a and b (see sf_unary_op). */
void sf_unary_ab(sf_unary_op op, float a, float b, const float *x, float *y, size_t n);

/* y = a op b with NumPy broadcasting. All three have `rank` dims; dims[0]
 * is the batch and is taken from `batch` at run time. */
void sf_binary(sf_binary_op op, const float *a, const int32_t *adims, const float *b,
               const int32_t *bdims, float *y, const int32_t *ydims, int rank, int batch);

/* y = c != 0 ? a : b, all four broadcast as in sf_binary. */
void sf_where(const float *c, const int32_t *cdims, const float *a, const int32_t *adims,
              const float *b, const int32_t *bdims, float *y, const int32_t *ydims, int rank,
              int batch);

/* Reference linear, naive and in double: y[t][o] = b[o] + sum_k x[t][k] w[o][k]. */
void sf_linear_ref(const float *x, const float *w, const float *b, float *y, int T, int O, int K);

#endif
