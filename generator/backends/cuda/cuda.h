/* cuda.h - the CUDA backend (backends/backend.h): its plan (plan_cuda.c),
 * its blob sections (pack_cuda.c) and its files (emit_cuda.c). Its
 * decisions live in the layers' sf_gplan and in g->cuda. */
#ifndef SF_CUDA_H
#define SF_CUDA_H

#include "backends/cpu/plan.h"
#include "emit/blob.h"

/* The CUDA backend's side table: what its plan decided beyond each layer's
 * kernel (sf_gplan). */
struct sf_cuda_steps {
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

#endif
