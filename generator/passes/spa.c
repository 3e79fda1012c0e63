/* spa.c - Sparsity Propagation Analysis (DESIGN §2).
 *
 * Census: density; for every M <= 32 the smallest N such that each group of
 * M consecutive weights along the reduction axis has at most N nonzeros (the
 * last group of a row may be shorter); the share of groups that already
 * comply with M/4 and M/2 (near-misses); zero rows and columns.
 *
 * Propagation: a channel is the last dimension of a tensor (axis 1 of a
 * rank-4 one). Forward, a linear
 * output channel is exactly zero when its weight row has no nonzero on a
 * nonzero input channel and its bias is zero; ops with f(0) = 0 keep zeros;
 * add keeps a zero only where both sides are zero; mul where either is; a
 * constant's zero channels come from its values.
 * Backward, a channel is needed if a graph output contains it or a consumer
 * reads it with a nonzero weight. Exactness assumes finite activations
 * (0 * x == 0). */
#include "passes/spa.h"
#include "ir/op.h"

#include <string.h>

void sf_census_compute(const float *w, int64_t out, int64_t in, sf_census *c)
{
    memset(c, 0, sizeof *c);
    c->numel = (size_t)(out * in);
    int64_t groups[SF_MAX_M + 1] = {0}, quarter[SF_MAX_M + 1] = {0}, half[SF_MAX_M + 1] = {0};
    for (int64_t o = 0; o < out; o++) {
        const float *row = w + o * in;
        int rownz = 0;
        for (int64_t k = 0; k < in; k++)
            if (row[k] != 0.0f)
                rownz++;
        c->nnz += (size_t)rownz;
        if (!rownz)
            c->zero_rows++;
        for (int m = 1; m <= SF_MAX_M; m++) {
            for (int64_t k0 = 0; k0 < in; k0 += m) {
                int64_t k1 = k0 + m < in ? k0 + m : in;
                int nz = 0;
                for (int64_t k = k0; k < k1; k++)
                    nz += row[k] != 0.0f;
                if (nz > c->n_min[m])
                    c->n_min[m] = nz;
                groups[m]++;
                quarter[m] += nz <= m / 4;
                half[m] += nz <= m / 2;
            }
        }
    }
    for (int64_t k = 0; k < in; k++) {
        int nz = 0;
        for (int64_t o = 0; o < out && !nz; o++)
            nz = w[o * in + k] != 0.0f;
        c->zero_cols += !nz;
    }
    c->density = c->numel ? (double)c->nnz / (double)c->numel : 0.0;
    for (int m = 1; m <= SF_MAX_M; m++) {
        c->share_quarter[m] = groups[m] ? (double)quarter[m] / (double)groups[m] : 0;
        c->share_half[m] = groups[m] ? (double)half[m] / (double)groups[m] : 0;
    }
    /* The pattern with the smallest N/M over M in {2, 4, 8, 16, 32} (any N)
     * and M <= in; ties go to the smaller M (fewer registers per group).
     * Other M would let a short tail group masquerade as a pattern (4:17 for
     * a 1:4 mask; 4:32 for a 2:4 row of 8). */
    c->best_n = c->n_min[2];
    c->best_m = 2;
    for (int m = 4; m <= SF_MAX_M && m <= in; m *= 2)
        if ((int64_t)c->n_min[m] * c->best_m < (int64_t)c->best_n * m) {
            c->best_n = c->n_min[m];
            c->best_m = m;
        }
}

void sf_spa_census(sf_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        sf_linear *L = g->nodes[i].lin;
        if (L && !g->nodes[i].folded)
            sf_census_compute(L->w, L->out, L->in, &L->census);
    }
}

/* Channel of operand t that feeds output channel c of `out` under
 * broadcasting (right-aligned, docs/FORMATS.md), or -1 when t's channel
 * axis is not the one aligned with out's (an operand of lower rank): then
 * no channel of it is known to feed c alone. */
