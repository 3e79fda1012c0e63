/* reduce.c - reducemean over the last axis (`axis` -1, `keepdims` 1 or 0):
 * each row's mean, on the runtime's row mean. */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    const sf_tensor *x = &c->g->tensors[node->in[0]];
    sf_tensor *out = &c->g->tensors[node->out];
    int64_t keep;
    sf_status st;
    if ((st = sf_attr_axis(c, n, x->rank < 2 ? 2 : x->rank, -1, &node->at.axis)) ||
        (st = sf_attr_int(c, n, "keepdims", 1, 0, 1, &keep)))
        return st;
    if (x->rank < 2 || node->at.axis != x->rank - 1)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "axis"),
                        "only the last axis (%d) is "
                        "supported",
                        x->rank - 1);
    node->at.keepdims = (int)keep;
    sf_same_shape(x, out);
    if (keep)
        out->dims[x->rank - 1] = 1;
    else
        out->rank--;
    return SF_OK;
}

static double flops(const sf_graph *g, const sf_node *n)
{
    return (double)sf_tensor_inner(&g->tensors[n->in[0]]);
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    const sf_tensor *x = &sf_step_graph(c)->tensors[n->in[0]];
    STEP_SET(c, "ROWS", "%lld", (long long)sf_dims_prod(x, 1, x->rank - 1));
    STEP_SET(c, "N", "%lld", (long long)x->dims[x->rank - 1]);
    return sf_step_expand(c, "step_row_mean");
}

const sf_op_family sf_family_reduce = {"reduce", shape, flops, step, SECTIONS("step_row_mean")};
