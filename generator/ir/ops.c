/* ops.c - the network ops beside linear and elementwise (DESIGN §4): their
 * attributes, weights and output shapes, checked with messages that name the
 * node and the field; and batch-norm folding into the conv before it. */
#include "ir/verify.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static sf_status oom(void) { return sf_error(SF_EINTERNAL, NULL, "out of memory"); }

const char *const *sf_ops_attr_keys(sf_op op)
{
    static const char *const conv[] = {"stride", "padding", "dilation", "groups", NULL};
    static const char *const pool[] = {"kernel", "stride", "padding", NULL};
    static const char *const bn[] = {"mean", "var", "epsilon", NULL};
    static const char *const axis[] = {"axis", NULL};
    static const char *const ln[] = {"axis", "epsilon", NULL};
    static const char *const reshape[] = {"shape", NULL};
    static const char *const perm[] = {"perm", NULL};
    static const char *const slice[] = {"axis", "start", "end", "step", NULL};
    static const char *const attn[] = {"heads", "causal", "cache", NULL};
    switch (op) {
    case SF_OP_CONV2D: return conv;
    case SF_OP_MAXPOOL: case SF_OP_AVGPOOL: return pool;
    case SF_OP_BATCHNORM: return bn;
    case SF_OP_FLATTEN: case SF_OP_CONCAT: case SF_OP_SOFTMAX: case SF_OP_EMBEDDING: return axis;
    case SF_OP_LAYERNORM: return ln;
    case SF_OP_RESHAPE: return reshape;
    case SF_OP_TRANSPOSE: return perm;
    case SF_OP_SLICE: return slice;
    case SF_OP_ATTENTION: return attn;
    default: return NULL;
    }
}

/* ---- attributes ----------------------------------------------------------- */

static const sf_desc_attr *attr(const sf_desc_node *n, const char *key)
{
    for (int i = 0; i < n->nattrs; i++)
        if (strcmp(n->attrs[i].key, key) == 0)
            return &n->attrs[i];
    return NULL;
}

/* One integer in [lo, hi]; `def` when absent (def < lo: required). */
static sf_status attr_int(sf_vctx *c, const sf_desc_node *n, const char *key, int64_t def,
                          int64_t lo, int64_t hi, int64_t *out)
{
    const sf_desc_attr *a = attr(n, key);
    if (!a) {
        if (def < lo)
            return sf_error(SF_EINPUT, sf_v_where(c, n, key), "missing");
        *out = def;
        return SF_OK;
    }
    if (a->kind != SF_ATTR_INTS || !a->scalar)
        return sf_error(SF_EINPUT, sf_v_where(c, n, key), "expected an integer");
    if (a->ints[0] < lo || a->ints[0] > hi)
        return sf_error(SF_EINPUT, sf_v_where(c, n, key), "%lld is out of range [%lld, %lld]",
                        (long long)a->ints[0], (long long)lo, (long long)hi);
    *out = a->ints[0];
    return SF_OK;
}

/* An int or [h, w], each >= lo; `def` for both when absent (def < 0: required). */
static sf_status attr_pair(sf_vctx *c, const sf_desc_node *n, const char *key, int64_t def,
                           int64_t lo, int64_t out[2])
{
    const sf_desc_attr *a = attr(n, key);
    if (!a) {
        if (def < 0)
            return sf_error(SF_EINPUT, sf_v_where(c, n, key), "missing");
        out[0] = out[1] = def;
        return SF_OK;
    }
    if (a->kind != SF_ATTR_INTS || (a->n != 1 && a->n != 2))
        return sf_error(SF_EINPUT, sf_v_where(c, n, key), "expected an integer or [h, w]");
    for (int i = 0; i < 2; i++) {
        out[i] = a->ints[a->n == 2 ? i : 0];
        if (out[i] < lo || out[i] > 65536)
            return sf_error(SF_EINPUT, sf_v_where(c, n, key), "%lld is out of range [%lld, "
                            "65536]", (long long)out[i], (long long)lo);
    }
    return SF_OK;
}

