/* constant.c - a tensor of the weights file as a graph tensor (constant),
 * and expand, which broadcasts a tensor to a shape.
 *
 * A constant's first dimension is 1 and is not the batch: the tensor is the
 * same for every batch item and only ops that broadcast read it (binary,
 * where, expand: sf_op_takes_const). Its values are a node constant, so the
 * CPU pack writes them into the blob and every reader's tensor expression
 * points there (sf_emit_tensor); no step copies them (docs/FORMATS.md). */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

static sf_status const_shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    sf_tensor *out = &c->g->tensors[node->out];
    const sf_st_tensor *t;
    sf_status st;
    if (!n->weight)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "weight"),
                        "missing (the name of the constant's tensor in the weights file)");
    if ((st = sf_v_weight(c, n, "weight", n->weight, -1, &t)))
        return st;
    char s[200];
    sf_v_shape_str(t->dims, t->rank, s, sizeof s);
    if (t->rank < 1 || t->dims[0] != 1)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "weight"),
                        "tensor '%s' is %s: a constant's first dimension must be 1 (it is "
                        "not scaled by the batch; write a scalar as [1])",
                        n->weight, s);
    if (out->output_index >= 0)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "outputs"),
                        "'%s' is a graph output: a constant is not computed (expand it to "
                        "the batch first)",
                        out->name);
    float *data = sf_arena_array(&c->g->arena, t->numel, sizeof(float));
    if (!data)
        return sf_oom();
    sf_tensor_to_f32(t, data);
    sf_node_add_const(node, "value", data, (int64_t)t->numel);
    out->rank = t->rank;
    memcpy(out->dims, t->dims, sizeof t->dims);
    out->is_const = 1;
    return SF_OK;
}

static double const_flops(const sf_graph *g, const sf_node *n)
{
    (void)g;
    (void)n;
    return 0.0;
}

static sf_status const_step(sf_step_ctx *c, const sf_node *n)
{
    char d[256];
    sf_dims_list(&sf_step_graph(c)->tensors[n->out], NULL, d, sizeof d);
    STEP_SET(c, "DIMS", "%s", d);
    return sf_step_expand(c, "step_constant");
}

const sf_op_family sf_family_constant = {"constant", const_shape, const_flops, const_step,
                                         SECTIONS("step_constant")};

/* expand: `shape` lists the output's dims after the batch; the input (a
 * batched tensor of that rank, or a constant of at most that rank)
 * broadcasts onto it, NumPy's way (a 1 in `shape` takes the input's size). */
static sf_status expand_shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    const sf_tensor *x = &c->g->tensors[node->in[0]];
    const sf_desc_attr *a = sf_attr(n, "shape");
    int64_t dims[SF_MAX_RANK] = {0};
    if (!a)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"),
                        "missing (the output's dims after the batch)");
    if (a->kind != SF_ATTR_INTS || a->scalar || a->n < 1 || a->n > SF_MAX_RANK - 1)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"),
                        "expected a list of 1 to %d dims (after the batch)", SF_MAX_RANK - 1);
    for (int i = 0; i < a->n; i++) {
        if (a->ints[i] < 1 || a->ints[i] > SF_MAX_DIM)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"),
                            "dim %d is %lld: expected 1 to %lld", i, (long long)a->ints[i],
                            SF_MAX_DIM);
        dims[i + 1] = a->ints[i];
    }
    if (x->rank > a->n + 1) {
        char s[200];
        sf_v_shape_str(x->dims, x->rank, s, sizeof s);
        return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"),
                        "input '%s' %s has more dims than the batch and the %d of 'shape'", x->name,
                        s, a->n);
    }
    return sf_broadcast_to(c, n, &x, 1, a->n + 1, dims, &c->g->tensors[node->out]);
}

static sf_status expand_step(sf_step_ctx *c, const sf_node *n)
{
    const sf_graph *g = sf_step_graph(c);
    const sf_tensor *x = &g->tensors[n->in[0]], *y = &g->tensors[n->out];
    char d[256];
    sf_dims_aligned(x, y->rank, NULL, d, sizeof d);
    STEP_SET(c, "XDIMS", "%s", d);
    sf_dims_aligned(x, y->rank, "B", d, sizeof d);
    STEP_SET(c, "XSHAPE", "%s", d);
    sf_dims_list(y, NULL, d, sizeof d);
    STEP_SET(c, "YDIMS", "%s", d);
    STEP_SET(c, "RANK", "%d", y->rank);
    return sf_step_expand(c, "step_expand");
}

static double expand_flops(const sf_graph *g, const sf_node *n)
{
    (void)g;
    (void)n;
    return 0.0; /* a copy */
}

const sf_op_family sf_family_expand = {"expand", expand_shape, expand_flops, expand_step,
                                       SECTIONS("step_expand")};
