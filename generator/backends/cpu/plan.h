/* plan.h - per-layer kernel choice with a reason code, and the walk over a
 * layer's nonzeros that pack (values) and emit (code) share. */
#ifndef SF_PLAN_H
#define SF_PLAN_H

#include "ir/graph.h"

/* The CPU plan and packed layout of one linear layer (plan.c, pack.c). */
struct sf_variant;
#define SF_MAX_VARIANTS 8 /* entries of the kernel registry (kernels.c) */

typedef struct {
    sf_kernel kernel;
    const struct sf_variant *variant; /* registry entry: kernel and tile sizes */
    sf_reason reason;
    double cost_s[SF_MAX_VARIANTS]; /* predicted seconds per variant; < 0: not eligible */
    int n, m;                       /* the N:M the kernel groups inputs by */
    int *rows;
    int nrows; /* computed output rows, ascending */
    int *zero_rows;
    int nzero_rows; /* rows written as 0 (zero or unused) */
    int *cols;
    int ncols;      /* input columns that can contribute */
    size_t nnz;     /* nonzeros in rows x cols */
    int *row_nnz;   /* [nrows] nonzeros of each computed row */
    int64_t tokens; /* tokens of one call at the largest batch */
    int fits_24;    /* every computed row is 2:4 (aligned groups of 4) */
    int row_block;  /* rows per register block */
    int tile_vecs;  /* token vectors per tile (SF_LANES tokens each) */
    /* blob offsets (bytes) of this layer's sections, set by pack */
    size_t off_w, off_rows, off_rowptr, off_col, off_cols, off_zero_rows;
    int col_u16; /* compressed: 16-bit column indices */
    char fn[96]; /* C identifier of the layer function */
} sf_plan;

/* The CPU backend's side table: each linear layer's plan, by node. */
struct sf_cpu_layers {
    sf_plan *layer; /* [nnodes], for the nodes with a linear layer */
};

/* A linear layer's CPU plan (after sf_plan_graph). */
static inline sf_plan *sf_cpu_plan(const sf_graph *g, const sf_linear *L)
{
    return &g->cpu->layer[L->node];
}

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
    size_t max_arena;        /* --max-arena: most bytes of arena, cache or device
                                scratch (0: SF_DEFAULT_MAX_ARENA) */
    size_t static_arena_max; /* --static-arena: largest arena kept as a static array
                                (0: SF_DEFAULT_STATIC_ARENA; SIZE_MAX: always; see below) */
    int no_static_arena;     /* --static-arena 0: never a static arena */
} sf_plan_opts;

/* Memory bounds at generation (docs/CLI.md, --max-arena and --static-arena):
 * a model whose arena, key/value cache or CUDA scratch exceeds max_arena is
 * rejected; an arena above the static limit is the caller's only. */
#define SF_DEFAULT_MAX_ARENA    ((size_t)4 << 30)
#define SF_DEFAULT_STATIC_ARENA ((size_t)256 << 20)

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
size_t sf_plan_walk_unrolled(const sf_linear *L, const sf_plan *p, int rb, const sf_walk_visitor *v,
                             void *ctx);

#endif
