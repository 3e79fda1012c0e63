/* plan_cuda.c - the GPU kernel of every linear layer (and convolution lowered
 * to one), with a reason, for --target cuda:
 *
 *   dense  cuBLAS (cublasGemmEx), weights in --gpu-dtype, fp32 accumulation
 *   sp24   2:4 on sparse tensor cores (mma.sp m16n8k32), bf16/f16 only, and
 *          only where every group of 4 weights along K has at most 2 nonzeros
 *   ell    any sparsity on CUDA cores: values + an index per slot, either the
 *          column or, where every group of M inputs holds at most N nonzeros,
 *          the position in the group (one byte; N slots per group)
 *
 * The cost model adds compute time, the bytes a call moves through memory,
 * and kernel launches. Its rates are what `make bench-cuda` measured on an
 * H100 80GB HBM3 (docs/CUDA.md): each kernel's dense-equivalent flop/s on
 * BERT-large and GPT-2 layers at 4096 tokens, and the bytes/s of its weight
 * stream when decoding 8192x8192 and 11008x4096 with a cold L2. The 2:4
 * tensor-core kernel (mma.sp, not wgmma) is slower than cuBLAS at many
 * tokens, so prefill-sized layers go to cuBLAS and decoding to 2:4. */
#include "backends/cpu/kernels.h"
#include "backends/cuda/cuda.h"
#include "ir/op.h"
#include "backends/cuda/sp24.h"

#include <stdio.h>
#include <string.h>

#define BW_DENSE  2.2e12        /* bytes/s: cuBLAS GEMV, bf16 weights (measured) */
#define BW_SP24   1.8e12        /* the 2:4 stream kernel (measured) */
#define BW_ELL    1.1e12        /* the ELL kernel, one token (measured) */
#define BW        BW_DENSE      /* activations */
#define TC_DENSE  600e12        /* flop/s of cuBLAS bf16/f16 at 4096 tokens (measured) */
#define TC_SPARSE 320e12        /* dense-equivalent flop/s of the 2:4 tiled kernel (measured) */
#define CC_F32    (0.6 * 67e12) /* flop/s of fp32 on CUDA cores (cuBLAS, no TF32; assumed) */
#define CC_ELL    2.6e12 /* flop/s of the ELL kernel, 16 tokens (measured: gathers bound it) */
#define LAUNCH_S  3e-6   /* per kernel launch */

const char *sf_gkernel_name(sf_gkernel k)
{
    static const char *const n[SF_G_COUNT] = {"dense", "sp24", "ell"};
    return k < SF_G_COUNT ? n[k] : "?";
}

const char *sf_gpu_dtype_name(sf_gpu_dtype d)
{
    return d == SF_GPU_BF16 ? "bf16" : d == SF_GPU_F16 ? "f16" : "f32";
}

static int value_bytes(sf_gpu_dtype d)
{
    return d == SF_GPU_F32 ? 4 : 2;
}

/* The weight the GPU computes with: columns that cannot contribute (SPA) are
 * zero, so dead inputs never break a 2:4 group. */
static float gpu_w(const sf_linear *L, const unsigned char *colmask, int64_t r, int64_t k)
{
    return colmask[k] ? L->w[r * L->in + k] : 0.0f;
}

static sf_status col_mask(sf_graph *g, const sf_linear *L, unsigned char **out)
{
    unsigned char *m = sf_arena_alloc(&g->arena, (size_t)L->in);
    if (!m)
        return sf_error(SF_EINTERNAL, NULL, "out of memory");
    sf_plan_col_mask(sf_cpu_plan(g, L), m);
    *out = m;
    return SF_OK;
}

/* The most nonzeros in any group of m inputs of any row. */
static int group_max(const sf_linear *L, const unsigned char *colmask, int m)
{
    int most = 0;
    for (int64_t r = 0; r < L->out; r++)
        for (int64_t k0 = 0; k0 < L->in; k0 += m) {
            int n = 0;
            for (int64_t k = k0; k < k0 + m && k < L->in; k++)
                n += gpu_w(L, colmask, r, k) != 0.0f;
            most = n > most ? n : most;
        }
    return most;
}

/* The ELL layout that stores fewest bytes: absolute columns (the fullest
 * row's nonzeros per row), or N:M positions for the M of 4..32 with the
 * fewest slots. */
static void ell_layout(const sf_linear *L, const unsigned char *colmask, sf_gplan *gp, int vb)
{
    const int64_t K = L->in;
    double best = (double)gp->slots * (vb + gp->idx_bytes);
    for (int m = 4; m <= 32; m *= 2) {
        const int n = group_max(L, colmask, m);
        const int64_t slots = (K + m - 1) / m * (n ? n : 1);
        if (n < m && slots < 1 << 30 && (double)slots * (vb + 1) < best) {
            best = (double)slots * (vb + 1);
            gp->slots = (int)slots;
            gp->idx_bytes = 1;
            gp->group_n = n ? n : 1;
            gp->group_m = m;
        }
    }
}