/* padding: p, [h, w] or [top, left, bottom, right], each >= 0. */
static sf_status attr_pad(sf_vctx *c, const sf_desc_node *n, int64_t pad[4])
{
    const sf_desc_attr *a = attr(n, "padding");
    memset(pad, 0, 4 * sizeof *pad);
    if (!a)
        return SF_OK;
    if (a->kind != SF_ATTR_INTS || (a->n != 1 && a->n != 2 && a->n != 4))
        return sf_error(SF_EINPUT, sf_v_where(c, n, "padding"), "expected an integer, [h, w] "
                        "or [top, left, bottom, right]");
    for (int i = 0; i < 4; i++) {
        pad[i] = a->n == 4 ? a->ints[i] : a->ints[a->n == 2 ? i % 2 : 0];
        if (pad[i] < 0 || pad[i] > 65536)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "padding"), "%lld is out of range "
                            "[0, 65536]", (long long)pad[i]);
    }
    return SF_OK;
}

static sf_status attr_float(sf_vctx *c, const sf_desc_node *n, const char *key, double def,
                            float *out)
{
    const sf_desc_attr *a = attr(n, key);
    *out = (float)def;
    if (!a)
        return SF_OK;
    if ((a->kind != SF_ATTR_NUMBER && a->kind != SF_ATTR_INTS) || !a->scalar ||
        !(a->num >= 0 && a->num < 1))
        return sf_error(SF_EINPUT, sf_v_where(c, n, key), "expected a number in [0, 1)");
    *out = (float)a->num;
    return SF_OK;
}

/* An axis of a rank-`rank` tensor, negative counting from the end; never the
 * batch axis 0. def > rank: required. */
static sf_status attr_axis(sf_vctx *c, const sf_desc_node *n, int rank, int def, int *axis)
{
    int64_t v;
    sf_status st = attr_int(c, n, "axis", def > rank ? -(int64_t)SF_MAX_DIM - 1 : def,
                            -(int64_t)SF_MAX_DIM, SF_MAX_DIM, &v);
    if (st)
        return st;
    if (v < -rank || v >= rank)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "axis"), "%lld is out of range for "
                        "rank %d", (long long)v, rank);
    if (v < 0)
        v += rank;
    if (v == 0)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "axis"), "axis 0 is the batch; %s works "
                        "within one batch item", n->op);
    *axis = (int)v;
    return SF_OK;
}

/* A weight of exactly `rank` dims equal to dims[] (entries < 0: any), in f32. */
static sf_status weight_f32(sf_vctx *c, const sf_desc_node *n, const char *field,
                            const char *tname, int rank, const int64_t *dims, float **out,
                            const sf_st_tensor **tout)
{
    const sf_st_tensor *t;
    sf_status st = sf_v_weight(c, n, field, tname, rank, &t);
    if (st)
        return st;
    for (int i = 0; i < rank; i++)
        if (dims[i] >= 0 && t->dims[i] != dims[i]) {
            char s[200], e[200];
            size_t o = 0;
            sf_v_shape_str(t->dims, t->rank, s, sizeof s);
            for (int j = 0; j < rank && o < sizeof e; j++) /* any size reads as '?' */
                o += (size_t)(dims[j] >= 0 ? snprintf(e + o, sizeof e - o, "%s%lld",
                                                      j ? ", " : "[", (long long)dims[j])
                                           : snprintf(e + o, sizeof e - o, "%s?",
                                                      j ? ", " : "["));
            if (o < sizeof e)
                snprintf(e + o, sizeof e - o, "]");
            return sf_error(SF_EINPUT, sf_v_where(c, n, field), "shape mismatch: tensor '%s' "
                            "is %s, expected %s", tname, s, e);
        }
    if (!(*out = sf_arena_array(&c->g->arena, t->numel, sizeof(float))))
        return oom();
    sf_tensor_to_f32(t, *out);
    if (tout)
        *tout = t;
    return SF_OK;
}

