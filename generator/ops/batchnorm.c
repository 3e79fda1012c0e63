/* batchnorm.c - batch norm at inference: weight, bias, mean and var become a
 * scale and a shift per channel (dimension 1) at verify time; the fold pass
 * (passes/fold.c) merges it into the convolution before it where it can. */
#include "ops/family.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    const sf_tensor *x = &c->g->tensors[node->in[0]];
    sf_tensor *out = &c->g->tensors[node->out];
    sf_status st;
    if (x->rank < 2)
        return sf_need_rank(c, n, x, 4, "[batch, channels, ...]");
    int64_t C[1] = {x->dims[1]};
    const char *mean_name = sf_attr_tensor(c, n, "mean", &st);
    if (st)
        return st;
    const char *var_name = sf_attr_tensor(c, n, "var", &st);
    if (st)
        return st;
    if (!n->weight || !n->bias)
        return sf_error(SF_EINPUT, sf_v_where(c, n, n->weight ? "bias" : "weight"), "missing");
    float *w, *b, *mean, *var;
    if ((st = sf_weight_f32(c, n, "weight", n->weight, 1, C, &w, NULL)) ||
        (st = sf_weight_f32(c, n, "bias", n->bias, 1, C, &b, NULL)) ||
        (st = sf_weight_f32(c, n, "mean", mean_name, 1, C, &mean, NULL)) ||
        (st = sf_weight_f32(c, n, "var", var_name, 1, C, &var, NULL)) ||
        (st = sf_attr_unit(c, n, "epsilon", 1e-5, &node->at.eps)))
        return st;
    for (int64_t i = 0; i < C[0]; i++) {
        if (!(var[i] >= 0.0f) || isinf(var[i]))
            return sf_error(SF_EINPUT, sf_v_where(c, n, "var"),
                            "tensor '%s' entry %lld is %g: "
                            "a variance is finite and >= 0",
                            var_name, (long long)i, (double)var[i]);
        double scale = (double)w[i] / sqrt((double)var[i] + (double)node->at.eps);
        double shift = (double)b[i] - (double)mean[i] * scale;
        /* var 0 with epsilon 0 (or a scale beyond float) would bake Inf or
         * NaN into the weights, and through folding into a conv's weights */
        if (!isfinite((float)scale) || !isfinite((float)shift))
            return sf_error(SF_EINPUT, sf_v_where(c, n, "epsilon"),
                            "channel %lld: var %g + epsilon %g gives the scale "
                            "weight/sqrt(var + epsilon) = %g, shift %g: not a finite float "
                            "(raise epsilon)",
                            (long long)i, (double)var[i], node->at.eps, scale, shift);
        w[i] = (float)scale; /* reused: scale and shift replace the four vectors */
        b[i] = (float)shift;
    }
    sf_node_add_const(node, "scale", w, C[0]);
    sf_node_add_const(node, "shift", b, C[0]);
    out->rank = x->rank;
    memcpy(out->dims, x->dims, sizeof out->dims);
    return SF_OK;
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    const sf_tensor *x = &sf_step_graph(c)->tensors[n->in[0]];
    char s[200], t[200];
    sf_step_const(c, &n->cst[0], s, sizeof s);
    sf_step_const(c, &n->cst[1], t, sizeof t);
    STEP_SET(c, "SCALE", "%s", s);
    STEP_SET(c, "SHIFT", "%s", t);
    STEP_SET(c, "C", "%lld", (long long)x->dims[1]);
    STEP_SET(c, "INNER", "%lld", (long long)sf_dims_prod(x, 2, x->rank));
    return sf_step_expand(c, "step_affine");
}

const sf_op_family sf_family_batchnorm = {"batchnorm", shape, NULL, step, SECTIONS("step_affine")};
