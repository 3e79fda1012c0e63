/* pool.c - maxpool2d, avgpool2d (average over the window less its padding)
 * and global_avgpool, on NCHW images. */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

static sf_status window(sf_vctx *c, const sf_desc_node *n, sf_node *node, const sf_tensor *x,
                        sf_tensor *out)
{
    sf_attrs *at = &node->at;
    sf_status st;
    if ((st = sf_need_rank(c, n, x, 4, "NCHW")))
        return st;
    if ((st = sf_attr_pair(c, n, "kernel", -1, 1, at->kernel)))
        return st;
    int64_t def = at->kernel[0] == at->kernel[1] ? at->kernel[0] : -1;
    if (sf_attr(n, "stride") || def > 0) {
        if ((st = sf_attr_pair(c, n, "stride", def, 1, at->stride)))
            return st;
    } else {
        at->stride[0] = at->kernel[0];
        at->stride[1] = at->kernel[1];
    }
    if ((st = sf_attr_pad(c, n, at->pad)))
        return st;
    for (int i = 0; i < 4; i++)
        if (at->pad[i] >= at->kernel[i % 2])
            return sf_error(SF_EINPUT, sf_v_where(c, n, "padding"),
                            "padding %lld must be "
                            "smaller than the window (%lld)",
                            (long long)at->pad[i], (long long)at->kernel[i % 2]);
    at->dilation[0] = at->dilation[1] = 1;
    return sf_window_shape(c, n, x, at, out, x->dims[1]);
}

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    const sf_tensor *x = &c->g->tensors[node->in[0]];
    sf_tensor *out = &c->g->tensors[node->out];
    sf_status st;
    if (node->op != SF_OP_GLOBAL_AVGPOOL)
        return window(c, n, node, x, out);
    if ((st = sf_need_rank(c, n, x, 4, "NCHW")))
        return st;
    sf_same_shape(x, out);
    out->dims[2] = out->dims[3] = 1;
    return SF_OK;
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    const sf_tensor *x = &sf_step_graph(c)->tensors[n->in[0]];
    if (n->op == SF_OP_GLOBAL_AVGPOOL) {
        STEP_SET(c, "ROWS", "%lld", (long long)x->dims[1]);
        STEP_SET(c, "N", "%lld", (long long)(x->dims[2] * x->dims[3]));
        return sf_step_expand(c, "step_row_mean");
    }
    TRY(sf_step_conv_shape(c, n));
    STEP_SET(c, "ISMAX", "%d", n->op == SF_OP_MAXPOOL);
    return sf_step_expand(c, "step_pool");
}

const sf_op_family sf_family_pool = {"pool", shape, NULL, step,
                                     SECTIONS("step_pool", "step_row_mean")};
