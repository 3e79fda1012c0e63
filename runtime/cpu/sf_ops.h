/* sf_ops.h - elementwise ops the generated code calls, and the naive
 * reference kernels that tests compare generated kernels against. */
#ifndef SF_OPS_H
#define SF_OPS_H

#include "sf_names.h" /* the model prefix of the functions below */

#include <stddef.h>
#include <stdint.h>

/* Elementwise functions, in the order of the op table's runtime names
 * (generator/ir/ops.def). Three take parameters (sf_unary_ab): CLIP clamps to
 * [a, b]; HARDSIGMOID is max(0, min(1, a·x + b)); LEAKYRELU is x for x >= 0,
 * else a·x. HARDSWISH is x·max(0, min(1, x/6 + 1/2)); SOFTPLUS ln(1 + e^x);
 * NOT 1 where x == 0, else 0; SIGN -1, 0 or 1 (NaN stays NaN); ROUND to the
 * nearest integer, halves to even. */
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
    SF_UNARY_HARDSIGMOID,
    SF_UNARY_NEG,
    SF_UNARY_EXP,
    SF_UNARY_LOG,
    SF_UNARY_ABS,
    SF_UNARY_RECIPROCAL,
    SF_UNARY_LEAKYRELU,
    SF_UNARY_SOFTPLUS,
    SF_UNARY_NOT,
    SF_UNARY_FLOOR,
    SF_UNARY_CEIL,
    SF_UNARY_SIGN,
    SF_UNARY_ROUND
} sf_unary_op;
/* POW is powf(a, b). MIN and MAX give NaN when either operand is NaN. The
 * comparisons and AND, OR give 1 or 0 (booleans are 0/1 floats; an operand
 * is true when it is not 0). */
typedef enum {
    SF_BINARY_ADD,
    SF_BINARY_MUL,
    SF_BINARY_SUB,
    SF_BINARY_DIV,
    SF_BINARY_POW,
    SF_BINARY_MIN,
    SF_BINARY_MAX,
    SF_BINARY_EQUAL,
    SF_BINARY_LESS,
    SF_BINARY_GREATER,
    SF_BINARY_LESSOREQUAL,
    SF_BINARY_GREATEROREQUAL,
    SF_BINARY_AND,
    SF_BINARY_OR
} sf_binary_op;
/* Reductions over a set of axes (sf_reduce). */
typedef enum {
    SF_REDUCE_SUM,
    SF_REDUCE_MEAN,
    SF_REDUCE_MAX,
    SF_REDUCE_MIN,
    SF_REDUCE_PROD
} sf_reduce_op;

/* An unbounded clip end, as a constant expression (GCC, Clang, nvcc). */
#define SF_INF (__builtin_inff())

/* y[i] = f(x[i]) for n elements; x == y allowed. */
void sf_unary(sf_unary_op op, const float *x, float *y, size_t n);
/* The same for the functions with parameters a and b (see sf_unary_op). */
void sf_unary_ab(sf_unary_op op, float a, float b, const float *x, float *y, size_t n);

/* y = a op b with NumPy broadcasting. All three have `rank` dims (an
 * operand of lower rank is passed with leading 1s); dims[0] is the batch and
 * is taken from `batch` at run time, except that an operand whose dims[0] is
 * 1 is the same for every batch item (a constant, or a maximum batch of 1). */
void sf_binary(sf_binary_op op, const float *a, const int32_t *adims, const float *b,
               const int32_t *bdims, float *y, const int32_t *ydims, int rank, int batch);

/* y = c != 0 ? a : b, all four broadcast as in sf_binary. */
void sf_where(const float *c, const int32_t *cdims, const float *a, const int32_t *adims,
              const float *b, const int32_t *bdims, float *y, const int32_t *ydims, int rank,
              int batch);

/* y = x broadcast to ydims (expand), with sf_binary's rules for the dims. */
void sf_expand(const float *x, const int32_t *xdims, float *y, const int32_t *ydims, int rank,
               int batch);

/* y = x reduced over the axes whose bit is set in `axes` (never axis 0, the
 * batch, taken from `batch`); y holds the other axes in order. MAX and MIN
 * give NaN for a NaN element; MEAN is the SUM over the count. */
void sf_reduce(sf_reduce_op op, const float *x, const int32_t *dims, unsigned axes, int rank,
               float *y, int batch);

/* Reference linear, naive and in double: y[t][o] = b[o] + sum_k x[t][k] w[o][k]. */
void sf_linear_ref(const float *x, const float *w, const float *b, float *y, int T, int O, int K);

#endif