static int64_t bcast(const sf_tensor *out, const sf_tensor *t, int64_t c)
{
    int k = sf_tensor_chan_axis(out) - (out->rank - t->rank);
    if (k != sf_tensor_chan_axis(t))
        return -1;
    return t->dims[k] == 1 ? 0 : c;
}
/* Whether every value of t feeding channel ch is zero (ch from bcast). */
static int zero_at(const sf_tensor *t, int64_t ch)
{
    return ch >= 0 && sf_tensor_zero(t, ch);
}

/* A constant's channels that are all zero, from its values. */
static void const_zero(const sf_node *n, sf_tensor *out)
{
    int ax = sf_tensor_chan_axis(out);
    int64_t C = out->dims[ax], inner = 1;
    for (int i = ax + 1; i < out->rank; i++)
        inner *= out->dims[i];
    memset(out->zero, 1, (size_t)C);
    for (int64_t i = 0; i < n->cst[0].n; i++)
        if (n->cst[0].data[i] != 0.0f)
            out->zero[i / inner % C] = 0;
}

/* Ops whose output channel c depends only on input channel c (broadcast):
 * the op table's zero rules KEEP, CHAN, BOTH, EITHER, and batch norm. */
static int channelwise(const sf_node *n)
{
    return sf_op_channelwise(n->op);
}

/* Input channel of output channel c through a flatten, or a concat along the
 * channel axis (sets *src to the input); -1 when the op does not map channels. */
static int64_t channel_source(const sf_graph *g, const sf_node *n, int64_t c, int *src)
{
    const sf_tensor *out = &g->tensors[n->out];
    if (n->op == SF_OP_FLATTEN) {
        const sf_tensor *a = &g->tensors[n->in[0]];
        *src = 0;
        if (sf_tensor_chan_axis(a) == a->rank - 1)
            return c % sf_tensor_channels(a);
        int64_t inner = sf_tensor_inner(a) / sf_tensor_channels(a); /* NCHW: H*W */
        return c / inner;
    }
    if (n->op == SF_OP_CONCAT && n->at.axis == sf_tensor_chan_axis(out)) {
        for (int j = 0; j < n->nin; j++) {
            int64_t cj = sf_tensor_channels(&g->tensors[n->in[j]]);
            if (c < cj) {
                *src = j;
                return c;
            }
            c -= cj;
        }
    }
    return -1;
}

static void forward(sf_graph *g)
{
    for (int oi = 0; oi < g->nsteps; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (n->folded)
            continue;
        sf_tensor *out = &g->tensors[n->out];
        const sf_tensor *a = &g->tensors[n->in[0]];
        const sf_tensor *b = n->nin > 1 ? &g->tensors[n->in[1]] : NULL;
        int64_t C = sf_tensor_channels(out);
        if (!out->zero)
            continue;                    /* not analysed: no channel known zero */
        memset(out->zero, 0, (size_t)C); /* unknown: assume nonzero (sigmoid(0) = 0.5) */
        if (n->lin) {
            const sf_linear *L = n->lin;
            for (int64_t o = 0; o < C && L->chan_rows; o++) {
                int zero = !L->bias || L->bias[o] == 0.0f;
                for (int64_t k = 0; k < L->in && zero; k++)
                    if (L->w[o * L->in + k] != 0.0f && !sf_linear_col_zero(L, a, k))
                        zero = 0;
                out->zero[o] = (unsigned char)zero;
            }
        } else if (n->op == SF_OP_CONSTANT) {
            const_zero(n, out);
        } else if (sf_op_get(n->op)->zero == SF_Z_BOTH) { /* add, sub: 0 ± 0 */
            for (int64_t c = 0; c < C; c++)
                out->zero[c] = zero_at(a, bcast(out, a, c)) && zero_at(b, bcast(out, b, c));
        } else if (sf_op_get(n->op)->zero == SF_Z_EITHER) { /* mul: 0 · x */
            for (int64_t c = 0; c < C; c++)
                out->zero[c] = zero_at(a, bcast(out, a, c)) || zero_at(b, bcast(out, b, c));
        } else if (n->op == SF_OP_BATCHNORM) { /* y = x*scale + shift per channel */
            for (int64_t c = 0; c < C; c++)
                out->zero[c] = n->cst[1].data[c] == 0.0f &&
                               (sf_tensor_zero(a, c) || n->cst[0].data[c] == 0.0f);
        } else if (sf_op_keeps_zero(n->op)) { /* f(0) = 0; expand broadcasts */
            for (int64_t c = 0; c < C; c++)
                out->zero[c] = zero_at(a, bcast(out, a, c));
        } else if (n->op == SF_OP_FLATTEN || n->op == SF_OP_CONCAT) {
            for (int64_t c = 0; c < C; c++) {
                int j;
                int64_t s = channel_source(g, n, c, &j);
                out->zero[c] = s >= 0 && sf_tensor_zero(&g->tensors[n->in[j]], s);
            }
        }
    }
}