/* The fullest row's nonzeros, and whether every group of 4 holds at most 2. */
static void scan(const sf_linear *L, const unsigned char *colmask, sf_gplan *gp, int *fits24)
{
    int maxnnz = 0;
    *fits24 = 1;
    for (int64_t r = 0; r < L->out; r++) {
        int nnz = 0;
        for (int64_t k0 = 0; k0 < L->in; k0 += 4) {
            int in_group = 0;
            for (int64_t k = k0; k < k0 + 4 && k < L->in; k++)
                in_group += gpu_w(L, colmask, r, k) != 0.0f;
            nnz += in_group;
            if (in_group > 2 && *fits24) {
                *fits24 = 0;
                snprintf(gp->why_not_sp24, sizeof gp->why_not_sp24,
                         "row %lld has %d nonzeros in columns %lld..%lld", (long long)r, in_group,
                         (long long)k0, (long long)(k0 + 3 < L->in ? k0 + 3 : L->in - 1));
            }
        }
        maxnnz = nnz > maxnnz ? nnz : maxnnz;
    }
    gp->slots = maxnnz ? maxnnz : 1;
}

/* Arena bytes of a tensor at the largest batch; 0 outside the arena. */
static size_t arena_bytes(const sf_tensor *t)
{
    if (t->input_index >= 0 || t->output_index >= 0 || t->is_const)
        return 0;
    return (size_t)t->dims[0] * (size_t)sf_tensor_inner(t) * sizeof(float);
}

/* CUDA: the activation at step oi + 1 runs in the epilogue of the linear
 * layer at step oi when it is that layer's only reader, the layer's output
 * is no graph output, and writing the activation's output during the layer
 * cannot clobber the layer's input (the arena may reuse its bytes). */
static int fuses_act(const sf_graph *g, int oi)
{
    if (oi + 1 >= g->nsteps)
        return 0;
    const sf_node *n = &g->nodes[g->order[oi]], *m = &g->nodes[g->order[oi + 1]];
    if (n->op != SF_OP_LINEAR || !n->lin || !sf_op_is_unary(m->op) || sf_op_get(m->op)->attrs ||
        m->in[0] != n->out)
        return 0; /* an activation with parameters has no epilogue form */
    const sf_tensor *h = &g->tensors[n->out], *x = &g->tensors[n->in[0]];
    const sf_tensor *y = &g->tensors[m->out];
    if (h->nconsumers != 1 || h->output_index >= 0)
        return 0;
    size_t xb = arena_bytes(x), yb = arena_bytes(y);
    return !xb || !yb || x->arena_offset + xb <= y->arena_offset ||
           y->arena_offset + yb <= x->arena_offset;
}

static size_t align256(size_t n)
{
    return (n + 255) & ~(size_t)255;
}

/* The epilogue fusions, and the device scratch of the largest step: a lowered
 * convolution holds its im2col rows and token-major result (256-byte
 * aligned) besides its kernel's own scratch. */
static sf_status plan_steps(sf_graph *g, size_t max)
{
    struct sf_cuda_steps *cs = g->cuda;
    if (!(cs->fused = sf_arena_alloc(&g->arena, (size_t)g->nsteps + 1)))
        return sf_error(SF_EINTERNAL, NULL, "out of memory");
    for (int oi = 0; oi < g->nsteps; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        cs->fused[oi] = (unsigned char)(oi > 0 && fuses_act(g, oi - 1));
        cs->nfused += cs->fused[oi];
        if (!n->lin)
            continue;
        const sf_linear *L = n->lin;
        size_t need = sf_cuda_gplan(g, L)->scratch;
        if (n->op == SF_OP_CONV2D)
            need += align256((size_t)sf_cpu_plan(g, L)->tokens * (size_t)L->in * 4) +
                    align256((size_t)sf_cpu_plan(g, L)->tokens * (size_t)L->out * 4);
        cs->scratch = need > cs->scratch ? need : cs->scratch;
        if (need > max) {
            char where[300];
            snprintf(where, sizeof where, "%s: node '%s' (nodes[%d])", g->model_base, n->name,
                     n->json_index);
            return sf_error(SF_EINPUT, where,
                            "the CUDA device scratch would need %zu bytes, more than "
                            "--max-arena %zu: lower the batch or the sizes, or raise --max-arena",
                            need, max);
        }
    }
    return SF_OK;
}

