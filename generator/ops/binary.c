/* binary.c - elementwise ops of two inputs with NumPy broadcasting (add,
 * mul, sub, div, pow, min, max, the comparisons and logic ops, which give
 * 0/1 floats), and where (three inputs, the same rules): y = c != 0 ? a : b.
 * Operands are right-aligned; dimension 0 of the output is the batch; a
 * constant operand (ops/constant.c) repeats along it (sf_broadcast_shape). */
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

static sf_status shape(sf_vctx *c, const sf_desc_node *n, sf_node *node)
{
    const sf_tensor *ins[3];
    for (int j = 0; j < node->nin; j++)
        ins[j] = &c->g->tensors[node->in[j]];
    return sf_broadcast_shape(c, n, ins, node->nin, &c->g->tensors[node->out]);
}

/* Operand j's expression and dims as A/ADIMS, B/BDIMS, C/CDIMS, aligned to
 * the output's rank: the runtime reads a dims[0] of 1 as "not batched"
 * (sf_binary in runtime/cpu/sf_ops.h). */
static sf_status operand(sf_step_ctx *c, const sf_node *n, int j, const char *key)
{
    const sf_graph *g = sf_step_graph(c);
    const sf_tensor *t = &g->tensors[n->in[j]];
    int rank = g->tensors[n->out].rank;
    char e[200], d[256], k[16];
    sf_step_tensor(c, n->in[j], e, sizeof e);
    STEP_SET(c, key, "%s", e);
    sf_dims_aligned(t, rank, NULL, d, sizeof d);
    snprintf(k, sizeof k, "%sDIMS", key);
    STEP_SET(c, k, "%s", d);
    sf_dims_aligned(t, rank, "B", d, sizeof d);
    snprintf(k, sizeof k, "%sSHAPE", key);
    return sf_step_set(c, k, "%s", d);
}

static sf_status step(sf_step_ctx *c, const sf_node *n)
{
    const sf_graph *g = sf_step_graph(c);
    const sf_tensor *y = &g->tensors[n->out];
    char d[256];
    int w = n->op == SF_OP_WHERE; /* where's condition comes first */
    if (w)
        TRY(operand(c, n, 0, "C"));
    TRY(operand(c, n, w, "A"));
    TRY(operand(c, n, w + 1, "B"));
    sf_dims_list(y, NULL, d, sizeof d);
    STEP_SET(c, "YDIMS", "%s", d);
    STEP_SET(c, "RANK", "%d", y->rank);
    if (w)
        return sf_step_expand(c, "step_where");
    STEP_SET(c, "BOP", "%s", sf_op_get(n->op)->runtime);
    return sf_step_expand(c, "step_binary");
}

const sf_op_family sf_family_binary = {"binary", shape, NULL, step, SECTIONS("step_binary")};
const sf_op_family sf_family_where = {"where", shape, NULL, step, SECTIONS("step_where")};
