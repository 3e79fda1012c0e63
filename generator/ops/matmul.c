/* matmul.c - `matmul` between two activations (SF_OP_BMM): the last two
 * dimensions multiply, the leading ones broadcast as in NumPy. */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    const sf_tensor *a = &c->g->tensors[node->in[0]], *b = &c->g->tensors[node->in[1]];
    sf_tensor *out = &c->g->tensors[node->out];
    char sa[200], sb[200];
    sf_v_shape_str(a->dims, a->rank, sa, sizeof sa);
    sf_v_shape_str(b->dims, b->rank, sb, sizeof sb);
    int r = a->rank;
    if (r < 3 || b->rank != r)
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                        "'%s' %s and '%s' %s: expected "
                        "the same rank, at least 3 ([batch, ..., M, K] and [batch, ..., K, N])",
                        a->name, sa, b->name, sb);
    if (a->dims[r - 1] != b->dims[r - 2])
        return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                        "shape mismatch: '%s' %s has K = "
                        "%lld, '%s' %s has %lld rows",
                        a->name, sa, (long long)a->dims[r - 1], b->name, sb,
                        (long long)b->dims[r - 2]);
    out->rank = r;
    for (int i = 0; i < r - 2; i++) {
        if (a->dims[i] != b->dims[i] && (i == 0 || (a->dims[i] != 1 && b->dims[i] != 1)))
            return sf_error(SF_EINPUT, sf_v_where(c, n, "inputs"),
                            "shape mismatch: '%s' %s and"
                            " '%s' %s do not broadcast in dimension %d",
                            a->name, sa, b->name, sb, i);
        out->dims[i] = a->dims[i] > b->dims[i] ? a->dims[i] : b->dims[i];
    }
    out->dims[r - 2] = a->dims[r - 2];
    out->dims[r - 1] = b->dims[r - 1];
    return SF_OK;
}

static double flops(const sf_graph *g, const sf_node *n)
{
    const sf_tensor *x = &g->tensors[n->in[0]];
    return 2.0 * (double)sf_tensor_inner(&g->tensors[n->out]) * (double)x->dims[x->rank - 1];
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    const sf_graph *g = sf_step_graph(c);
    const sf_tensor *to = &g->tensors[n->out];
    char buf[256];
    sf_step_tensor(c, n->in[0], buf, sizeof buf);
    STEP_SET(c, "A", "%s", buf);
    sf_step_tensor(c, n->in[1], buf, sizeof buf);
    STEP_SET(c, "B", "%s", buf);
    sf_dims_list(&g->tensors[n->in[0]], "-1", buf, sizeof buf);
    STEP_SET(c, "ADIMS", "%s", buf);
    sf_dims_list(&g->tensors[n->in[1]], "-1", buf, sizeof buf);
    STEP_SET(c, "BDIMS", "%s", buf);
    sf_dims_list(to, "-1", buf, sizeof buf);
    STEP_SET(c, "YDIMS", "%s", buf);
    STEP_SET(c, "RANK", "%d", to->rank);
    return sf_step_expand(c, "step_bmm");
}

const sf_op_family sf_family_matmul = {"matmul", shape, flops, step, SECTIONS("step_bmm")};
