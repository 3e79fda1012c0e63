/* cuda.h - the CUDA backend (backends/backend.h): its plan (plan_cuda.c),
 * its blob sections (pack_cuda.c) and its files (emit_cuda.c). Its
 * decisions live in its side table g->cuda. */
#ifndef SF_CUDA_H
#define SF_CUDA_H

#include "backends/cpu/plan.h"
#include "emit/blob.h"

/* GPU plan of one linear layer (plan_cuda.c, pack_cuda.c). */
typedef struct {
    sf_gkernel kernel;
    sf_reason reason;
    double cost_s[SF_G_COUNT]; /* predicted seconds per kernel; < 0: not eligible */
    char why_not_sp24[128];    /* when 2:4 is not eligible: why */
    int64_t Op, Kp;            /* sp24: rows padded to 16, columns to 32; dense: Kp */
    int slots;                 /* ell: slots stored per row */
    int idx_bytes;             /* ell: bytes per index: 1 (N:M position), 2 or 4 (column) */
    int group_n, group_m;      /* ell: slots per group of inputs (N:M), 0 0: columns */
    /* blob offsets (bytes): values, sp24 metadata or ell columns, bias */
    size_t off_w, off_idx, off_bias;
    size_t scratch; /* device scratch bytes of one call at the largest batch */
    char name[48];  /* variant: <dtype>_linear_<format>_<target> */
} sf_gplan;

/* The CUDA backend's side table: each linear layer's plan, the epilogue
 * fusions and the device scratch. */
struct sf_cuda_steps {
    sf_gplan *layer;      /* [nnodes], for the nodes with a linear layer */
    unsigned char *fused; /* [nsteps] 1: the step's activation runs in the epilogue of the
                               linear layer before it */
    size_t scratch;       /* device scratch of the largest step, bytes */
    int nfused;
};

/* GPU kernel per linear layer, after the CPU plan (it costs the same
 * tokens); then the epilogue fusions and the device scratch. */
sf_status sf_plan_cuda_graph(sf_graph *g, const sf_plan_opts *opts);
const char *sf_gkernel_name(sf_gkernel k);     /* dense, sp24, ell */
const char *sf_gpu_dtype_name(sf_gpu_dtype d); /* bf16, f16, f32 */
sf_status sf_pack_cuda(sf_graph *g, sf_blob *blob);

/* A linear layer's GPU plan (after sf_plan_cuda_graph). */
static inline sf_gplan *sf_cuda_gplan(const sf_graph *g, const sf_linear *L)
{
    return &g->cuda->layer[L->node];
}

#endif
