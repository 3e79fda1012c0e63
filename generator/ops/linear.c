/* linear.c - `linear` (weight [out, in], optional bias) and `matmul` with a
 * weight [K, N], stored transposed: y = x·Wᵀ + b over the last dimension.
 * Its kernels are each backend's own (plan, pack, emit), so its step is the
 * backend's; its FLOPs depend on the plan (the backend reports them). */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    sf_graph *g = c->g;
    sf_tensor *in = &g->tensors[node->in[0]], *out = &g->tensors[node->out];
    sf_status st;
    int is_matmul = strcmp(n->op, "matmul") == 0;
    if (!n->weight) {
        if (is_matmul)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "weight"),
                            "missing: matmul between two "
                            "activations is not supported yet; give a 'weight' [K, N]");
        return sf_error(SF_EINPUT, sf_v_where(c, n, "weight"), "missing");
    }
    if (is_matmul && n->bias)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "bias"), "matmul takes no bias; use linear");
    if (in->rank < 2)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                        "input '%s' has rank %d: expected "
                        "rank >= 2 ([batch, ..., features])",
                        in->name, in->rank);
    const sf_st_tensor *wt, *bt = NULL;
    if ((st = sf_v_weight(c, n, "weight", n->weight, 2, &wt)))
        return st;
    int64_t K = in->dims[in->rank - 1];
    int64_t O = is_matmul ? wt->dims[1] : wt->dims[0];
    int64_t Kw = is_matmul ? wt->dims[0] : wt->dims[1];
    if (Kw != K) {
        char s[200], si[200];
        sf_v_shape_str(wt->dims, 2, s, sizeof s);
        sf_v_shape_str(in->dims, in->rank, si, sizeof si);
        return sf_error(SF_EINPUT, sf_v_where(c, n, "weight"),
                        "shape mismatch: weight '%s' %s expects %lld input features, input '%s' "
                        "%s has %lld",
                        n->weight, s, (long long)Kw, in->name, si, (long long)K);
    }
    if (n->bias) {
        if ((st = sf_v_weight(c, n, "bias", n->bias, 1, &bt)))
            return st;
        if (bt->dims[0] != O)
            return sf_error(SF_EINPUT, sf_v_where(c, n, "bias"),
                            "shape mismatch: bias '%s' has "
                            "%lld entries, expected %lld (the output features)",
                            n->bias, (long long)bt->dims[0], (long long)O);
    }
    sf_linear *L = sf_arena_alloc(&g->arena, sizeof *L);
    if (!L)
        return sf_oom();
    L->weight_name = n->weight;
    L->bias_name = n->bias;
    L->from_matmul = is_matmul;
    L->out = O;
    L->in = K;
    L->tokens_per_item = 1;
    for (int i = 1; i < in->rank - 1; i++)
        L->tokens_per_item *= in->dims[i];
    L->k_per_chan = 1;
    L->chan_cols = sf_tensor_chan_axis(in) == in->rank - 1;
    L->chan_rows = L->chan_cols; /* the output has the input's rank */
    L->w = sf_arena_array(&g->arena, (size_t)(O * K), sizeof(float));
    if (!L->w)
        return sf_oom();
    sf_tensor_to_f32(wt, L->w);
    if (is_matmul) { /* [K][N] -> [N][K] */
        float *tmp = sf_arena_array(&g->arena, (size_t)(O * K), sizeof(float));
        if (!tmp)
            return sf_oom();
        for (int64_t k = 0; k < K; k++)
            for (int64_t o = 0; o < O; o++)
                tmp[o * K + k] = L->w[k * O + o];
        L->w = tmp;
    }
    if (bt) {
        if (!(L->bias = sf_arena_array(&g->arena, (size_t)O, sizeof(float))))
            return sf_oom();
        sf_tensor_to_f32(bt, L->bias);
    }
    L->node = (int)(node - g->nodes);
    node->lin = L;
    out->rank = in->rank;
    memcpy(out->dims, in->dims, sizeof out->dims);
    out->dims[out->rank - 1] = O;
    return SF_OK;
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    return sf_step_linear(c, n);
}

/* no sections of its own: each backend's linear step expands its own */
const sf_op_family sf_family_linear = {"linear", shape, NULL, step, SECTIONS(NULL)};
