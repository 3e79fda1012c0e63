/* cpu.h - the CPU backend (backends/backend.h): its plan (plan.c, the kernel
 * registry in kernels.c, the arena in arena.c), its blob sections (pack.c)
 * and its files (emit_cpu.c), and what the CUDA backend reuses of it. */
#ifndef SF_CPU_H
#define SF_CPU_H

#include "backends/cpu/pack.h"
#include "backends/cpu/plan.h"
#include "emit/emitter.h"

/* Arena layout of the generated run function (bytes, max batch). */
typedef struct {
    size_t total;     /* <NAME>_ARENA_BYTES */
    size_t live_peak; /* most bytes live at one step: the lower bound */
} sf_arena_plan;
/* Places every intermediate tensor and step scratch by liveness; sets
 * tensor arena_offset, node temp_offset and g->arena_bytes. */
sf_status sf_plan_arena(sf_graph *g, size_t max_bytes, sf_arena_plan *ap);

/* A tensor that lives in the arena: computed, and no graph output. */
static inline int sf_cpu_in_arena(const sf_tensor *t)
{
    return t->producer >= 0 && t->output_index < 0 && !t->is_const;
}

/* A convolution on the dense or compressed kernel runs channel-major, one
 * image at a time (the kernels' _chw form). */
int sf_cpu_conv_chw(const sf_graph *g, const sf_node *n);
/* A 1x1 stride-1 unpadded convolution reads its input as the kernel's rows. */
int sf_cpu_conv_no_cols(const sf_node *n);
/* Bytes of a lowered convolution's im2col rows and of its token-major result. */
size_t sf_cpu_conv_cols_bytes(const sf_graph *g, const sf_node *n);
size_t sf_cpu_conv_tok_bytes(const sf_graph *g, const sf_node *n);
/* Arena scratch of a linear step: activation tiles repacked for the kernel. */
size_t sf_cpu_tile_bytes(const sf_graph *g, const sf_node *n);
/* Pixel vectors per tile of the compressed _chw form. */
int sf_cpu_chw_vectors(const sf_plan *p);
/* The template variables of a linear layer's kernel (FN, K, O, R, offsets...). */
sf_status sf_cpu_layer_vars(sf_emitter *c, const sf_node *n);

#endif
