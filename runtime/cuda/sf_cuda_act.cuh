/* sf_cuda_act.cuh - part of the CUDA runtime (sf_cuda.cuh): the elementwise
 * functions of sf_unary_op on the device, with the CPU runtime's formulas
 * (unary1 in sf_ops.c). They are here on their own because both the network
 * ops (sf_cuda.cu: sfc_unary, sfc_unary_ab) and the linear-layer kernels'
 * epilogues (sf_cuda_linear.cuh, sf_cuda_sp24.cuh, sf_cuda_ell.cuh) apply
 * them. */
#ifndef SF_CUDA_ACT_CUH
#define SF_CUDA_ACT_CUH

#include <cuda_runtime.h>

#include "sf_ops.h"

/* An activation (sf_unary_op), or v itself for SFC_NO_ACT: the linear
 * kernels apply it in their epilogue when the generator fused the
 * activation step that followed the layer. The functions with parameters
 * (CLIP, HARDSIGMOID, LEAKYRELU) are never fused and have no case here: they
 * give v; sfc_act_ab applies them. */
#define SFC_NO_ACT (-1)
__device__ __forceinline__ float sfc_act(int op, float v)
{
    switch (op) {
    case SF_UNARY_RELU: return v > 0.0f ? v : 0.0f;
    case SF_UNARY_GELU: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    case SF_UNARY_GELU_TANH:
        return 0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    case SF_UNARY_SILU: return v / (1.0f + expf(-v));
    case SF_UNARY_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case SF_UNARY_TANH: return tanhf(v);
    case SF_UNARY_ERF: return erff(v);
    case SF_UNARY_SQRT: return sqrtf(v);
    case SF_UNARY_HARDSWISH: return v * fmaxf(0.0f, fminf(1.0f, v * (1.0f / 6.0f) + 0.5f));
    case SF_UNARY_NEG: return -v;
    case SF_UNARY_EXP: return expf(v);
    case SF_UNARY_LOG: return logf(v);
    case SF_UNARY_ABS: return fabsf(v);
    case SF_UNARY_RECIPROCAL: return 1.0f / v;
    case SF_UNARY_SOFTPLUS: return v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v));
    case SF_UNARY_NOT: return v == 0.0f ? 1.0f : 0.0f;
    case SF_UNARY_FLOOR: return floorf(v);
    case SF_UNARY_CEIL: return ceilf(v);
    case SF_UNARY_SIGN: return v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : v == 0.0f ? 0.0f : v;
    case SF_UNARY_ROUND: return rintf(v);
    }
    return v;
}

/* Every sf_unary_op, the three with parameters included: CLIP clamps to
 * [a, b] (NaN stays NaN); HARDSIGMOID is max(0, min(1, a v + b)); LEAKYRELU
 * is v for v >= 0, else a v. The other functions ignore a and b. */
__device__ __forceinline__ float sfc_act_ab(int op, float a, float b, float v)
{
    switch (op) {
    case SF_UNARY_CLIP: return v < a ? a : v > b ? b : v;
    case SF_UNARY_HARDSIGMOID: return fmaxf(0.0f, fminf(1.0f, a * v + b));
    case SF_UNARY_LEAKYRELU: return v >= 0.0f ? v : a * v;
    }
    return sfc_act(op, v);
}

#endif
