/* sf_cuda.cuh - the CUDA runtime of a generated model: checked calls, the
 * network ops (sf_cuda.cu) and the linear-layer kernels, which are templates
 * that the generated <model>.cu instantiates with each layer's shapes.
 *
 * Every function returns 0 or SFC_ERR; the first failure's message (file,
 * line, the call, CUDA's or cuBLAS's words) is kept for sfc_last_error().
 * Tensors are fp32 in device memory, in the layouts of the CPU runtime
 * (sf_nn.h, sf_ops.h). Weights live in the device copy of the blob in the
 * formats of docs/FORMATS.md ("GPU sections"). */
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

#define SFC_ERR (-1)

/* Records the first failure (file, line, what) and returns SFC_ERR. */
int sfc_fail(const char *file, int line, const char *call, const char *why);
const char *sfc_last_error(void);
void sfc_clear_error(void);

#define SFC_TRY(call)                                                                  \
    do {                                                                               \
        cudaError_t sfc_e_ = (call);                                                   \
        if (sfc_e_ != cudaSuccess)                                                     \
            return sfc_fail(__FILE__, __LINE__, #call, cudaGetErrorString(sfc_e_));    \
    } while (0)
#define SFC_TRY_BLAS(call)                                                             \
    do {                                                                               \
        cublasStatus_t sfc_s_ = (call);                                                \
        if (sfc_s_ != CUBLAS_STATUS_SUCCESS)                                           \
            return sfc_fail(__FILE__, __LINE__, #call, cublasGetStatusString(sfc_s_)); \
    } while (0)
/* A kernel launch: launch errors now, execution errors at the next sync. */
#define SFC_LAUNCHED() SFC_TRY(cudaGetLastError())
/* A step of the generated code: propagate a failure. */
#define SFC_STEP(call)                                                                 \
    do {                                                                               \
        if ((call) != 0)                                                               \
            return SFC_ERR;                                                            \
    } while (0)

/* The same for a cudaError_t already at hand (0 when it is cudaSuccess). */
int sfc_fail_if(cudaError_t e, const char *file, int line);

/* Header of the weights blob (docs/FORMATS.md; sf_blob_header of the CPU
 * runtime). */
typedef struct {
    char magic[4];
    uint32_t version;
    uint64_t size;
    uint64_t mask_hash;
    uint64_t value_hash;
    char model[32];
} sfc_blob_header;

/* Shapes travel to kernels by value. */
typedef struct { int32_t d[8]; } sfc_dims;
typedef struct { int32_t p[8]; } sfc_perm;

/* ---- network ops (sf_cuda.cu); semantics as in sf_nn.h / sf_ops.h ----------- */

int sfc_unary(sf_unary_op op, const float *x, float *y, size_t n, cudaStream_t st);
int sfc_binary(sf_binary_op op, const float *a, sfc_dims ad, const float *b, sfc_dims bd,
               float *y, sfc_dims yd, int rank, int batch, cudaStream_t st);
/* token-major im2col: cols [N*Ho*Wo][C*kh*kw] */
int sfc_im2col(const float *x, float *cols, int N, sf_conv_shape s, cudaStream_t st);
int sfc_tokens_to_nchw(const float *t, float *y, int N, int O, int HW, cudaStream_t st);
int sfc_conv2d_direct(const float *x, const float *w, const float *b, float *y, int N,
                      sf_conv_shape s, cudaStream_t st);
int sfc_pool2d(int is_max, const float *x, float *y, int N, sf_conv_shape s, cudaStream_t st);
int sfc_row_mean(const float *x, float *y, size_t rows, int n, cudaStream_t st);
int sfc_channel_affine(const float *x, const float *scale, const float *shift, float *y, int N,
                       int C, size_t inner, cudaStream_t st);
int sfc_layernorm(const float *x, const float *g, const float *b, float *y, size_t rows, int n,
                  float eps, cudaStream_t st);
int sfc_softmax(const float *x, float *y, size_t outer, int n, size_t inner, cudaStream_t st);
int sfc_matmul(const float *a, sfc_dims ad, const float *b, sfc_dims bd, float *y, sfc_dims yd,
               int rank, int batch, cudaStream_t st);
/* Rows of `table`; an index that is not an integer in [0, rows) gives a zero
 * row and sets *bad (device memory) to 1. */
int sfc_gather_rows(const float *table, int rows, int dim, const float *idx, size_t n,
                    float *y, int *bad, cudaStream_t st);
int sfc_transpose(const float *x, sfc_dims xd, sfc_perm perm, float *y, int rank, int batch,
                  cudaStream_t st);
int sfc_copy_blocks(const float *x, size_t xs, float *y, size_t ys, size_t outer, size_t len,
                    cudaStream_t st);
int sfc_copy(const float *x, float *y, size_t n, cudaStream_t st);
int sfc_slice(const float *x, float *y, size_t outer, int len, int start, int step, int cnt,
              size_t inner, cudaStream_t st);
int sfc_attention(const float *q, const float *k, const float *v, const float *mask, float *y,
                  int B, int Sq, int Sk, int kv_stride, int H, int D, int causal,
                  cudaStream_t st);
int sfc_cache_append(const float *x, float *cache, int B, int T, size_t E, int C, int at,
                     cudaStream_t st);

/* ---- linear layers: y [T][O] = x [T][K] W^T + b ------------------------------ */

/* x [T][K] fp32 -> xh [T][Kp] bf16 (half = 0) or f16 (half = 1), zero-padded. */
int sfc_to_half(const float *x, void *xh, int T, int K, int Kp, int half, cudaStream_t st);
/* y[t][o] += b[o] */
int sfc_add_bias(float *y, const float *b, int T, int O, cudaStream_t st);
/* Dense through cuBLAS: W [O][Kp] in bf16/f16 (half 0/1) with xh from
 * sfc_to_half, or W [O][K] fp32 (half = -1) with x itself; fp32 accumulation. */
int sfc_linear_dense(cublasHandle_t h, const void *w, int half, const float *bias,
                     const void *x, float *y, int T, int O, int K, int Kp, cudaStream_t st);

/* 2:4 on sparse tensor cores. One warp computes 16 rows x 8*SFC_SP24_NT
 * tokens with mma.sp::ordered_metadata m16n8k32, fp32 accumulation; A is the
 * weight tile (generator/sp24.h), B the activations xh [T][KP], D y^T. */
#define SFC_SP24_NT 2    /* 8-token mma tiles per warp: 16 tokens, one weight pass when decoding */
#define SFC_SP24_WARPS 4 /* row tiles per block */

/* d += A (2:4 tile, metadata e) x B, one m16n8k32 mma with fp32 accumulation;
 * H (bf16 or f16) names the PTX input type. */
#define SFC_MMA_SP(ty)                                                                 \
    asm volatile("mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32." ty "." ty \
                 ".f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9, %10, %11}, "        \
                 "{%0, %1, %2, %3}, %12, 0x0;\n"                                       \
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])                     \
                 : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b[0]), "r"(b[1]),        \
                   "r"(b[2]), "r"(b[3]), "r"(e))

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

