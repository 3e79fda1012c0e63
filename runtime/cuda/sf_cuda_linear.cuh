/* sf_cuda_linear.cuh - part of the CUDA runtime (sf_cuda.cuh): what every
 * linear-layer kernel shares, and the dense path. sfc_to_half converts the
 * activations for the tensor-core inputs (cuBLAS and 2:4), sfc_add_bias is
 * the bias-and-activation pass after cuBLAS (and the tiled 2:4 kernel's
 * activation pass), sfc_linear_dense calls cuBLAS; all three are
 * implemented in sf_cuda.cu. The sparse kernels are templates in
 * sf_cuda_sp24.cuh and sf_cuda_ell.cuh. */
#ifndef SF_CUDA_LINEAR_CUH
#define SF_CUDA_LINEAR_CUH

#include "sf_cuda_act.cuh"
#include "sf_cuda_core.cuh"

/* ---- linear layers: y [T][O] = x [T][K] W^T + b ------------------------------ */

/* x [T][K] fp32 -> xh [T][Kp] bf16 (half = 0) or f16 (half = 1), zero-padded. */
int sfc_to_half(const float *x, void *xh, int T, int K, int Kp, int half, cudaStream_t st);
/* y[t][o] = act(y[t][o] + b[o]) (b may be NULL, act SFC_NO_ACT) */
int sfc_add_bias(float *y, const float *b, int T, int O, cudaStream_t st, int act = SFC_NO_ACT);
/* Dense through cuBLAS: W [O][Kp] in bf16/f16 (half 0/1) with xh from
 * sfc_to_half, or W [O][K] fp32 (half = -1) with x itself; fp32 accumulation. */
int sfc_linear_dense(cublasHandle_t h, const void *w, int half, const float *bias, const void *x,
                     float *y, int T, int O, int K, int Kp, cudaStream_t st, int act = SFC_NO_ACT);

#endif