static void need_all(sf_tensor *t)
{
    if (t->needed)
        memset(t->needed, 1, (size_t)sf_tensor_channels(t));
}

static void need(sf_tensor *t, int64_t c)
{
    if (t->needed)
        t->needed[c] = 1;
}

static void backward(sf_graph *g)
{
    for (int i = 0; i < g->noutputs; i++)
        need_all(&g->tensors[g->outputs[i]]);
    for (int oi = g->nsteps - 1; oi >= 0; oi--) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (n->folded)
            continue;
        const sf_tensor *out = &g->tensors[n->out];
        int64_t C = sf_tensor_channels(out);
        if (!out->needed) { /* not analysed: every channel needed */
            for (int j = 0; j < n->nin; j++)
                need_all(&g->tensors[n->in[j]]);
            continue;
        }
        if (n->lin) {
            const sf_linear *L = n->lin;
            sf_tensor *in = &g->tensors[n->in[0]];
            if (!L->chan_cols || !L->chan_rows) {
                need_all(in);
                continue;
            }
            for (int64_t o = 0; o < C; o++) {
                if (!out->needed[o] || out->zero[o])
                    continue;
                for (int64_t k = 0; k < L->in; k++)
                    if (L->w[o * L->in + k] != 0.0f)
                        need(in, k / L->k_per_chan);
            }
        } else if (channelwise(n)) {
            for (int j = 0; j < n->nin; j++) {
                sf_tensor *in = &g->tensors[n->in[j]];
                for (int64_t c = 0; c < C; c++) {
                    int64_t ch = bcast(out, in, c);
                    if (ch < 0) {
                        need_all(in);
                        break;
                    }
                    if (out->needed[c])
                        need(in, ch);
                }
            }
        } else if (n->op == SF_OP_FLATTEN ||
                   (n->op == SF_OP_CONCAT && n->at.axis == sf_tensor_chan_axis(out))) {
            for (int64_t c = 0; c < C; c++) {
                int j;
                int64_t s = channel_source(g, n, c, &j);
                if (out->needed[c])
                    need(&g->tensors[n->in[j]], s);
            }
        } else {
            for (int j = 0; j < n->nin; j++)
                need_all(&g->tensors[n->in[j]]);
        }
    }
}

void sf_spa_propagate(sf_graph *g, int propagate)
{
    for (int i = 0; i < g->ntensors; i++) {
        sf_tensor *t = &g->tensors[i];
        size_t C = (size_t)sf_tensor_channels(t);
        if (!t->zero)
            continue; /* not analysed */
        memset(t->zero, 0, C);
        memset(t->needed, propagate ? 0 : 1, C);
    }
    if (!propagate)
        return;
    forward(g);
    backward(g);
}