template <int O, int KP, typename H>
__global__ void __launch_bounds__(32 * SFC_SP24_WARPS)
sfc_sp24_kernel(const uint4 *__restrict__ vals, const uint32_t *__restrict__ meta,
                const float *__restrict__ bias, const H *__restrict__ xh, float *__restrict__ y,
                int T)
{
    constexpr int ROW_TILES = (O + 15) / 16, NKC = KP / 32;
    const int lane = threadIdx.x & 31, rb = blockIdx.x * SFC_SP24_WARPS + (threadIdx.x >> 5);
    if (rb >= ROW_TILES)
        return; /* the whole warp: mma.sync needs all 32 lanes */
    const int g = lane >> 2, t = lane & 3, tok0 = blockIdx.y * 8 * SFC_SP24_NT;
    float acc[SFC_SP24_NT][4] = {};
    const uint4 *vp = vals + (size_t)rb * NKC * 32 + lane;
    const uint32_t *mp = meta + (size_t)rb * NKC * 16 + 2 * g + (t & 1);
    const uint32_t *xw[SFC_SP24_NT]; /* this lane's token row of B, as 32-bit pairs */
    for (int n = 0; n < SFC_SP24_NT; n++) {
        int tok = tok0 + n * 8 + g;
        xw[n] = tok < T ? (const uint32_t *)(const void *)(xh + (size_t)tok * KP) : nullptr;
    }
    for (int kc = 0; kc < NKC; kc++) {
        const uint4 a = vp[(size_t)kc * 32];
        const uint32_t e = mp[(size_t)kc * 16];
        for (int n = 0; n < SFC_SP24_NT; n++) {
            uint32_t b[4] = {0, 0, 0, 0};
            if (xw[n]) { /* k = 2t + {0,1} + 8i of this chunk: word t + 4i */
                const uint32_t *r = xw[n] + kc * 16 + t;
                b[0] = r[0];
                b[1] = r[4];
                b[2] = r[8];
                b[3] = r[12];
            }
            sfc_mma_sp<H>(acc[n], a, b, e);
        }
    }
    /* D: d0, d1 row g, tokens 2t, 2t+1; d2, d3 row g + 8 */
    const int r0 = rb * 16 + g, r1 = r0 + 8;
    const float b0 = r0 < O && bias ? bias[r0] : 0.0f, b1 = r1 < O && bias ? bias[r1] : 0.0f;
    for (int n = 0; n < SFC_SP24_NT; n++)
        for (int i = 0; i < 2; i++) {
            int tok = tok0 + n * 8 + 2 * t + i;
            if (tok >= T)
                continue;
            if (r0 < O)
                y[(size_t)tok * O + r0] = acc[n][i] + b0;
            if (r1 < O)
                y[(size_t)tok * O + r1] = acc[n][2 + i] + b1;
        }
}

