/* emit_cuda.c - the CUDA backend's files: <model>.cu (the model's
 * description for the runtime's context, sf_cuda_ctx.cuh; the steps on one
 * stream; the entry points over the context), <model>_cuda.h and the CUDA
 * runtime (docs/CUDA.md). The CUDA plan (plan_cuda.c) chose each layer's kernel, the
 * epilogue fusions and the device scratch. */
#include "backends/backend.h"
#include "backends/cpu/cpu.h"
#include "backends/cuda/cuda.h"
#include "ops/family.h"

#include <stdio.h>
#include <string.h>

#define T_MODEL_CU "cuda/model.cu.in"
#define T_CUDA_H   "cuda/model_cuda.h.in"

/* A linear layer, or a convolution lowered to one, on its GPU kernel: the
 * call reads XIN and writes YOUT for TOK tokens (model.cu.in "g_*"). */
static sf_status gpu_linear(sf_emitter *c, const sf_node *n, sf_buf *out)
{
    const sf_linear *L = n->lin;
    const sf_gplan *gp = sf_cuda_gplan(c->g, L);
    sf_gpu_dtype dt = c->g->gpu_dtype;
    const char *sec = gp->kernel == SF_G_SP24  ? "g_sp24"
                      : gp->kernel == SF_G_ELL ? "g_ell"
                      : dt == SF_GPU_F32       ? "g_dense_f32"
                                               : "g_dense_half";
    SET("GKERNEL", "%s", gp->name);
    SET("O", "%lld", (long long)L->out);
    SET("K", "%lld", (long long)L->in);
    SET("KP", "%lld", (long long)gp->Kp);
    SET("HALF", "%d", dt == SF_GPU_F16);
    SET("HTYPE", "%s", dt == SF_GPU_F16 ? "__half" : "__nv_bfloat16");
    SET("VTYPE", "%s", dt == SF_GPU_F32 ? "float" : dt == SF_GPU_F16 ? "__half" : "__nv_bfloat16");
    SET("ITYPE", "%s",
        gp->idx_bytes == 1   ? "uint8_t"
        : gp->idx_bytes == 2 ? "uint16_t"
                             : "int32_t");
    SET("SLOTS", "%d", gp->slots);
    SET("GN", "%d", gp->group_n);
    SET("GM", "%d", gp->group_m);
    SET("OFFW", "%zu", gp->off_w);
    SET("OFFI", "%zu", gp->off_idx);
    SET("OFFB", "%zu", gp->off_bias);
    return sf_emit_expand(c, T_MODEL_CU, sec, out);
}

/* Device scratch offsets of a lowered convolution: im2col rows, token-major
 * result, half activations; 256-byte aligned. */
static size_t align256(size_t n)
{
    return (n + 255) & ~(size_t)255;
}

/* A linear layer, or a convolution lowered to one, on its GPU kernel. */
static sf_status linear_step(sf_emitter *c, const sf_node *n)
{
    sf_buf *out = c->out;
    sf_graph *g = c->g;
    const sf_linear *L = n->lin;
    const int64_t T = sf_cpu_plan(g, L)->tokens;
    char y[96];
    SET("ACT", "SFC_NO_ACT");
    SET("FUSED", "%s", "");
    if (n->op == SF_OP_LINEAR) {
        SET("XH", "0");
        SET("GKERNEL", "%s", sf_cuda_gplan(c->g, L)->name);
        TRY(sf_cpu_layer_vars(c, n));
        SET("TOK", "batch * %lld", (long long)L->tokens_per_item);
        const int oi = c->step;
        const sf_node *m =
            oi + 1 < g->nsteps && g->cuda->fused[oi + 1] ? &g->nodes[g->order[oi + 1]] : NULL;
        if (m) {
            SET("ACT", "%s", sf_unary_runtime(m));
            SET("FUSED", " + %s in the epilogue (step %d)", m->op_written, oi + 1);
        }
        TRY(sf_emit_expand(c, T_MODEL_CU, "step_linear_begin", out));
        sf_emit_tensor(c, n->in[0], y, sizeof y);
        SET("XIN", "%s", y);
        sf_emit_tensor(c, m ? m->out : n->out, y, sizeof y);
        SET("YOUT", "%s", y);
        TRY(gpu_linear(c, n, out));
        return sf_emit_expand(c, T_MODEL_CU, "step_linear_end", out);
    }
    size_t cols = align256((size_t)T * (size_t)L->in * 4);
    size_t tok = align256((size_t)T * (size_t)L->out * 4);
    TRY(sf_step_conv_shape(c, n));
    TRY(sf_cpu_layer_vars(c, n));
    SET("GKERNEL", "%s", sf_cuda_gplan(c->g, L)->name);
    SET("COLS", "0");
    SET("TOKBUF", "%zu", cols);
    SET("XH", "%zu", cols + tok);
    SET("TOKENS", "%lld", (long long)L->tokens_per_item);
    SET("TOK", "batch * %lld", (long long)L->tokens_per_item);
    TRY(sf_emit_expand(c, T_MODEL_CU, "step_conv_begin", out));
    SET("XIN", "(float *)(void *)(S + 0)");
    SET("YOUT", "(float *)(void *)(S + %zu)", cols);
    TRY(gpu_linear(c, n, out));
    return sf_emit_expand(c, T_MODEL_CU, "step_conv_end", out);
}

