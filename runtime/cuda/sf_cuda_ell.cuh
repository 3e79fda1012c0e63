/* sf_cuda_ell.cuh - part of the CUDA runtime (sf_cuda.cuh): linear layers of
 * any other sparsity (N:M other than 2:4, unstructured) on CUDA cores, in the
 * ELL slot-octet layout, as templates that the generated <model>.cu
 * instantiates with each layer's shapes: the loaders of values and indices,
 * the kernel, one launch per configuration and sfc_linear_ell, which picks
 * the configuration by the token count. */
#ifndef SF_CUDA_ELL_CUH
#define SF_CUDA_ELL_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include <type_traits>

#include "sf_cuda_act.cuh"
#include "sf_cuda_core.cuh"

/* Other N:M (and any sparsity) on CUDA cores: ELL with S slots per row,
 * stored in octets [S/8][OP][8] (OP = O rounded up to 32) so that a lane reads
 * 8 slots of its row in one 16-byte load and a warp reads 512 contiguous
 * bytes. Indices I are either absolute columns (GN = 0: u16 or i32) or, for
 * an N:M pattern stored as GN slots per group of GM inputs, the position in
 * the group (u8): slot s reads column (s / GN) * GM + idx, and the 32 rows of
 * a warp then read the same few activations. A block takes 32 rows and
 * SFC_ELL_TT tokens; its SFC_ELL_KW warps take the slot octets in turn and
 * meet in shared memory, so up to SFC_ELL_TT tokens (decoding) are one pass
 * over the weights. */
#define SFC_ELL_TT 16
#define SFC_ELL_KW 8
#define SFC_ELL_U  1 /* slot octets a warp loads before using them (4 measured slower) */

/* 8 values from 16 or 32 bytes of raw bf16, f16 or f32 */
template <typename V> __device__ __forceinline__ void sfc_ell_values(const V *p, float *f)
{
    const uint4 *q = (const uint4 *)(const void *)p;
    if constexpr (sizeof(V) == 4) {
        const uint4 u0 = __ldg(q), u1 = __ldg(q + 1);
        const unsigned w[8] = {u0.x, u0.y, u0.z, u0.w, u1.x, u1.y, u1.z, u1.w};
#pragma unroll
        for (int j = 0; j < 8; j++)
            f[j] = __uint_as_float(w[j]);
    } else {
        const uint4 u = __ldg(q);
        const unsigned w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int j = 0; j < 4; j++) {
            if constexpr (std::is_same<V, __half>::value) {
                f[2 * j] = __half2float(__ushort_as_half((unsigned short)(w[j] & 0xffff)));
                f[2 * j + 1] = __half2float(__ushort_as_half((unsigned short)(w[j] >> 16)));
            } else {
                f[2 * j] = __uint_as_float(w[j] << 16);
                f[2 * j + 1] = __uint_as_float(w[j] & 0xffff0000u);
            }
        }
    }
}

/* 8 indices from 8, 16 or 32 bytes of u8, u16 or i32 */
template <typename I> __device__ __forceinline__ void sfc_ell_indices(const I *p, int *c)
{
    if constexpr (sizeof(I) == 1) {
        const uint2 u = __ldg((const uint2 *)(const void *)p);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            c[j] = (u.x >> (8 * j)) & 0xff;
            c[4 + j] = (u.y >> (8 * j)) & 0xff;
        }
    } else if constexpr (sizeof(I) == 2) {
        const uint4 u = __ldg((const uint4 *)(const void *)p);
        const unsigned w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int j = 0; j < 4; j++) {
            c[2 * j] = (int)(w[j] & 0xffff);
            c[2 * j + 1] = (int)(w[j] >> 16);
        }
    } else {
        const uint4 u0 = __ldg((const uint4 *)(const void *)p),
                    u1 = __ldg((const uint4 *)(const void *)p + 1);
        const unsigned w[8] = {u0.x, u0.y, u0.z, u0.w, u1.x, u1.y, u1.z, u1.w};
#pragma unroll
        for (int j = 0; j < 8; j++)
            c[j] = (int)w[j];
    }
}

