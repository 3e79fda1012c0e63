/* layout.c - data movement: flatten (from axis 1), reshape (one -1; 0 copies
 * the input's dimension), transpose (the batch stays first), concat, slice
 * (Python's rules on one axis). */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

static sf_status build_reshape(sf_vctx *c, const sf_desc_node *n, const sf_tensor *x,
                               sf_tensor *out)
{
    const sf_desc_attr *a = sf_attr(n, "shape");
    if (!a)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"), "missing");
    if (a->kind != SF_ATTR_INTS || a->n < 1)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"), "expected an array of integers");
    if (a->ints[0] != 0 && a->ints[0] != -1 && a->ints[0] != x->dims[0])
        return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"),
                        "the first dimension is the "
                        "batch: write 0, -1 or %lld",
                        (long long)x->dims[0]);
    int64_t inner = sf_tensor_inner(x), prod = 1;
    int wild = -1;
    out->rank = a->n;
    out->dims[0] = x->dims[0];
    for (int i = 1; i < a->n; i++) {
        int64_t d = a->ints[i];
        if (d == 0 && i < x->rank)
            d = x->dims[i]; /* ONNX: 0 copies the input's dimension */
        if (d == -1) {
            if (wild >= 0)
                return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"), "more than one -1");
            wild = i;
            continue;
        }
        if (d < 1)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"),
                            "dimension %d: %lld is not "
                            "a size",
                            i, (long long)a->ints[i]);
        out->dims[i] = d;
        if (prod > inner)
            break;
        prod *= d;
    }
    if (wild >= 0) {
        if (prod > inner || inner % prod)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"),
                            "no size for -1 gives %lld "
                            "elements per batch item",
                            (long long)inner);
        out->dims[wild] = inner / prod;
        prod = inner;
    }
    if (prod != inner) {
        char s[200];
        sf_v_shape_str(x->dims, x->rank, s, sizeof s);
        return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"),
                        "input '%s' %s has %lld elements "
                        "per batch item; the shape asks for %lld",
                        x->name, s, (long long)inner, (long long)prod);
    }
    return SF_OK;
}

static sf_status build_transpose(sf_vctx *c, const sf_desc_node *n, sf_node *node,
                                 const sf_tensor *x, sf_tensor *out)
{
    const sf_desc_attr *a = sf_attr(n, "perm");
    if (!a)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "perm"), "missing");
    if (a->kind != SF_ATTR_INTS || a->n != x->rank)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "perm"),
                        "expected %d axes (the input's "
                        "rank)",
                        x->rank);
    int seen[SF_MAX_RANK] = {0};
    for (int i = 0; i < a->n; i++) {
        if (a->ints[i] < 0 || a->ints[i] >= x->rank || seen[a->ints[i]]++)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "perm"), "not a permutation of 0..%d",
                            x->rank - 1);
        node->at.perm[i] = (int)a->ints[i];
        out->dims[i] = x->dims[a->ints[i]];
    }
    if (node->at.perm[0] != 0)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "perm"),
                        "perm[0] must be 0: the batch "
                        "stays the first dimension");
    out->rank = x->rank;
    return SF_OK;
}

static sf_status build_concat(sf_vctx *c, const sf_desc_node *n, sf_node *node, sf_tensor *out)
{
    const sf_tensor *x = &c->g->tensors[node->in[0]];
    sf_status st = sf_attr_axis(c, n, x->rank, x->rank + 1, &node->at.axis);
    if (st)
        return st;
    int ax = node->at.axis;
    out->rank = x->rank;
    memcpy(out->dims, x->dims, sizeof out->dims);
    out->dims[ax] = 0;
    for (int j = 0; j < node->nin; j++) {
        const sf_tensor *t = &c->g->tensors[node->in[j]];
        for (int i = 0; i < x->rank; i++)
            if (t->rank != x->rank || (i != ax && t->dims[i] != x->dims[i])) {
                char s0[200], s1[200];
                sf_v_shape_str(x->dims, x->rank, s0, sizeof s0);
                sf_v_shape_str(t->dims, t->rank, s1, sizeof s1);
                return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                                "shape mismatch: '%s' %s "
                                "and '%s' %s differ outside axis %d",
                                x->name, s0, t->name, s1, ax);
            }
        out->dims[ax] += t->dims[ax];
    }
    return SF_OK;
}

