/* sf_cuda_ptx.cuh - part of the CUDA runtime (sf_cuda.cuh): the inline PTX
 * that the 2:4 tensor-core kernels (sf_cuda_sp24.cuh) are built from, each
 * wrapped in a device function: mma.sp (sparse tensor cores), cp.async
 * (global to shared memory, bypassing registers) and ldmatrix (shared memory
 * to mma fragments). sm_80 and later; on older architectures the mma is a
 * compile error and the rest compiles to nothing. Kept apart from the
 * kernels so that the asm and its operand lists can be read on their own. */
#ifndef SF_CUDA_PTX_CUH
#define SF_CUDA_PTX_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>
#include <type_traits>

/* d += A (2:4 tile, metadata e) x B, one m16n8k32 mma with fp32 accumulation;
 * H (bf16 or f16) names the PTX input type. */
#define SFC_MMA_SP(ty)                                                                      \
    asm volatile("mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32." ty "." ty    \
                 ".f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9, %10, %11}, "            \
                 "{%0, %1, %2, %3}, %12, 0x0;\n"                                            \
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                           \
                 : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b[0]), "r"(b[1]), "r"(b[2]), \
                   "r"(b[3]), "r"(e))

template <typename H>
__device__ __forceinline__ void sfc_mma_sp(float *d, uint4 a, const uint32_t *b, uint32_t e)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    if constexpr (std::is_same<H, __half>::value)
        SFC_MMA_SP("f16");
    else
        SFC_MMA_SP("bf16");
#elif defined(__CUDA_ARCH__)
#error "2:4 sparse tensor cores need sm_80 or later (CUDA_ARCH)"
#endif
}

/* 16 bytes global -> shared without passing through registers; bytes = 0
 * fills zeros (rows past T, tiles past O). */
__device__ __forceinline__ void sfc_cp_async16(void *smem, const void *src, int bytes)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned d = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(bytes));
#endif
}
__device__ __forceinline__ void sfc_cp_async_commit(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N> __device__ __forceinline__ void sfc_cp_async_wait(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}
/* Four 8x8 b16 matrices from shared memory; lane l gives row l%8 of matrix l/8
 * and receives, of each matrix, row l/4 elements 2(l%4), 2(l%4)+1. */
__device__ __forceinline__ void sfc_ldmatrix_x4(uint32_t *r, const void *smem)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned a = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
#endif
}

#endif