static const char *tensor_name_attr(sf_vctx *c, const sf_desc_node *n, const char *key,
                                    sf_status *st)
{
    const sf_desc_attr *a = attr(n, key);
    *st = SF_OK;
    if (!a)
        *st = sf_error(SF_EINPUT, sf_v_where(c, n, key), "missing (the name of a tensor in "
                       "the weights file)");
    else if (a->kind != SF_ATTR_STRING)
        *st = sf_error(SF_EINPUT, sf_v_where(c, n, key), "expected a tensor name");
    return *st ? NULL : a->str;
}

static sf_status need_rank(sf_vctx *c, const sf_desc_node *n, const sf_tensor *t, int rank,
                           const char *what)
{
    if (t->rank == rank)
        return SF_OK;
    char s[200];
    sf_v_shape_str(t->dims, t->rank, s, sizeof s);
    return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"), "input '%s' is %s: expected rank %d "
                    "(%s)", t->name, s, rank, what);
}

static void add_const(sf_node *node, const char *what, float *data, int64_t n)
{
    sf_const *k = &node->cst[node->ncst++];
    k->what = what;
    k->data = data;
    k->n = data ? n : 0;
}

/* ---- conv and pooling ------------------------------------------------------- */

/* Output size of a window op along one axis; < 1 when the window does not fit. */
static int64_t window_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1)
{
    int64_t span = d * (k - 1) + 1;
    return in + p0 + p1 < span ? 0 : (in + p0 + p1 - span) / s + 1;
}

static sf_status out_size(sf_vctx *c, const sf_desc_node *n, const sf_tensor *x,
                          const sf_attrs *at, sf_tensor *out, int64_t ch)
{
    int64_t ho = window_out(x->dims[2], at->kernel[0], at->stride[0], at->dilation[0],
                            at->pad[0], at->pad[2]);
    int64_t wo = window_out(x->dims[3], at->kernel[1], at->stride[1], at->dilation[1],
                            at->pad[1], at->pad[3]);
    if (ho < 1 || wo < 1) {
        char s[200];
        sf_v_shape_str(x->dims, x->rank, s, sizeof s);
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"), "input '%s' %s is smaller than "
                        "the %lldx%lld window (with its padding and dilation)", x->name, s,
                        (long long)at->kernel[0], (long long)at->kernel[1]);
    }
    out->rank = 4;
    out->dims[0] = x->dims[0];
    out->dims[1] = ch;
    out->dims[2] = ho;
    out->dims[3] = wo;
    return SF_OK;
}

static sf_status build_conv(sf_vctx *c, const sf_desc_node *n, sf_node *node, const sf_tensor *x,
                            sf_tensor *out)
{
    sf_attrs *at = &node->at;
    sf_status st;
    if ((st = need_rank(c, n, x, 4, "NCHW")))
        return st;
    if (!n->weight)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "weight"), "missing");
    if ((st = attr_pair(c, n, "stride", 1, 1, at->stride)) ||
        (st = attr_pair(c, n, "dilation", 1, 1, at->dilation)) || (st = attr_pad(c, n, at->pad)) ||
        (st = attr_int(c, n, "groups", 1, 1, SF_MAX_DIM, &at->groups)))
        return st;
    const sf_st_tensor *wt;
    if ((st = sf_v_weight(c, n, "weight", n->weight, 4, &wt)))
        return st;
    int64_t C = x->dims[1], O = wt->dims[0], g = at->groups;
    if (C % g || O % g)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "groups"), "%lld groups do not divide the "
                        "%lld input and %lld output channels", (long long)g, (long long)C,
                        (long long)O);
    int64_t want[4] = {O, C / g, -1, -1};
    float *w, *b = NULL;
    if ((st = weight_f32(c, n, "weight", n->weight, 4, want, &w, NULL)))
        return st;
    at->kernel[0] = wt->dims[2];
    at->kernel[1] = wt->dims[3];
    if (n->bias) {
        int64_t bd[1] = {O};
        if ((st = weight_f32(c, n, "bias", n->bias, 1, bd, &b, NULL)))
            return st;
    }
    if ((st = out_size(c, n, x, at, out, O)))
        return st;
    if (g > 1) { /* grouped and depthwise: a direct dense kernel */
        add_const(node, "weight", w, O * (C / g) * at->kernel[0] * at->kernel[1]);
        add_const(node, "bias", b, O);
        return SF_OK;
    }
    sf_linear *L = sf_arena_alloc(&c->g->arena, sizeof *L);
    if (!L)
        return oom();
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
    node->lin = L;
    return SF_OK;
}

