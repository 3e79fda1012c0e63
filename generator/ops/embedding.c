/* embedding.c - `embedding` / `gather` on a weight table: rows picked by
 * float-coded integer indices; an index outside the table is a run-time
 * error (<MODEL>_EINDEX). */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    const sf_tensor *x = &c->g->tensors[node->in[0]];
    sf_tensor *out = &c->g->tensors[node->out];
    sf_status st;
    int64_t axis;
    if ((st = sf_attr_int(c, n, "axis", 0, 0, 0, &axis)))
        return st;
    if (!n->weight)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "weight"), "missing (the table)");
    if (x->rank >= SF_MAX_RANK)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                        "input '%s' has rank %d: the "
                        "output adds one dimension, at most %d",
                        x->name, x->rank, SF_MAX_RANK);
    int64_t any[2] = {-1, -1};
    float *w;
    const sf_st_tensor *t;
    if ((st = sf_weight_f32(c, n, "weight", n->weight, 2, any, &w, &t)))
        return st;
    sf_node_add_const(node, "table", w, t->dims[0] * t->dims[1]);
    out->rank = x->rank + 1;
    memcpy(out->dims, x->dims, sizeof out->dims);
    out->dims[x->rank] = t->dims[1];
    return SF_OK;
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    const sf_graph *g = sf_step_graph(c);
    const sf_tensor *x = &g->tensors[n->in[0]], *to = &g->tensors[n->out];
    char t[200];
    sf_step_const(c, &n->cst[0], t, sizeof t);
    STEP_SET(c, "TABLE", "%s", t);
    STEP_SET(c, "ROWS", "%lld", (long long)(n->cst[0].n / to->dims[to->rank - 1]));
    STEP_SET(c, "DIM", "%lld", (long long)to->dims[to->rank - 1]);
    STEP_SET(c, "NIDX", "%lld", (long long)sf_tensor_inner(x));
    return sf_step_expand(c, "step_embedding");
}

const sf_op_family sf_family_embedding = {"embedding", shape, NULL, step,
                                          SECTIONS("step_embedding")};
