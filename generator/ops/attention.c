/* attention.c - fused multi-head attention: q, k, v [B, S, heads·D], an
 * optional padding mask [B, Sk], causal masking, and a key/value cache kept
 * across runs (<model>_run_cached). */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

/* A `cache` attribute keeps this layer's keys and values across runs (the
 * generated <model>_run_cached): each run appends its Sq tokens and attends
 * over everything cached so far. Every cached layer must agree on the cache
 * length and the tokens per run, so that one cache position means one token. */
static sf_status attention_cache(sf_vctx *c, const sf_desc_node *n, sf_node *node,
                                 const sf_tensor *q)
{
    sf_graph *g = c->g;
    sf_status st;
    if ((st = sf_attr_int(c, n, "cache", 0, 0, (int64_t)1 << 24, &node->at.cache)) ||
        !node->at.cache)
        return st;
    const char *w = sf_v_where(c, n, "cache");
    if (!node->at.causal)
        return sf_error(SF_EINPUT, w, "a key/value cache needs causal attention");
    if (node->nin == 4)
        return sf_error(SF_EINPUT, w, "a key/value cache does not take a padding mask");
    if (c->g->tensors[node->in[1]].dims[1] != q->dims[1])
        return sf_error(SF_EINPUT, w,
                        "a key/value cache needs keys and values of the run's "
                        "own %lld tokens",
                        (long long)q->dims[1]);
    if (node->at.cache < q->dims[1])
        return sf_error(SF_EINPUT, w, "%lld tokens cannot hold one run of %lld",
                        (long long)node->at.cache, (long long)q->dims[1]);
    if (g->cache_tokens && (g->cache_tokens != node->at.cache || g->cache_step != q->dims[1]))
        return sf_error(SF_EINPUT, w,
                        "every cached attention must hold the same tokens (%lld) "
                        "and run on the same number (%lld)",
                        (long long)g->cache_tokens, (long long)g->cache_step);
    g->cache_tokens = node->at.cache;
    g->cache_step = q->dims[1];
    /* keys then values, each [max batch][cache][E] */
    size_t per;
    node->cache_offset = g->cache_floats;
    if (sf_mul_size((size_t)q->dims[0] * 2, (size_t)node->at.cache, &per) ||
        sf_mul_size(per, (size_t)q->dims[2], &per) ||
        sf_add_size(g->cache_floats, per, &g->cache_floats) || g->cache_floats > (SIZE_MAX >> 3))
        return sf_error(SF_EINPUT, w, "the key/value cache is too large");
    int64_t shape[3] = {q->dims[0], node->at.cache, q->dims[2]};
    g->cache_layout =
        sf_hash_fnv1a(g->cache_layout ? g->cache_layout : SF_FNV_SEED, shape, sizeof shape);
    return SF_OK;
}

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    sf_tensor *out = &c->g->tensors[node->out];
    const sf_tensor *q = &c->g->tensors[node->in[0]], *k = &c->g->tensors[node->in[1]],
                    *v = &c->g->tensors[node->in[2]];
    sf_status st;
    int64_t heads;
    const sf_desc_attr *ca = sf_attr(n, "causal");
    if ((st = sf_attr_int(c, n, "heads", -1, 1, 65536, &heads)))
        return st;
    if (ca && ca->kind != SF_ATTR_BOOL)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "causal"), "expected true or false");
    node->at.causal = ca ? ca->flag : 0;
    node->at.heads = (int)heads;
    for (int j = 0; j < 3; j++)
        if ((st = sf_need_rank(c, n, &c->g->tensors[node->in[j]], 3,
                               "[batch, sequence, "
                               "heads*head_size]")))
            return st;
    int64_t E = q->dims[2];
    if (k->dims[2] != E || v->dims[2] != E || k->dims[1] != v->dims[1] ||
        k->dims[0] != q->dims[0] || v->dims[0] != q->dims[0]) {
        char s0[200], s1[200], s2[200];
        sf_v_shape_str(q->dims, 3, s0, sizeof s0);
        sf_v_shape_str(k->dims, 3, s1, sizeof s1);
        sf_v_shape_str(v->dims, 3, s2, sizeof s2);
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                        "shape mismatch: q %s, k %s, v "
                        "%s: expected [B, Sq, E], [B, Sk, E], [B, Sk, E]",
                        s0, s1, s2);
    }
    if (E % heads || E / heads > 256)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "heads"),
                        "heads = %lld must divide the "
                        "width %lld into heads of at most 256 values",
                        (long long)heads, (long long)E);
    if (node->nin == 4) {
        const sf_tensor *m = &c->g->tensors[node->in[3]];
        if (m->rank != 2 || m->dims[0] != q->dims[0] || m->dims[1] != k->dims[1])
            return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                            "mask '%s': expected "
                            "[batch, %lld] (1 keeps a key, 0 drops it)",
                            m->name, (long long)k->dims[1]);
    }
    out->rank = 3;
    memcpy(out->dims, q->dims, sizeof out->dims);
    return attention_cache(c, n, node, q);
}

/* scores and the weighted sum of values */
static double flops(const sf_graph *g, const sf_node *n)
{
    return 4.0 * (double)sf_tensor_inner(&g->tensors[n->out]) *
           (double)g->tensors[n->in[1]].dims[1];
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    const sf_graph *g = sf_step_graph(c);
    const sf_tensor *x = &g->tensors[n->in[0]], *k = &g->tensors[n->in[1]];
    static const char *const keys[] = {"Q", "KK", "V", "MASK"};
    char e[200];
    for (int j = 0; j < 4; j++) {
        if (j < n->nin)
            sf_step_tensor(c, n->in[j], e, sizeof e);
        else
            snprintf(e, sizeof e, "NULL");
        STEP_SET(c, keys[j], "%s", e);
    }
    STEP_SET(c, "SQ", "%lld", (long long)x->dims[1]);
    STEP_SET(c, "SK", "%lld", (long long)k->dims[1]);
    STEP_SET(c, "H", "%d", n->at.heads);
    STEP_SET(c, "D", "%lld", (long long)(x->dims[2] / n->at.heads));
    STEP_SET(c, "CAUSAL", "%d", n->at.causal);
    if (!n->at.cache)
        return sf_step_expand(c, "step_attention");
    STEP_SET(c, "E", "%lld", (long long)x->dims[2]);
    STEP_SET(c, "COFF", "%zu", n->cache_offset);
    STEP_SET(c, "CHALF", "%lld", (long long)(x->dims[0] * n->at.cache * x->dims[2]));
    return sf_step_expand(c, "step_attention_cached");
}

const sf_op_family sf_family_attention = {"attention", shape, flops, step,
                                          SECTIONS("step_attention", "step_attention_cached")};