static sf_status build_pool(sf_vctx *c, const sf_desc_node *n, sf_node *node, const sf_tensor *x,
                            sf_tensor *out)
{
    sf_attrs *at = &node->at;
    sf_status st;
    if ((st = need_rank(c, n, x, 4, "NCHW")))
        return st;
    if ((st = attr_pair(c, n, "kernel", -1, 1, at->kernel)))
        return st;
    int64_t def = at->kernel[0] == at->kernel[1] ? at->kernel[0] : -1;
    if (attr(n, "stride") || def > 0) {
        if ((st = attr_pair(c, n, "stride", def, 1, at->stride)))
            return st;
    } else {
        at->stride[0] = at->kernel[0];
        at->stride[1] = at->kernel[1];
    }
    if ((st = attr_pad(c, n, at->pad)))
        return st;
    for (int i = 0; i < 4; i++)
        if (at->pad[i] >= at->kernel[i % 2])
            return sf_error(SF_EINPUT, sf_v_where(c, n, "padding"), "padding %lld must be "
                            "smaller than the window (%lld)", (long long)at->pad[i],
                            (long long)at->kernel[i % 2]);
    at->dilation[0] = at->dilation[1] = 1;
    return out_size(c, n, x, at, out, x->dims[1]);
}

static sf_status build_batchnorm(sf_vctx *c, const sf_desc_node *n, sf_node *node,
                                 const sf_tensor *x, sf_tensor *out)
{
    sf_status st;
    if (x->rank < 2)
        return need_rank(c, n, x, 4, "[batch, channels, ...]");
    int64_t C[1] = {x->dims[1]};
    const char *mean_name = tensor_name_attr(c, n, "mean", &st);
    if (st)
        return st;
    const char *var_name = tensor_name_attr(c, n, "var", &st);
    if (st)
        return st;
    if (!n->weight || !n->bias)
        return sf_error(SF_EINPUT, sf_v_where(c, n, n->weight ? "bias" : "weight"), "missing");
    float *w, *b, *mean, *var;
    if ((st = weight_f32(c, n, "weight", n->weight, 1, C, &w, NULL)) ||
        (st = weight_f32(c, n, "bias", n->bias, 1, C, &b, NULL)) ||
        (st = weight_f32(c, n, "mean", mean_name, 1, C, &mean, NULL)) ||
        (st = weight_f32(c, n, "var", var_name, 1, C, &var, NULL)) ||
        (st = attr_float(c, n, "epsilon", 1e-5, &node->at.eps)))
        return st;
    for (int64_t i = 0; i < C[0]; i++) {
        if (!(var[i] >= 0.0f) || isinf(var[i]))
            return sf_error(SF_EINPUT, sf_v_where(c, n, "var"), "tensor '%s' entry %lld is %g: "
                            "a variance is finite and >= 0", var_name, (long long)i,
                            (double)var[i]);
        double scale = (double)w[i] / sqrt((double)var[i] + (double)node->at.eps);
        double shift = (double)b[i] - (double)mean[i] * scale;
        w[i] = (float)scale; /* reused: scale and shift replace the four vectors */
        b[i] = (float)shift;
    }
    add_const(node, "scale", w, C[0]);
    add_const(node, "shift", b, C[0]);
    out->rank = x->rank;
    memcpy(out->dims, x->dims, sizeof out->dims);
    return SF_OK;
}

/* ---- data movement ----------------------------------------------------------- */