template <int O, int KP, typename H>
int sfc_linear_sp24(const void *vals, const void *meta, const float *bias, const void *xh,
                    float *y, int T, cudaStream_t st)
{
    constexpr int ROW_TILES = (O + 15) / 16;
    dim3 grid((ROW_TILES + SFC_SP24_WARPS - 1) / SFC_SP24_WARPS,
              (T + 8 * SFC_SP24_NT - 1) / (8 * SFC_SP24_NT));
    sfc_sp24_kernel<O, KP, H><<<grid, 32 * SFC_SP24_WARPS, 0, st>>>(
        (const uint4 *)vals, (const uint32_t *)meta, bias, (const H *)xh, y, T);
    SFC_LAUNCHED();
    return 0;
}

/* Other N:M (and any sparsity) on CUDA cores: ELL with S slots per row,
 * values V and column indices I stored [S][OP] (OP = O rounded up to 32) so
 * a warp's 32 rows read one coalesced line per slot. A thread owns one row
 * and TT tokens: with up to TT tokens (decoding) the layer is one pass over
 * the weights. */
#define SFC_ELL_TT 16
#define SFC_ELL_ROWS 128 /* threads (rows) per block */

__device__ __forceinline__ float sfc_to_f32(float v) { return v; }
__device__ __forceinline__ float sfc_to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float sfc_to_f32(__half v) { return __half2float(v); }

template <int O, int K, int S, typename V, typename I>
__global__ void __launch_bounds__(SFC_ELL_ROWS)
sfc_ell_kernel(const V *__restrict__ vals, const I *__restrict__ cols,
               const float *__restrict__ bias, const float *__restrict__ x,
               float *__restrict__ y, int T)
{
    constexpr int OP = (O + 31) / 32 * 32;
    const int row = blockIdx.x * SFC_ELL_ROWS + threadIdx.x, t0 = blockIdx.y * SFC_ELL_TT;
    if (row >= O)
        return;
    const int nt = T - t0 < SFC_ELL_TT ? T - t0 : SFC_ELL_TT;
    const float *xt = x + (size_t)t0 * K;
    float acc[SFC_ELL_TT];
    const float b = bias ? bias[row] : 0.0f;
#pragma unroll
    for (int i = 0; i < SFC_ELL_TT; i++)
        acc[i] = b;
    for (int s = 0; s < S; s++) {
        const float w = sfc_to_f32(vals[(size_t)s * OP + row]);
        const int c = (int)cols[(size_t)s * OP + row];
#pragma unroll
        for (int i = 0; i < SFC_ELL_TT; i++)
            if (i < nt)
                acc[i] += w * __ldg(xt + (size_t)i * K + c);
    }
#pragma unroll
    for (int i = 0; i < SFC_ELL_TT; i++)
        if (i < nt)
            y[(size_t)(t0 + i) * O + row] = acc[i];
}

template <int O, int K, int S, typename V, typename I>
int sfc_linear_ell(const void *vals, const void *cols, const float *bias, const float *x,
                   float *y, int T, cudaStream_t st)
{
    dim3 grid((O + SFC_ELL_ROWS - 1) / SFC_ELL_ROWS, (T + SFC_ELL_TT - 1) / SFC_ELL_TT);
    sfc_ell_kernel<O, K, S, V, I><<<grid, SFC_ELL_ROWS, 0, st>>>((const V *)vals, (const I *)cols,
                                                                 bias, x, y, T);
    SFC_LAUNCHED();
    return 0;
}

#endif
