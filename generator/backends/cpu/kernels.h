/* kernels.h - the registry of linear-layer kernel variants and the cost
 * model that picks one per layer. Tests and benchmarks iterate this same
 * table (`sfgen kernels`), so a variant added here is tested and measured. */
#ifndef SF_KERNELS_H
#define SF_KERNELS_H

#include "backends/cpu/plan.h"

/* A variant: a template (its family) with fixed tile sizes. Names say
 * datatype, op, format and tile: f32_linear_<format>_r<R>t<TB>, formats
 * dense, nmu (mask-unrolled), nmc (compressed values + indices). */
typedef struct sf_variant {
    const char *name;
    sf_kernel family;
    int row_block; /* R: output rows per register block */
    int tile_vecs; /* TB: vectors of SF_LANES tokens per tile (largest) */
    const char *about;
} sf_variant;

/* The registry, in a fixed order; *n receives its length. */
const sf_variant *sf_variant_list(int *n);
/* The variant called name, or NULL. */
const sf_variant *sf_variant_find(const char *name);

/* Predicted seconds of one call of layer L (its plan's computed rows,
 * columns and nonzeros) on variant v at `tokens` tokens and `threads`
 * threads. kernels.c documents the machine constants and where they were
 * measured; `make bench` checks the choice against the fastest variant. */
double sf_variant_cost(const sf_variant *v, const sf_linear *L, const sf_plan *p, int64_t tokens,
                       int threads);
/* Padded nonzeros of the compressed layout with blocks of R rows: each
 * block stores as many slots as its fullest row. */
size_t sf_ell_slots(const sf_plan *p, int R);

#endif