static sf_status build_reshape(sf_vctx *c, const sf_desc_node *n, const sf_tensor *x,
                               sf_tensor *out)
{
    const sf_desc_attr *a = attr(n, "shape");
    if (!a)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"), "missing");
    if (a->kind != SF_ATTR_INTS || a->n < 1)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"), "expected an array of integers");
    if (a->ints[0] != 0 && a->ints[0] != -1 && a->ints[0] != x->dims[0])
        return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"), "the first dimension is the "
                        "batch: write 0, -1 or %lld", (long long)x->dims[0]);
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
            return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"), "dimension %d: %lld is not "
                            "a size", i, (long long)a->ints[i]);
        out->dims[i] = d;
        if (prod > inner)
            break;
        prod *= d;
    }
    if (wild >= 0) {
        if (prod > inner || inner % prod)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"), "no size for -1 gives %lld "
                            "elements per batch item", (long long)inner);
        out->dims[wild] = inner / prod;
        prod = inner;
    }
    if (prod != inner) {
        char s[200];
        sf_v_shape_str(x->dims, x->rank, s, sizeof s);
        return sf_error(SF_EINPUT, sf_v_where(c, n, "shape"), "input '%s' %s has %lld elements "
                        "per batch item; the shape asks for %lld", x->name, s,
                        (long long)inner, (long long)prod);
    }
    return SF_OK;
}

static sf_status build_transpose(sf_vctx *c, const sf_desc_node *n, sf_node *node,
                                 const sf_tensor *x, sf_tensor *out)
{
    const sf_desc_attr *a = attr(n, "perm");
    if (!a)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "perm"), "missing");
    if (a->kind != SF_ATTR_INTS || a->n != x->rank)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "perm"), "expected %d axes (the input's "
                        "rank)", x->rank);
    int seen[SF_MAX_RANK] = {0};
    for (int i = 0; i < a->n; i++) {
        if (a->ints[i] < 0 || a->ints[i] >= x->rank || seen[a->ints[i]]++)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "perm"), "not a permutation of 0..%d",
                            x->rank - 1);
        node->at.perm[i] = (int)a->ints[i];
        out->dims[i] = x->dims[a->ints[i]];
    }
    if (node->at.perm[0] != 0)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "perm"), "perm[0] must be 0: the batch "
                        "stays the first dimension");
    out->rank = x->rank;
    return SF_OK;
}

static sf_status build_concat(sf_vctx *c, const sf_desc_node *n, sf_node *node, sf_tensor *out)
{
    const sf_tensor *x = &c->g->tensors[node->in[0]];
    sf_status st = attr_axis(c, n, x->rank, x->rank + 1, &node->at.axis);
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
                return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"), "shape mismatch: '%s' %s "
                                "and '%s' %s differ outside axis %d", x->name, s0, t->name, s1,
                                ax);
            }
        out->dims[ax] += t->dims[ax];
    }
    return SF_OK;
}

static sf_status build_slice(sf_vctx *c, const sf_desc_node *n, sf_node *node, const sf_tensor *x,
                             sf_tensor *out)
{
    sf_attrs *at = &node->at;
    sf_status st = attr_axis(c, n, x->rank, x->rank + 1, &at->axis);
    int64_t len = x->dims[at->axis ? at->axis : 0];
    if (st || (st = attr_int(c, n, "start", 0, -(int64_t)SF_MAX_DIM, SF_MAX_DIM, &at->start)) ||
        (st = attr_int(c, n, "end", SF_MAX_DIM, -(int64_t)SF_MAX_DIM, SF_MAX_DIM, &at->end)) ||
        (st = attr_int(c, n, "step", 1, 1, SF_MAX_DIM, &at->step)))
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
        return sf_error(SF_EINPUT, sf_v_where(c, n, "start"), "the slice of axis %d (size "
                        "%lld) is empty", at->axis, (long long)len);
    out->rank = x->rank;
    memcpy(out->dims, x->dims, sizeof out->dims);
    out->dims[at->axis] = cnt;
    return SF_OK;
}

/* ---- transformer ops ---------------------------------------------------------- */