sf_status sf_plan_cuda_graph(sf_graph *g, const sf_plan_opts *o)
{
    g->target_cuda = o->target_cuda;
    g->gpu_dtype = o->gpu_dtype;
    if (!o->target_cuda)
        return SF_OK;
    struct sf_cuda_steps *cs = sf_arena_alloc(&g->arena, sizeof *cs);
    if (!cs || !(cs->layer = sf_arena_array(&g->arena, (size_t)g->nnodes, sizeof *cs->layer)))
        return sf_error(SF_EINTERNAL, NULL, "out of memory");
    g->cuda = cs;
    for (int oi = 0; oi < g->nsteps; oi++) {
        sf_node *n = &g->nodes[g->order[oi]];
        if (!n->lin)
            continue;
        sf_linear *L = n->lin;
        sf_gplan *gp = sf_cuda_gplan(g, L);
        unsigned char *colmask = NULL;
        TRY(col_mask(g, L, &colmask));
        memset(gp, 0, sizeof *gp);
        int fits24;
        scan(L, colmask, gp, &fits24);
        if (o->gpu_dtype == SF_GPU_F32) {
            fits24 = 0;
            snprintf(gp->why_not_sp24, sizeof gp->why_not_sp24,
                     "sparse tensor cores take bf16/f16 (--gpu-dtype f32)");
        }
        const double T = (double)sf_cpu_plan(g, L)->tokens, O = (double)L->out, K = (double)L->in;
        const double vb = value_bytes(o->gpu_dtype), flops = 2.0 * T * O * K;
        gp->Op = sf_sp24_rows_padded(L->out);
        gp->Kp = o->gpu_dtype == SF_GPU_F32 ? L->in : sf_sp24_cols_padded(L->in);
        gp->idx_bytes = L->in <= 65536 ? 2 : 4;
        ell_layout(L, colmask, gp, (int)vb);
        const double Kp = (double)gp->Kp, act_in = T * K * 4, act_out = T * O * 4;
        const double half_x = o->gpu_dtype == SF_GPU_F32 ? 0.0 : act_in + T * Kp * 2;
        /* dense: [convert x,] GEMM, bias */
        gp->cost_s[SF_G_DENSE] = flops / (o->gpu_dtype == SF_GPU_F32 ? CC_F32 : TC_DENSE) +
                                 O * Kp * vb / BW_DENSE +
                                 (half_x + T * Kp * vb + act_out * 3) / BW +
                                 LAUNCH_S * (o->gpu_dtype == SF_GPU_F32 ? 2 : 3);
        /* sp24: convert x, one kernel; half the values plus 4 bits per kept pair */
        gp->cost_s[SF_G_SP24] =
            fits24 ? flops / TC_SPARSE +
                         ((double)gp->Op * Kp / 2 * vb + (double)gp->Op * Kp / 8) / BW_SP24 +
                         (half_x + T * Kp * 2 + act_out) / BW + LAUNCH_S * 2
                   : -1.0;
        /* ell: every stored slot of every row, for every token; slot octets stored */
        const double slots = (double)gp->slots, OP = (double)((L->out + 31) / 32 * 32);
        const double stored = (double)((gp->slots + 7) / 8 * 8) * OP * (vb + gp->idx_bytes);
        gp->cost_s[SF_G_ELL] =
            2.0 * T * slots * O / CC_ELL + stored / BW_ELL + (act_in + act_out) / BW + LAUNCH_S;
        if (o->force_dense) {
            gp->kernel = SF_G_DENSE;
            gp->reason = SF_R_FORCED_DENSE;
        } else if (o->gpu_force && gp->cost_s[o->gpu_forced] >= 0) {
            gp->kernel = o->gpu_forced;
            gp->reason = SF_R_FORCED;
        } else {
            gp->kernel = SF_G_DENSE;
            for (int k = 1; k < SF_G_COUNT; k++)
                if (gp->cost_s[k] >= 0 && gp->cost_s[k] < gp->cost_s[gp->kernel])
                    gp->kernel = (sf_gkernel)k;
            gp->reason = SF_R_FASTEST;
        }
        static const char *const fmt[SF_G_COUNT] = {"dense_cublas", "sp24_tc", "ell_cc"};
        snprintf(gp->name, sizeof gp->name, "%s_linear_%s", sf_gpu_dtype_name(o->gpu_dtype),
                 fmt[gp->kernel]);
        gp->scratch = gp->kernel != SF_G_ELL && o->gpu_dtype != SF_GPU_F32
                          ? (size_t)sf_cpu_plan(g, L)->tokens * (size_t)gp->Kp * 2
                          : 0;
    }
    return plan_steps(g, o->max_arena ? o->max_arena : SF_DEFAULT_MAX_ARENA);
}
