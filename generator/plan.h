/* plan.h - per-layer kernel choice with a reason code, and the walk over a
 * layer's nonzeros that pack (values) and emit (code) share. */
#ifndef SF_PLAN_H
#define SF_PLAN_H

#include "graph.h"

typedef struct {
    int force_dense;        /* --dense */
    size_t unroll_budget;   /* max nonzeros per layer for mask-unrolled code */
    int force_kernel;       /* --kernel: use forced_kernel for every layer */
    sf_kernel forced_kernel;
} sf_plan_opts;

#define SF_DEFAULT_UNROLL_BUDGET 16384
/* Sparse kernels pay off below these densities of the computed block
 * (measured with bench/layer_bench.py). The compressed kernel loads one
 * activation vector per FMA where the dense and unrolled ones keep them in
 * registers; it still wins at 2:4 (1.15x on 768x768, 128 tokens). */
#define SF_MAX_DENSITY_UNROLLED 0.65
#define SF_MAX_DENSITY_COMPRESSED 0.55
#define SF_ROW_BLOCK_DENSE 16 /* the dense template assumes 16 */
#define SF_ROW_BLOCK_UNROLLED 8
#define SF_ROW_BLOCK_UNROLLED_MAX 16 /* rows named in one block's store */
#define SF_ROW_BLOCK_COMPRESSED 8

sf_status sf_plan_graph(sf_graph *g, const sf_plan_opts *opts);

/* Mask-unrolled order of one row block: the bias of each row, then for each
 * group of m inputs (k ascending), each row's nonzeros in the group. pack
 * writes values in this order and emit writes one FMA per visit. */
typedef struct {
    void (*group)(void *ctx, int k0, int k1);                   /* a new group */
    void (*load)(void *ctx, int k);                             /* x[k] used in group */
    void (*fma)(void *ctx, int r, int k, float w, size_t widx); /* acc[r] += w * x[k] */
} sf_walk_visitor;
/* Visits row block rb; returns the number of weights (bias + nonzeros). */
size_t sf_plan_walk_unrolled(const sf_linear *L, int rb, const sf_walk_visitor *v, void *ctx);

#endif