static sf_status build_layernorm(sf_vctx *c, const sf_desc_node *n, sf_node *node,
                                 const sf_tensor *x, sf_tensor *out)
{
    sf_status st;
    if ((st = attr_axis(c, n, x->rank, -1, &node->at.axis)) ||
        (st = attr_float(c, n, "epsilon", 1e-5, &node->at.eps)))
        return st;
    if (node->at.axis != x->rank - 1)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "axis"), "only the last axis (%d) is "
                        "supported", x->rank - 1);
    int64_t C[1] = {x->dims[x->rank - 1]};
    float *w = NULL, *b = NULL;
    if (n->weight && (st = weight_f32(c, n, "weight", n->weight, 1, C, &w, NULL)))
        return st;
    if (n->bias && (st = weight_f32(c, n, "bias", n->bias, 1, C, &b, NULL)))
        return st;
    add_const(node, "weight", w, C[0]);
    add_const(node, "bias", b, C[0]);
    out->rank = x->rank;
    memcpy(out->dims, x->dims, sizeof out->dims);
    return SF_OK;
}

static sf_status build_bmm(sf_vctx *c, const sf_desc_node *n, const sf_tensor *a,
                           const sf_tensor *b, sf_tensor *out)
{
    char sa[200], sb[200];
    sf_v_shape_str(a->dims, a->rank, sa, sizeof sa);
    sf_v_shape_str(b->dims, b->rank, sb, sizeof sb);
    int r = a->rank;
    if (r < 3 || b->rank != r)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"), "'%s' %s and '%s' %s: expected "
                        "the same rank, at least 3 ([batch, ..., M, K] and [batch, ..., K, N])",
                        a->name, sa, b->name, sb);
    if (a->dims[r - 1] != b->dims[r - 2])
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"), "shape mismatch: '%s' %s has K = "
                        "%lld, '%s' %s has %lld rows", a->name, sa, (long long)a->dims[r - 1],
                        b->name, sb, (long long)b->dims[r - 2]);
    out->rank = r;
    for (int i = 0; i < r - 2; i++) {
        if (a->dims[i] != b->dims[i] && (i == 0 || (a->dims[i] != 1 && b->dims[i] != 1)))
            return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"), "shape mismatch: '%s' %s and"
                            " '%s' %s do not broadcast in dimension %d", a->name, sa, b->name, sb,
                            i);
        out->dims[i] = a->dims[i] > b->dims[i] ? a->dims[i] : b->dims[i];
    }
    out->dims[r - 2] = a->dims[r - 2];
    out->dims[r - 1] = b->dims[r - 1];
    return SF_OK;
}

static sf_status build_embedding(sf_vctx *c, const sf_desc_node *n, sf_node *node,
                                 const sf_tensor *x, sf_tensor *out)
{
    sf_status st;
    int64_t axis;
    if ((st = attr_int(c, n, "axis", 0, 0, 0, &axis)))
        return st;
    if (!n->weight)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "weight"), "missing (the table)");
    if (x->rank >= SF_MAX_RANK)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"), "input '%s' has rank %d: the "
                        "output adds one dimension, at most %d", x->name, x->rank, SF_MAX_RANK);
    int64_t any[2] = {-1, -1};
    float *w;
    const sf_st_tensor *t;
    if ((st = weight_f32(c, n, "weight", n->weight, 2, any, &w, &t)))
        return st;
    add_const(node, "table", w, t->dims[0] * t->dims[1]);
    out->rank = x->rank + 1;
    memcpy(out->dims, x->dims, sizeof out->dims);
    out->dims[x->rank] = t->dims[1];
    return SF_OK;
}

/* A `cache` attribute keeps this layer's keys and values across runs (the
 * generated <model>_run_cached): each run appends its Sq tokens and attends
 * over everything cached so far. Every cached layer must agree on the cache
 * length and the tokens per run, so that one cache position means one token. */
