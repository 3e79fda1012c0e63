/* norm.c - layernorm over the last axis (optional weight and bias) and
 * softmax along any axis but the batch. */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

static sf_status build_layernorm(sf_vctx *c, const sf_desc_node *n, sf_node *node,
                                 const sf_tensor *x, sf_tensor *out)
{
    sf_status st;
    if ((st = sf_attr_axis(c, n, x->rank, -1, &node->at.axis)) ||
        (st = sf_attr_unit(c, n, "epsilon", 1e-5, &node->at.eps)))
        return st;
    if (node->at.axis != x->rank - 1)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "axis"),
                        "only the last axis (%d) is "
                        "supported",
                        x->rank - 1);
    int64_t C[1] = {x->dims[x->rank - 1]};
    float *w = NULL, *b = NULL;
    if (n->weight && (st = sf_weight_f32(c, n, "weight", n->weight, 1, C, &w, NULL)))
        return st;
    if (n->bias && (st = sf_weight_f32(c, n, "bias", n->bias, 1, C, &b, NULL)))
        return st;
    sf_node_add_const(node, "weight", w, C[0]);
    sf_node_add_const(node, "bias", b, C[0]);
    out->rank = x->rank;
    memcpy(out->dims, x->dims, sizeof out->dims);
    return SF_OK;
}

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    const sf_tensor *x = &c->g->tensors[node->in[0]];
    sf_tensor *out = &c->g->tensors[node->out];
    sf_status st;
    if (node->op == SF_OP_LAYERNORM)
        return build_layernorm(c, n, node, x, out);
    if ((st = sf_attr_axis(c, n, x->rank, -1, &node->at.axis)))
        return st;
    sf_same_shape(x, out);
    return SF_OK;
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    const sf_tensor *x = &sf_step_graph(c)->tensors[n->in[0]];
    if (n->op == SF_OP_SOFTMAX) {
        STEP_SET(c, "OUTER", "%lld", (long long)sf_dims_prod(x, 1, n->at.axis));
        STEP_SET(c, "N", "%lld", (long long)x->dims[n->at.axis]);
        STEP_SET(c, "INNER", "%lld", (long long)sf_dims_prod(x, n->at.axis + 1, x->rank));
        return sf_step_expand(c, "step_softmax");
    }
    char g[200], b[200], eps[64];
    sf_step_const(c, &n->cst[0], g, sizeof g);
    sf_step_const(c, &n->cst[1], b, sizeof b);
    sf_c_float(n->at.eps, eps, sizeof eps);
    STEP_SET(c, "G", "%s", g);
    STEP_SET(c, "B", "%s", b);
    STEP_SET(c, "ROWS", "%lld", (long long)sf_dims_prod(x, 1, x->rank - 1));
    STEP_SET(c, "N", "%lld", (long long)x->dims[x->rank - 1]);
    STEP_SET(c, "EPS", "%s", eps);
    return sf_step_expand(c, "step_layernorm");
}

const sf_op_family sf_family_norm = {"norm", shape, NULL, step,
                                     SECTIONS("step_layernorm", "step_softmax")};