template <int O, int K, int S, typename V, typename I, int GN, int GM, int TT, int KW>
__global__ void __launch_bounds__(32 * KW)
    sfc_ell_kernel(const V *__restrict__ vals, const I *__restrict__ idx,
                   const float *__restrict__ bias, const float *__restrict__ x,
                   float *__restrict__ y, int T, int act)
{
    constexpr int OP = (O + 31) / 32 * 32, S8 = (S + 7) / 8;
    __shared__ float part[KW][TT][32]; /* [warp][token][row] */
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const int row = blockIdx.x * 32 + lane, t0 = blockIdx.y * TT;
    const int nt = T - t0 < TT ? T - t0 : TT;
    const float *xt = x + (size_t)t0 * K;
    float acc[TT] = {};
    /* SFC_ELL_U octets per warp in flight: loads first, then the arithmetic */
#pragma unroll 1
    for (int s0 = w; s0 < S8; s0 += KW * SFC_ELL_U) { /* rows O..OP-1 hold zeros */
        float v[SFC_ELL_U][8];
        int c[SFC_ELL_U][8];
#pragma unroll
        for (int u = 0; u < SFC_ELL_U; u++) {
            const int s8 = s0 + u * KW;
            if (s8 < S8) {
                sfc_ell_values<V>(vals + ((size_t)s8 * OP + row) * 8, v[u]);
                sfc_ell_indices<I>(idx + ((size_t)s8 * OP + row) * 8, c[u]);
            }
        }
#pragma unroll
        for (int u = 0; u < SFC_ELL_U; u++) {
            const int s8 = s0 + u * KW;
            if (s8 >= S8)
                break;
#pragma unroll
            for (int j = 0; j < 8; j++) { /* slots past S (the last octet's padding) add 0 */
                const int s = S % 8 && s8 * 8 + j >= S ? S - 1 : s8 * 8 + j;
                c[u][j] = GN ? (s / (GN ? GN : 1)) * GM + c[u][j] : c[u][j];
                v[u][j] = S % 8 && s8 * 8 + j >= S ? 0.0f : v[u][j];
            }
#pragma unroll
            for (int i = 0; i < TT; i++) {
                if (i >= nt)
                    break;
                const float *xi = xt + (size_t)i * K;
                float sum = 0.0f;
#pragma unroll
                for (int j = 0; j < 8; j++) { /* a zero weight adds nothing, even to
                                               * an Inf or NaN input (docs/NUMERICS.md) */
                    const float xv = __ldg(xi + c[u][j]);
                    sum += v[u][j] != 0.0f ? v[u][j] * xv : 0.0f;
                }
                acc[i] += sum;
            }
        }
    }
#pragma unroll
    for (int i = 0; i < TT; i++)
        part[w][i][lane] = acc[i];
    __syncthreads();
    for (int q = threadIdx.x; q < TT * 32; q += blockDim.x) {
        const int i = q >> 5, r = blockIdx.x * 32 + (q & 31);
        if (i >= nt || r >= O)
            continue;
        float sum = bias ? bias[r] : 0.0f;
        for (int k = 0; k < KW; k++)
            sum += part[k][i][q & 31];
        y[(size_t)(t0 + i) * O + r] = sfc_act(act, sum);
    }
}

/* One launch of the ELL kernel with TT tokens and KW warps per block. */
template <int O, int K, int S, typename V, typename I, int GN, int GM, int TT, int KW>
int sfc_linear_ell_cfg(const void *vals, const void *idx, const float *bias, const float *x,
                       float *y, int T, cudaStream_t st, int act = SFC_NO_ACT)
{
    static_assert(GN == 0 || (sizeof(I) == 1 && GM <= 256), "N:M positions are u8");
    dim3 grid((O + 31) / 32, (T + TT - 1) / TT);
    sfc_ell_kernel<O, K, S, V, I, GN, GM, TT, KW>
        <<<grid, 32 * KW, 0, st>>>((const V *)vals, (const I *)idx, bias, x, y, T, act);
    SFC_LAUNCHED();
    return 0;
}

/* y [T][O] = act(x W^T + b) for an ELL layer. GN = 0: absolute columns; else N:M
 * positions, GN slots per GM inputs. One token (decoding) gets one
 * accumulator and more warps per 32 rows (SFC_ELL_KW1): more loads in flight. */
#define SFC_ELL_KW1(S8) ((S8) >= 256 ? 32 : 16) /* measured: 8192x8192 1:4 2.1x, not 1.7x */
template <int O, int K, int S, typename V, typename I, int GN = 0, int GM = 0>
int sfc_linear_ell(const void *vals, const void *idx, const float *bias, const float *x, float *y,
                   int T, cudaStream_t st, int act = SFC_NO_ACT)
{
    if (T <= 0)
        return 0;
    if (T == 1)
        return sfc_linear_ell_cfg<O, K, S, V, I, GN, GM, 1, SFC_ELL_KW1((S + 7) / 8)>(
            vals, idx, bias, x, y, T, st, act);
    return sfc_linear_ell_cfg<O, K, S, V, I, GN, GM, SFC_ELL_TT, SFC_ELL_KW>(vals, idx, bias, x, y,
                                                                             T, st, act);
}

#endif
