/* backend.h - the interface every backend implements (docs/ARCHITECTURE.md,
 * "Backends"). The driver runs each one's plan among the passes, then its
 * pack and its emit; the op families reach its linear step and weight
 * expressions through the emitter. A backend keeps its decisions in its own
 * side tables (the CUDA one: g->cuda), so adding one touches no other. */
#ifndef SF_BACKEND_H
#define SF_BACKEND_H

#include "backends/cpu/plan.h"
#include "emit/emitter.h"

typedef struct sf_backend {
    const char *name;           /* as --target names it */
    const char *model_template; /* templates/ path where op steps are written */
    /* Kernels and everything else it decides before any text is written. */
    sf_status (*plan)(sf_graph *g, const sf_plan_opts *o);
    /* Appends its weight sections to the blob and folds their layout into
     * blob->mask_hash. */
    sf_status (*pack)(sf_graph *g, sf_blob *blob);
    /* Writes its files (e->backend is this backend). */
    sf_status (*emit)(sf_emitter *e);
    /* The step of a linear layer, or of a convolution lowered to one. */
    sf_status (*linear_step)(sf_emitter *e, const sf_node *n);
    /* The kernel step oi runs on, for reports and profiles. */
    const char *(*kernel_name)(const sf_emitter *e, int oi);
    /* What a step's arena scratch holds (CPU backend). */
    const char *(*scratch_what)(const sf_graph *g, const sf_node *n);
    /* The C expression of the weight at blob offset `off`. */
    void (*const_expr)(const sf_emitter *e, size_t off, char *buf, size_t n);
} sf_backend;

extern const sf_backend sf_backend_cpu;  /* backends/cpu/emit_cpu.c: always on */
extern const sf_backend sf_backend_cuda; /* backends/cuda/emit_cuda.c: --target cuda */

#define SF_MAX_BACKENDS 4
/* The backends a graph is generated for (cpu first); returns how many. */
int sf_backends_of(const sf_graph *g, const sf_backend **out);

#endif