static sf_status attention_cache(sf_vctx *c, const sf_desc_node *n, sf_node *node,
                                 const sf_tensor *q)
{
    sf_graph *g = c->g;
    sf_status st;
    if ((st = attr_int(c, n, "cache", 0, 0, (int64_t)1 << 24, &node->at.cache)) ||
        !node->at.cache)
        return st;
    const char *w = sf_v_where(c, n, "cache");
    if (!node->at.causal)
        return sf_error(SF_EINPUT, w, "a key/value cache needs causal attention");
    if (node->nin == 4)
        return sf_error(SF_EINPUT, w, "a key/value cache does not take a padding mask");
    if (c->g->tensors[node->in[1]].dims[1] != q->dims[1])
        return sf_error(SF_EINPUT, w, "a key/value cache needs keys and values of the run's "
                        "own %lld tokens", (long long)q->dims[1]);
    if (node->at.cache < q->dims[1])
        return sf_error(SF_EINPUT, w, "%lld tokens cannot hold one run of %lld",
                        (long long)node->at.cache, (long long)q->dims[1]);
    if (g->cache_tokens && (g->cache_tokens != node->at.cache || g->cache_step != q->dims[1]))
        return sf_error(SF_EINPUT, w, "every cached attention must hold the same tokens (%lld) "
                        "and run on the same number (%lld)", (long long)g->cache_tokens,
                        (long long)g->cache_step);
    g->cache_tokens = node->at.cache;
    g->cache_step = q->dims[1];
    /* keys then values, each [max batch][cache][E] */
    size_t per;
    node->cache_offset = g->cache_floats;
    if (sf_mul_size((size_t)q->dims[0] * 2, (size_t)node->at.cache, &per) ||
        sf_mul_size(per, (size_t)q->dims[2], &per) ||
        sf_add_size(g->cache_floats, per, &g->cache_floats) ||
        g->cache_floats > (SIZE_MAX >> 3))
        return sf_error(SF_EINPUT, w, "the key/value cache is too large");
    int64_t shape[3] = {q->dims[0], node->at.cache, q->dims[2]};
    g->cache_layout = sf_hash_fnv1a(g->cache_layout ? g->cache_layout : SF_FNV_SEED, shape,
                                    sizeof shape);
    return SF_OK;
}

static sf_status build_attention(sf_vctx *c, const sf_desc_node *n, sf_node *node,
                                 sf_tensor *out)
{
    const sf_tensor *q = &c->g->tensors[node->in[0]], *k = &c->g->tensors[node->in[1]],
                    *v = &c->g->tensors[node->in[2]];
    sf_status st;
    int64_t heads;
    const sf_desc_attr *ca = attr(n, "causal");
    if ((st = attr_int(c, n, "heads", -1, 1, 65536, &heads)))
        return st;
    if (ca && ca->kind != SF_ATTR_BOOL)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "causal"), "expected true or false");
    node->at.causal = ca ? ca->flag : 0;
    node->at.heads = (int)heads;
    for (int j = 0; j < 3; j++)
        if ((st = need_rank(c, n, &c->g->tensors[node->in[j]], 3, "[batch, sequence, "
                            "heads*head_size]")))
            return st;
    int64_t E = q->dims[2];
    if (k->dims[2] != E || v->dims[2] != E || k->dims[1] != v->dims[1] ||
        k->dims[0] != q->dims[0] || v->dims[0] != q->dims[0]) {
        char s0[200], s1[200], s2[200];
        sf_v_shape_str(q->dims, 3, s0, sizeof s0);
        sf_v_shape_str(k->dims, 3, s1, sizeof s1);
        sf_v_shape_str(v->dims, 3, s2, sizeof s2);
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"), "shape mismatch: q %s, k %s, v "
                        "%s: expected [B, Sq, E], [B, Sk, E], [B, Sk, E]", s0, s1, s2);
    }
    if (E % heads || E / heads > 256)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "heads"), "heads = %lld must divide the "
                        "width %lld into heads of at most 256 values", (long long)heads,
                        (long long)E);
    if (node->nin == 4) {
        const sf_tensor *m = &c->g->tensors[node->in[3]];
        if (m->rank != 2 || m->dims[0] != q->dims[0] || m->dims[1] != k->dims[1])
            return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"), "mask '%s': expected "
                            "[batch, %lld] (1 keeps a key, 0 drops it)", m->name,
                            (long long)k->dims[1]);
    }
    out->rank = 3;
    memcpy(out->dims, q->dims, sizeof out->dims);
    return attention_cache(c, n, node, q);
}

