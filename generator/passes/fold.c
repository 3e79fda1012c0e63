/* fold.c - batch-norm folding: a batch norm whose input is a convolution's
 * output read by nothing else becomes that convolution's scale and shift
 * (weights and bias rescaled); the batch norm's step disappears. Runs before
 * SPA, so the census sees the folded weights. */
#include "passes/passes.h"

sf_status sf_pass_fold_batchnorm(sf_graph *g)
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
                return sf_error(SF_EINTERNAL, NULL, "out of memory");
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
