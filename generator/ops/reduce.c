/* reduce.c - reductions over a set of non-batch axes: reducemean,
 * reducesum, reducemax, reducemin, reduceprod. `axes` lists them (negative
 * counting from the end; reducemean also takes one `axis` and defaults to
 * the last axis); `keepdims` 1 (the default) keeps each as a 1. A mean over
 * the last axis alone runs on the runtime's row mean, any other reduction
 * on sf_reduce (runtime/cpu/sf_ops.h). */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

/* The reduced axes as a bit set, from `axes` (or reducemean's `axis`). */
static sf_status read_axes(sf_vctx *c, const sf_desc_node *n, const sf_tensor *x, unsigned *mask)
{
    const sf_desc_attr *a = sf_attr(n, "axes"), *one = sf_attr(n, "axis");
    *mask = 0;
    if (a && one)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "axis"), "give 'axes' or 'axis', not both");
    if (x->rank < 2)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                        "input '%s' has only the batch axis: nothing to reduce", x->name);
    if (!a) {
        if (strcmp(sf_op_get(SF_OP_REDUCEMEAN)->name, n->op) != 0)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "axes"),
                            "missing (the axes to reduce, never 0, the batch)");
        int axis;
        sf_status st = sf_attr_axis(c, n, x->rank, -1, &axis);
        if (st)
            return st;
        *mask = 1u << axis;
        return SF_OK;
    }
    if (a->kind != SF_ATTR_INTS || a->n < 1)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "axes"), "expected a list of axes");
    for (int i = 0; i < a->n; i++) {
        int64_t v = a->ints[i];
        if (v < -x->rank || v >= x->rank)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "axes"), "%lld is out of range for rank %d",
                            (long long)v, x->rank);
        if (v < 0)
            v += x->rank;
        if (v == 0)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "axes"),
                            "axis 0 is the batch; %s works within one batch item", n->op);
        if (*mask & (1u << v))
            return sf_error(SF_EINPUT, sf_v_where(c, n, "axes"), "axis %lld is listed twice",
                            (long long)v);
        *mask |= 1u << v;
    }
    return SF_OK;
}

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    const sf_tensor *x = &c->g->tensors[node->in[0]];
    sf_tensor *out = &c->g->tensors[node->out];
    int64_t keep;
    unsigned mask;
    sf_status st;
    if ((st = read_axes(c, n, x, &mask)) || (st = sf_attr_int(c, n, "keepdims", 1, 0, 1, &keep)))
        return st;
    node->at.keepdims = (int)keep;
    node->at.axes = mask;
    node->at.axis = x->rank - 1;
    out->rank = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!(mask >> i & 1u))
            out->dims[out->rank++] = x->dims[i];
        else if (keep)
            out->dims[out->rank++] = 1;
    }
    return SF_OK;
}

static double flops(const sf_graph *g, const sf_node *n)
{
    return (double)sf_tensor_inner(&g->tensors[n->in[0]]);
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    const sf_tensor *x = &sf_step_graph(c)->tensors[n->in[0]];
    if (n->op == SF_OP_REDUCEMEAN && n->at.axes == 1u << (x->rank - 1)) {
        STEP_SET(c, "ROWS", "%lld", (long long)sf_dims_prod(x, 1, x->rank - 1));
        STEP_SET(c, "N", "%lld", (long long)x->dims[x->rank - 1]);
        return sf_step_expand(c, "step_row_mean");
    }
    static const struct {
        sf_op op;
        const char *fn;
    } k_fn[] = {{SF_OP_REDUCEMEAN, "SF_REDUCE_MEAN"},
                {SF_OP_REDUCESUM, "SF_REDUCE_SUM"},
                {SF_OP_REDUCEMAX, "SF_REDUCE_MAX"},
                {SF_OP_REDUCEMIN, "SF_REDUCE_MIN"},
                {SF_OP_REDUCEPROD, "SF_REDUCE_PROD"}};
    const char *fn = NULL;
    for (size_t i = 0; i < sizeof k_fn / sizeof k_fn[0]; i++)
        if (k_fn[i].op == n->op)
            fn = k_fn[i].fn;
    if (!fn)
        return sf_error(SF_EINTERNAL, NULL, "reduce: no runtime function for %s",
                        sf_op_name(n->op));
    char d[256], ax[64];
    size_t o = 0;
    ax[0] = 0;
    for (int i = 1; i < x->rank && o < sizeof ax; i++)
        if (n->at.axes >> i & 1u)
            o += (size_t)snprintf(ax + o, sizeof ax - o, "%s%d", o ? "," : "", i);
    STEP_SET(c, "ROP", "%s", fn);
    STEP_SET(c, "AXES", "%s", ax);
    STEP_SET(c, "AXMASK", "%u", n->at.axes);
    STEP_SET(c, "RANK", "%d", x->rank);
    sf_dims_list(x, NULL, d, sizeof d);
    STEP_SET(c, "XDIMS", "%s", d);
    sf_dims_list(x, "B", d, sizeof d);
    STEP_SET(c, "XSHAPE", "%s", d);
    return sf_step_expand(c, "step_reduce");
}

const sf_op_family sf_family_reduce = {"reduce", shape, flops, step,
                                       SECTIONS("step_row_mean", "step_reduce")};
