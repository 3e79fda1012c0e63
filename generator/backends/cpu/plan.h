/* plan.h - per-layer kernel choice with a reason code, and the walk over a
 * layer's nonzeros that pack (values) and emit (code) share. */
#ifndef SF_PLAN_H
#define SF_PLAN_H

#include "ir/graph.h"

typedef struct {
    int force_dense;      /* --dense */
    size_t unroll_budget; /* max nonzeros per layer for mask-unrolled code */
    int force_kernel;     /* --kernel FAMILY: choose within forced_kernel only */
    sf_kernel forced_kernel;
    const struct sf_variant *forced_variant; /* --kernel VARIANT: exactly this one */
    int threads;                             /* threads the plan is costed for (0: 1) */
    int target_cuda;                         /* --target cuda: plan the GPU kernels too */
    sf_gpu_dtype gpu_dtype;                  /* --gpu-dtype */
    int gpu_force; /* --gpu-kernel: every layer on gpu_forced where eligible */
    sf_gkernel gpu_forced;
} sf_plan_opts;

/* The code-size budget: a layer is mask-unrolled only up to this many
 * nonzeros (each is one instruction of about 10 bytes). */
#define SF_DEFAULT_UNROLL_BUDGET    16384
#define SF_ROW_BLOCK_UNROLLED_MAX   16 /* rows named in one block's store */
#define SF_ROW_BLOCK_COMPRESSED_MAX 64 /* rows of one ELL block in pack */

/* A kernel per linear layer, then the arena (arena.c). */
sf_status sf_plan_graph(sf_graph *g, const sf_plan_opts *opts);

/* mask[k] = 1 for each input column the plan keeps (mask: L->in zeroed bytes). */
void sf_plan_col_mask(const sf_plan *p, unsigned char *mask);

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
