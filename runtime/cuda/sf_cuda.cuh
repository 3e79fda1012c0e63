/* sf_cuda.cuh - the CUDA runtime of a generated model: checked calls, the
 * network ops (sf_cuda.cu) and the linear-layer kernels, which are templates
 * that the generated <model>.cu instantiates with each layer's shapes.
 *
 * Every function returns 0 or SFC_ERR (the context's also the codes of
 * sf_cuda_ctx.cuh); the first failure's message (file, line, the call,
 * CUDA's or cuBLAS's words) is kept for sfc_last_error().
 * Tensors are fp32 in device memory, in the layouts of the CPU runtime
 * (sf_nn.h, sf_ops.h). Weights live in the device copy of the blob in the
 * formats of docs/FORMATS.md ("GPU sections").
 *
 * The one header that generated code and the bench include; it gathers the
 * parts, one header per family, each of which includes what it needs:
 *   sf_cuda_core.cuh    checked calls, error record, blob header, shape structs
 *   sf_cuda_act.cuh     the sf_unary_op functions on the device (sfc_act, sfc_act_ab)
 *   sf_cuda_ops.cuh     the network ops of sf_cuda.cu
 *   sf_cuda_linear.cuh  linear layers: fp32 -> bf16/f16, bias pass, cuBLAS
 *   sf_cuda_ptx.cuh     inline PTX: mma.sp, cp.async, ldmatrix
 *   sf_cuda_sp24.cuh    2:4 on sparse tensor cores: stream and tiled kernels
 *   sf_cuda_ell.cuh     other sparsity on CUDA cores: ELL kernels
 *   sf_cuda_ctx.cuh     a generated model's context and entry points (sf_cuda_ctx.cu) */
#ifndef SF_CUDA_CUH
#define SF_CUDA_CUH

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>
#include <type_traits>

#include "sf_nn.h"
#include "sf_ops.h"

#include "sf_cuda_core.cuh"
#include "sf_cuda_act.cuh"
#include "sf_cuda_ops.cuh"
#include "sf_cuda_linear.cuh"
#include "sf_cuda_ptx.cuh"
#include "sf_cuda_sp24.cuh"
#include "sf_cuda_ell.cuh"
#include "sf_cuda_ctx.cuh"

#endif
