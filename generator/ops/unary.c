/* unary.c - elementwise functions of one input (relu, gelu, silu, sigmoid,
 * tanh, erf, sqrt, hardswish, clip, hardsigmoid, neg, exp, log, abs,
 * reciprocal, leakyrelu, softplus, not, floor, ceil, sign, round): the output
 * has the input's shape, and each backend's runtime evaluates the op table's
 * function (runtime/cpu/sf_ops.h). clip, hardsigmoid and leakyrelu take
 * parameters. */
#include "ops/family.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    sf_attrs *at = &node->at;
    sf_status st;
    sf_same_shape(&c->g->tensors[node->in[0]], &c->g->tensors[node->out]);
    if (node->op == SF_OP_CLIP) {
        if ((st = sf_attr_number(c, n, "min", -HUGE_VAL, &at->a)) ||
            (st = sf_attr_number(c, n, "max", HUGE_VAL, &at->b)))
            return st;
        if (at->a > at->b)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "min"), "min %g is above max %g", at->a,
                            at->b);
    }
    if (node->op == SF_OP_HARDSIGMOID && ((st = sf_attr_number(c, n, "alpha", 0.2, &at->a)) ||
                                          (st = sf_attr_number(c, n, "beta", 0.5, &at->b))))
        return st;
    if (node->op == SF_OP_LEAKYRELU && (st = sf_attr_number(c, n, "alpha", 0.01, &at->a)))
        return st;
    return SF_OK;
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    const sf_graph *g = sf_step_graph(c);
    const sf_op_def *d = sf_op_get(n->op);
    STEP_SET(c, "UOP", "%s%s", d->runtime, n->op == SF_OP_GELU && n->gelu_tanh ? "_TANH" : "");
    STEP_SET(c, "INNER", "%lld", (long long)sf_tensor_inner(&g->tensors[n->out]));
    if (!d->attrs)
        return sf_step_expand(c, "step_unary");
    char a[64], b[64];
    sf_c_float(n->at.a, a, sizeof a);
    sf_c_float(n->at.b, b, sizeof b);
    STEP_SET(c, "PA", "%s", a);
    STEP_SET(c, "PB", "%s", b);
    return sf_step_expand(c, "step_unary_ab");
}

const sf_op_family sf_family_unary = {"unary", shape, NULL, step,
                                      SECTIONS("step_unary", "step_unary_ab")};
