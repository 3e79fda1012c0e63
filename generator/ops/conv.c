/* conv.c - conv2d: NCHW, weight [C_out, C_in/groups, kH, kW], stride,
 * padding, dilation, groups. With one group it becomes a linear layer over
 * im2col columns (each backend's kernels and step; N:M runs along
 * C_in·kH·kW); grouped and depthwise convolutions run a direct kernel. */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

/* Output size of a window op along one axis; < 1 when the window does not fit. */
static int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1)
{
    int64_t span = d * (k - 1) + 1;
    return in + p0 + p1 < span ? 0 : (in + p0 + p1 - span) / s + 1;
}

sf_status sf_window_shape(sf_vctx *c, const sf_desc_node *n, const sf_tensor *x, const sf_attrs *at,
                          sf_tensor *out, int64_t ch)
{
    int64_t ho = window_out(x->dims[2], at->kernel[0], at->stride[0], at->dilation[0], at->pad[0],
                            at->pad[2]);
    int64_t wo = window_out(x->dims[3], at->kernel[1], at->stride[1], at->dilation[1], at->pad[1],
                            at->pad[3]);
    if (ho < 1 || wo < 1) {
        char s[200];
        sf_v_shape_str(x->dims, x->rank, s, sizeof s);
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                        "input '%s' %s is smaller than "
                        "the %lldx%lld window (with its padding and dilation)",
                        x->name, s, (long long)at->kernel[0], (long long)at->kernel[1]);
    }
    out->rank = 4;
    out->dims[0] = x->dims[0];
    out->dims[1] = ch;
    out->dims[2] = ho;
    out->dims[3] = wo;
    return SF_OK;
}

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    const sf_tensor *x = &c->g->tensors[node->in[0]];
    sf_tensor *out = &c->g->tensors[node->out];
    sf_attrs *at = &node->at;
    sf_status st;
    if ((st = sf_need_rank(c, n, x, 4, "NCHW")))
        return st;
    if (!n->weight)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "weight"), "missing");
    if ((st = sf_attr_pair(c, n, "stride", 1, 1, at->stride)) ||
        (st = sf_attr_pair(c, n, "dilation", 1, 1, at->dilation)) ||
        (st = sf_attr_pad(c, n, at->pad)) ||
        (st = sf_attr_int(c, n, "groups", 1, 1, SF_MAX_DIM, &at->groups)))
        return st;
    const sf_st_tensor *wt;
    if ((st = sf_v_weight(c, n, "weight", n->weight, 4, &wt)))
        return st;
    int64_t C = x->dims[1], O = wt->dims[0], g = at->groups;
    if (C % g || O % g)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "groups"),
                        "%lld groups do not divide the "
                        "%lld input and %lld output channels",
                        (long long)g, (long long)C, (long long)O);
    int64_t want[4] = {O, C / g, -1, -1};
    float *w, *b = NULL;
    if ((st = sf_weight_f32(c, n, "weight", n->weight, 4, want, &w, NULL)))
        return st;
    at->kernel[0] = wt->dims[2];
    at->kernel[1] = wt->dims[3];
    if (n->bias) {
        int64_t bd[1] = {O};
        if ((st = sf_weight_f32(c, n, "bias", n->bias, 1, bd, &b, NULL)))
            return st;
    }
    if ((st = sf_window_shape(c, n, x, at, out, O)))
        return st;
    if (g > 1) { /* grouped and depthwise: a direct dense kernel */
        sf_node_add_const(node, "weight", w, O * (C / g) * at->kernel[0] * at->kernel[1]);
        sf_node_add_const(node, "bias", b, O);
        return SF_OK;
    }
    sf_linear *L = sf_arena_alloc(&c->g->arena, sizeof *L);
    if (!L)
        return sf_oom();
    L->weight_name = n->weight;
    L->bias_name = n->bias;
    L->out = O;
    L->in = C * at->kernel[0] * at->kernel[1];
    L->w = w; /* [O][C][kh][kw] is already [out][in] over the im2col columns */
    L->bias = b;
    L->tokens_per_item = out->dims[2] * out->dims[3];
    L->k_per_chan = at->kernel[0] * at->kernel[1];
    L->chan_cols = 1;
    L->chan_rows = 1;
    L->node = (int)(node - c->g->nodes);
    node->lin = L;
    return SF_OK;
}

/* direct, grouped: per output element C/groups·kh·kw multiply-adds */
static double flops(const sf_graph *g, const sf_node *n)
{
    const sf_tensor *x = &g->tensors[n->in[0]];
    return 2.0 * (double)sf_tensor_inner(&g->tensors[n->out]) *
           (double)(x->dims[1] / n->at.groups) * (double)(n->at.kernel[0] * n->at.kernel[1]);
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    if (n->lin)
        return sf_step_linear(c, n);
    char w[200], b[200];
    TRY(sf_step_conv_shape(c, n));
    sf_step_const(c, &n->cst[0], w, sizeof w);
    sf_step_const(c, &n->cst[1], b, sizeof b);
    STEP_SET(c, "W", "%s", w);
    STEP_SET(c, "B", "%s", b);
    STEP_SET(c, "GROUPS", "%lld", (long long)n->at.groups);
    return sf_step_expand(c, "step_conv_direct");
}

/* the lowered form is the backend's linear step */
const sf_op_family sf_family_conv = {"conv", shape, flops, step, SECTIONS("step_conv_direct")};