static sf_status build_slice(sf_vctx *c, const sf_desc_node *n, sf_node *node, const sf_tensor *x,
                             sf_tensor *out)
{
    sf_attrs *at = &node->at;
    sf_status st = sf_attr_axis(c, n, x->rank, x->rank + 1, &at->axis);
    int64_t len = x->dims[at->axis ? at->axis : 0];
    if (st || (st = sf_attr_int(c, n, "start", 0, -(int64_t)SF_MAX_DIM, SF_MAX_DIM, &at->start)) ||
        (st = sf_attr_int(c, n, "end", SF_MAX_DIM, -(int64_t)SF_MAX_DIM, SF_MAX_DIM, &at->end)) ||
        (st = sf_attr_int(c, n, "step", 1, 1, SF_MAX_DIM, &at->step)))
        return st;
    /* Python's rules: negative counts from the end, then clamp */
    if (at->start < 0)
        at->start += len;
    if (at->end < 0)
        at->end += len;
    at->start = at->start < 0 ? 0 : at->start > len ? len : at->start;
    at->end = at->end < 0 ? 0 : at->end > len ? len : at->end;
    int64_t cnt = at->end > at->start ? (at->end - at->start + at->step - 1) / at->step : 0;
    if (cnt < 1)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "start"),
                        "the slice of axis %d (size "
                        "%lld) is empty",
                        at->axis, (long long)len);
    out->rank = x->rank;
    memcpy(out->dims, x->dims, sizeof out->dims);
    out->dims[at->axis] = cnt;
    return SF_OK;
}

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    const sf_tensor *x = &c->g->tensors[node->in[0]];
    sf_tensor *out = &c->g->tensors[node->out];
    sf_status st;
    switch (node->op) {
    case SF_OP_FLATTEN:
        if ((st = sf_attr_axis(c, n, x->rank < 2 ? 2 : x->rank, 1, &node->at.axis)))
            return st;
        if (node->at.axis != 1)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "axis"),
                            "only axis 1 is supported "
                            "(the batch stays the first dimension)");
        out->rank = 2;
        out->dims[0] = x->dims[0];
        out->dims[1] = sf_tensor_inner(x);
        return SF_OK;
    case SF_OP_RESHAPE: return build_reshape(c, n, x, out);
    case SF_OP_TRANSPOSE: return build_transpose(c, n, node, x, out);
    case SF_OP_CONCAT: return build_concat(c, n, node, out);
    default: return build_slice(c, n, node, x, out);
    }
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    const sf_graph *g = sf_step_graph(c);
    const sf_tensor *x = &g->tensors[n->in[0]], *to = &g->tensors[n->out];
    char buf[2][256];
    int ax = n->at.axis;
    switch (n->op) {
    case SF_OP_FLATTEN:
    case SF_OP_RESHAPE:
        STEP_SET(c, "INNER", "%lld", (long long)sf_tensor_inner(to));
        return sf_step_expand(c, "step_copy");
    case SF_OP_TRANSPOSE: {
        size_t o = 0;
        sf_dims_list(x, "-1", buf[0], sizeof buf[0]);
        for (int i = 0; i < x->rank; i++)
            o += (size_t)snprintf(buf[1] + o, sizeof buf[1] - o, "%s%d", i ? ", " : "",
                                  n->at.perm[i]);
        STEP_SET(c, "XDIMS", "%s", buf[0]);
        STEP_SET(c, "PERM", "%s", buf[1]);
        STEP_SET(c, "RANK", "%d", x->rank);
        return sf_step_expand(c, "step_transpose");
    }
    case SF_OP_CONCAT: {
        int64_t inner = sf_dims_prod(to, ax + 1, to->rank), at = 0;
        STEP_SET(c, "OUTER", "%lld", (long long)sf_dims_prod(to, 1, ax));
        STEP_SET(c, "YLEN", "%lld", (long long)(to->dims[ax] * inner));
        TRY(sf_step_expand(c, "step_concat_begin"));
        for (int j = 0; j < n->nin; j++) {
            const sf_tensor *t = &g->tensors[n->in[j]];
            sf_step_tensor(c, n->in[j], buf[0], sizeof buf[0]);
            STEP_SET(c, "XJ", "%s", buf[0]);
            STEP_SET(c, "AT", "%lld", (long long)at);
            STEP_SET(c, "LEN", "%lld", (long long)(t->dims[ax] * inner));
            TRY(sf_step_expand(c, "step_concat_part"));
            at += t->dims[ax] * inner;
        }
        return sf_step_expand(c, "step_concat_end");
    }
    default:
        STEP_SET(c, "OUTER", "%lld", (long long)sf_dims_prod(x, 1, ax));
        STEP_SET(c, "LEN", "%lld", (long long)x->dims[ax]);
        STEP_SET(c, "START", "%lld", (long long)n->at.start);
        STEP_SET(c, "STEP_", "%lld", (long long)n->at.step);
        STEP_SET(c, "CNT", "%lld", (long long)to->dims[ax]);
        STEP_SET(c, "INNER", "%lld", (long long)sf_dims_prod(x, ax + 1, x->rank));
        return sf_step_expand(c, "step_slice");
    }
}

const sf_op_family sf_family_layout = {"layout", shape, NULL, step,
                                       SECTIONS("step_copy", "step_transpose", "step_concat_begin",
                                                "step_concat_part", "step_concat_end",
                                                "step_slice")};