/* An entry point of <model>.cu (list ENTRIES): what it passes on. */
static sf_status entry(sf_emitter *c, const char *name, int host, int cached)
{
    if (sf_vars_item(&c->v, "ENTRIES") || sf_vars_item_set(&c->v, "ENTRIES", "ENTRY", "%s", name) ||
        sf_vars_item_set(&c->v, "ENTRIES", "HOST", "%d", host) ||
        sf_vars_item_set(&c->v, "ENTRIES", "CACHED", "%d", cached) ||
        sf_vars_item_set(&c->v, "ENTRIES", "CACHE_LEN", "%s", cached ? "cache_len" : "0") ||
        sf_vars_item_set(&c->v, "ENTRIES", "EXTRA_PARAM", "%s", cached ? ", int cache_len" : ""))
        return sf_oom();
    return SF_OK;
}

/* --target cuda: <model>.cu, <model>_cuda.h and the CUDA runtime. The CUDA
 * plan (plan_cuda.c) chose the fusions and sized the device scratch. */
static sf_status emit(sf_emitter *c)
{
    sf_graph *g = c->g;
    if (!g->cuda)
        return sf_error(SF_EINTERNAL, NULL, "the CUDA plan did not run");
    c->fused = g->cuda->fused;
    sf_status st = sf_emit_steps(c);
    c->fused = NULL;
    TRY(st);
    SET("CUDA_SCRATCH", "%zu", g->cuda->scratch);
    SET("GPU_DTYPE", "%s", sf_gpu_dtype_name(g->gpu_dtype));
    SET("CUDA_CACHE_BYTES", "%zu", g->cache_floats * sizeof(float));
    if (sf_vars_list(&c->v, "ENTRIES"))
        return sf_oom();
    TRY(entry(c, "run", 0, 0));
    TRY(entry(c, "run_host", 1, 0));
    if (g->cache_tokens)
        TRY(entry(c, "run_cached", 0, 1));
    TRY(sf_emit_whole(c, ".cu", T_MODEL_CU));
    TRY(sf_emit_whole(c, "_cuda.h", T_CUDA_H));
    return sf_emit_runtime(c, "cuda");
}

static const char *kernel_name(const sf_emitter *c, int oi)
{
    static _Thread_local char name[96];
    const sf_node *n = &c->g->nodes[c->g->order[oi]];
    snprintf(name, sizeof name, "%s%s",
             n->lin ? sf_cuda_gplan(c->g, n->lin)->name : sf_op_name(n->op),
             c->g->cuda->fused[oi] ? " (fused)" : "");
    return name;
}

static void const_expr(const sf_emitter *c, size_t off, char *buf, size_t n)
{
    (void)c;
    snprintf(buf, n, "(const float *)(const void *)(W + %zu)", off);
}

const sf_backend sf_backend_cuda = {
    .name = "cuda",
    .model_template = T_MODEL_CU,
    .plan = sf_plan_cuda_graph,
    .pack = sf_pack_cuda,
    .emit = emit,
    .linear_step = linear_step,
    .kernel_name = kernel_name,
    .const_expr = const_expr,
};
