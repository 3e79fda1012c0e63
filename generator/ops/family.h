/* family.h - what the op families (generator/ops/) share: attribute and
 * weight readers for their shape rules, and the emitter as their steps see
 * it. Internal to the generator. */
#ifndef SF_FAMILY_H
#define SF_FAMILY_H

#include "ir/op.h"

/* ---- attributes and weights (ops/attrs.c) ------------------------------------ */

const sf_desc_attr *sf_attr(const sf_desc_node *n, const char *key);
/* One integer in [lo, hi]; `def` when absent (def < lo: required). */
sf_status sf_attr_int(sf_vctx *c, const sf_desc_node *n, const char *key, int64_t def, int64_t lo,
                      int64_t hi, int64_t *out);
/* An int or [h, w], each in [lo, 65536]; `def` for both when absent (def < 0: required). */
sf_status sf_attr_pair(sf_vctx *c, const sf_desc_node *n, const char *key, int64_t def, int64_t lo,
                       int64_t out[2]);
/* padding: p, [h, w] or [top, left, bottom, right], each >= 0. */
sf_status sf_attr_pad(sf_vctx *c, const sf_desc_node *n, int64_t pad[4]);
/* A number in [0, 1) (epsilons); `def` when absent. */
sf_status sf_attr_unit(sf_vctx *c, const sf_desc_node *n, const char *key, double def, float *out);
/* Any finite number; `def` when absent. */
sf_status sf_attr_number(sf_vctx *c, const sf_desc_node *n, const char *key, double def,
                         double *out);
/* An axis of a rank-`rank` tensor, negative counting from the end; never the
 * batch axis 0. def > rank: required. */
sf_status sf_attr_axis(sf_vctx *c, const sf_desc_node *n, int rank, int def, int *axis);
/* The name of a weights tensor given in attribute `key`. */
const char *sf_attr_tensor(sf_vctx *c, const sf_desc_node *n, const char *key, sf_status *st);
/* A weight of exactly `rank` dims equal to dims[] (entries < 0: any), in f32. */
sf_status sf_weight_f32(sf_vctx *c, const sf_desc_node *n, const char *field, const char *tname,
                        int rank, const int64_t *dims, float **out, const sf_st_tensor **tout);
sf_status sf_need_rank(sf_vctx *c, const sf_desc_node *n, const sf_tensor *t, int rank,
                       const char *what);
/* Appends a weight the node reads to node->cst (data NULL: absent). */
void sf_node_add_const(sf_node *node, const char *what, float *data, int64_t n);
/* out = x's shape. */
void sf_same_shape(const sf_tensor *x, sf_tensor *out);
/* out = the NumPy broadcast of ins[0..n), right-aligned, the batch staying
 * dimension 0: batched operands have the output's rank, constants may have
 * fewer dims (docs/FORMATS.md). At least one operand is batched. */
sf_status sf_broadcast_shape(sf_vctx *c, const sf_desc_node *n, const sf_tensor *const *ins,
                             int nin, sf_tensor *out);
/* The same onto a given shape: rank > 0 and dims[1..rank) the output's
 * (expand; dims[0] is ignored, the output is batched). */
sf_status sf_broadcast_to(sf_vctx *c, const sf_desc_node *n, const sf_tensor *const *ins, int nin,
                          int rank, const int64_t *dims, sf_tensor *out);
sf_status sf_oom(void);
/* out = [N, ch, Ho, Wo] of a window op on x (kernel, stride, dilation and pad
 * from at), or an error when the window does not fit (conv.c). */
sf_status sf_window_shape(sf_vctx *c, const sf_desc_node *n, const sf_tensor *x, const sf_attrs *at,
                          sf_tensor *out, int64_t ch);

/* ---- the emitter, as a step sees it (emit/emitter.c) ------------------------- */

sf_status sf_step_set(sf_step_ctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
sf_status sf_step_expand(sf_step_ctx *c, const char *section);
const sf_graph *sf_step_graph(const sf_step_ctx *c);
/* The C expression of a tensor in the run function (an input, an output, or
 * a named arena buffer). */
void sf_step_tensor(const sf_step_ctx *c, int id, char *buf, size_t n);
/* The C expression of a node's weight in the blob, or NULL. */
void sf_step_const(const sf_step_ctx *c, const sf_const *k, char *buf, size_t n);
/* The backend's own step for a linear layer or a convolution lowered to one. */
sf_status sf_step_linear(sf_step_ctx *c, const sf_node *n);
/* CONV_SHAPE (an sf_conv_shape initializer) and WINDOW of a window op. */
sf_status sf_step_conv_shape(sf_step_ctx *c, const sf_node *n);

/* "d0, d1, ..."; batch != NULL writes that text for dims[0]. */
void sf_dims_list(const sf_tensor *t, const char *batch, char *buf, size_t n);
/* t's dims right-aligned to `rank` (leading 1s); batch != NULL writes that
 * text for a batched tensor's dims[0]. */
void sf_dims_aligned(const sf_tensor *t, int rank, const char *batch, char *buf, size_t n);
/* Product of dims [from, to). */
int64_t sf_dims_prod(const sf_tensor *t, int from, int to);
/* A float constant as a C literal that reads back exactly ("SF_INF" for infinity). */
void sf_c_float(double v, char *buf, size_t n);

#define STEP_SET(c, key, ...) TRY(sf_step_set(c, key, __VA_ARGS__))
#define SECTIONS(...)         ((const char *const[]){__VA_ARGS__, NULL})

#endif