sf_status sf_ops_build(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    sf_graph *g = c->g;
    const sf_tensor *x = &g->tensors[node->in[0]];
    sf_tensor *out = &g->tensors[node->out];
    sf_status st;
    switch (node->op) {
    case SF_OP_CONV2D: return build_conv(c, n, node, x, out);
    case SF_OP_MAXPOOL:
    case SF_OP_AVGPOOL: return build_pool(c, n, node, x, out);
    case SF_OP_BATCHNORM: return build_batchnorm(c, n, node, x, out);
    case SF_OP_GLOBAL_AVGPOOL:
        if ((st = need_rank(c, n, x, 4, "NCHW")))
            return st;
        out->rank = 4;
        memcpy(out->dims, x->dims, sizeof out->dims);
        out->dims[2] = out->dims[3] = 1;
        return SF_OK;
    case SF_OP_FLATTEN:
        if ((st = attr_axis(c, n, x->rank < 2 ? 2 : x->rank, 1, &node->at.axis)))
            return st;
        if (node->at.axis != 1)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "axis"), "only axis 1 is supported "
                            "(the batch stays the first dimension)");
        out->rank = 2;
        out->dims[0] = x->dims[0];
        out->dims[1] = sf_tensor_inner(x);
        return SF_OK;
    case SF_OP_RESHAPE: return build_reshape(c, n, x, out);
    case SF_OP_TRANSPOSE: return build_transpose(c, n, node, x, out);
    case SF_OP_CONCAT: return build_concat(c, n, node, out);
    case SF_OP_SLICE: return build_slice(c, n, node, x, out);
    case SF_OP_LAYERNORM: return build_layernorm(c, n, node, x, out);
    case SF_OP_SOFTMAX:
        if ((st = attr_axis(c, n, x->rank, -1, &node->at.axis)))
            return st;
        out->rank = x->rank;
        memcpy(out->dims, x->dims, sizeof out->dims);
        return SF_OK;
    case SF_OP_BMM: return build_bmm(c, n, x, &g->tensors[node->in[1]], out);
    case SF_OP_EMBEDDING: return build_embedding(c, n, node, x, out);
    case SF_OP_ATTENTION: return build_attention(c, n, node, out);
    default: return sf_error(SF_EINTERNAL, NULL, "no shape rule for op %s", n->op);
    }
}

/* ---- batch-norm folding --------------------------------------------------------- */

sf_status sf_ops_fold_batchnorm(sf_graph *g)
{
    for (int oi = 0; oi < g->nsteps; oi++) {
        sf_node *bn = &g->nodes[g->order[oi]];
        if (bn->op != SF_OP_BATCHNORM)
            continue;
        sf_tensor *x = &g->tensors[bn->in[0]];
        if (x->producer < 0 || x->nconsumers != 1 || x->output_index >= 0)
            continue;
        sf_node *cv = &g->nodes[x->producer];
        if (cv->op != SF_OP_CONV2D)
            continue;
        const float *scale = bn->cst[0].data, *shift = bn->cst[1].data;
        int64_t O = x->dims[1];
        float *w = cv->lin ? cv->lin->w : cv->cst[0].data;
        float **bp = cv->lin ? &cv->lin->bias : &cv->cst[1].data;
        int64_t per = (cv->lin ? cv->lin->in : cv->cst[0].n / O);
        if (!*bp) {
            if (!(*bp = sf_arena_array(&g->arena, (size_t)O, sizeof(float))))
                return oom();
            if (!cv->lin)
                cv->cst[1].n = O;
        }
        for (int64_t o = 0; o < O; o++) {
            for (int64_t k = 0; k < per; k++)
                w[o * per + k] *= scale[o];
            (*bp)[o] = (*bp)[o] * scale[o] + shift[o];
        }
        /* the conv now writes the batch norm's output; its own is gone */
        cv->out = bn->out;
        g->tensors[bn->out].producer = x->producer;
        x->dropped = 1;
        x->nconsumers = 0;
        bn->folded = 1;
    }
    int k = 0;
    for (int oi = 0; oi < g->nsteps; oi++)
        if (!g->nodes[g->order[oi]].folded)
            g->order[k++] = g->order[oi];
    g->nsteps = k;
    return SF_OK;
}
