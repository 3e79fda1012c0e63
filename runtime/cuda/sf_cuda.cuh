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

/* An activation (sf_unary_op), or v itself for SFC_NO_ACT: the linear
 * kernels apply it in their epilogue when the generator fused the
 * activation step that followed the layer. */
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
    }
    return v;
}

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
/* y[t][o] = act(y[t][o] + b[o]) (b may be NULL, act SFC_NO_ACT) */
int sfc_add_bias(float *y, const float *b, int T, int O, cudaStream_t st, int act = SFC_NO_ACT);
/* Dense through cuBLAS: W [O][Kp] in bf16/f16 (half 0/1) with xh from
 * sfc_to_half, or W [O][K] fp32 (half = -1) with x itself; fp32 accumulation. */
int sfc_linear_dense(cublasHandle_t h, const void *w, int half, const float *bias,
                     const void *x, float *y, int T, int O, int K, int Kp, cudaStream_t st,
                     int act = SFC_NO_ACT);

/* 2:4 on sparse tensor cores: mma.sp::ordered_metadata m16n8k32 with fp32
 * accumulation. A is the weight (generator/sp24.h: 16x32 tiles, values in A
 * fragment order, then metadata), B the activations xh [T][KP], D is y^T.
 * Two kernels: a weight stream for up to SFC_SP24_STREAM_T tokens (decoding:
 * memory-bound, so the K loop is split across the warps of a block to keep
 * enough loads in flight), and a tiled kernel for more tokens (compute-bound:
 * weight tiles and activations staged through shared memory by a cp.async
 * pipeline so that every byte fetched feeds several mma). */
#define SFC_SP24_STREAM_T 32 /* tokens up to which the stream kernel runs */
#define SFC_SP24_KW 8        /* stream kernel: warps splitting K in a block (short K) */

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

/* 16 bytes global -> shared without passing through registers; bytes = 0
 * fills zeros (rows past T, tiles past O). */
__device__ __forceinline__ void sfc_cp_async16(void *smem, const void *src, int bytes)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    unsigned d = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src),
                 "r"(bytes));
#endif
}
__device__ __forceinline__ void sfc_cp_async_commit(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N>
__device__ __forceinline__ void sfc_cp_async_wait(void)
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

/* Stream kernel: a block takes RPW row tiles and 16 tokens; its KW warps
 * take the K chunks in turn (neighbouring warps read neighbouring tiles) and
 * every warp applies each activation chunk it loads to all RPW tiles, so the
 * activations are read once per RPW tiles. The partial sums meet in shared
 * memory. Each weight byte is read once. */
template <int O, int KP, typename H, int RPW, int KW>
__global__ void __launch_bounds__(32 * KW)
sfc_sp24_stream_kernel(const uint4 *__restrict__ vals, const uint32_t *__restrict__ meta,
                       const float *__restrict__ bias, const H *__restrict__ xh,
                       float *__restrict__ y, int T, int act)
{
    constexpr int NKC = KP / 32, ROW_TILES = (O + 15) / 16, R = 16 * RPW;
    static_assert(KW * RPW * 16 * 16 * 4 <= 48 * 1024, "stream kernel: partial sums too large");
    __shared__ float part[KW][16][R]; /* [warp][token][row] */
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5, rb0 = blockIdx.x * RPW;
    const int g = lane >> 2, t = lane & 3, tok0 = blockIdx.y * 16;
    const int nt = T - tok0 >= 9 ? 2 : 1; /* 8-token mma tiles with a token in them */
    const int tiles = ROW_TILES - rb0 < RPW ? ROW_TILES - rb0 : RPW;
    float acc[RPW][2][4] = {};
    const uint4 *vp = vals + (size_t)rb0 * NKC * 32 + lane;
    const uint32_t *mp = meta + (size_t)rb0 * NKC * 16 + 2 * g + (t & 1);
    const uint32_t *xw[2]; /* this lane's token row of B, as 32-bit pairs */
    for (int n = 0; n < 2; n++) {
        int tok = tok0 + n * 8 + g;
        xw[n] = tok < T ? (const uint32_t *)(const void *)(xh + (size_t)tok * KP) : nullptr;
    }
#pragma unroll 4
    for (int kc = w; kc < NKC; kc += KW) {
        uint4 a[RPW];
        uint32_t e[RPW];
#pragma unroll
        for (int i = 0; i < RPW; i++)
            if (i < tiles) {
                a[i] = __ldg(vp + ((size_t)i * NKC + kc) * 32);
                e[i] = __ldg(mp + ((size_t)i * NKC + kc) * 16);
            }
#pragma unroll
        for (int n = 0; n < 2; n++) {
            if (n >= nt)
                break;
            uint32_t b[4] = {0, 0, 0, 0};
            if (xw[n]) { /* k = 2t + {0,1} + 8i of this chunk: word t + 4i */
                const uint32_t *r = xw[n] + kc * 16 + t;
                b[0] = __ldg(r);
                b[1] = __ldg(r + 4);
                b[2] = __ldg(r + 8);
                b[3] = __ldg(r + 12);
            }
#pragma unroll
            for (int i = 0; i < RPW; i++)
                if (i < tiles)
                    sfc_mma_sp<H>(acc[i][n], a[i], b, e[i]);
        }
    }
    /* D: d0, d1 row g, tokens 2t, 2t+1; d2, d3 row g + 8 */
#pragma unroll
    for (int i = 0; i < RPW; i++)
#pragma unroll
        for (int n = 0; n < 2; n++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                part[w][n * 8 + 2 * t + h][i * 16 + g] = acc[i][n][h];
                part[w][n * 8 + 2 * t + h][i * 16 + g + 8] = acc[i][n][2 + h];
            }
    __syncthreads();
    for (int idx = threadIdx.x; idx < 16 * R; idx += blockDim.x) {
        const int tk = idx / R, r = idx % R, row = rb0 * 16 + r, tok = tok0 + tk;
        if (row >= O || tok >= T)
            continue;
        float s = bias ? bias[row] : 0.0f;
        for (int k = 0; k < KW; k++)
            s += part[k][tk][r];
        y[(size_t)tok * O + row] = sfc_act(act, s);
    }
}

/* Tiled kernel: a block computes BM = 16*WM*WARPS_M rows x BN = 8*WN*WARPS_N
 * tokens, K in steps of 64 through STAGES shared-memory stages filled by
 * cp.async. A stage holds the block's weight tiles as stored (values, then
 * metadata) and the activations as [BN][64] with the 16-byte chunks of row n
 * at chunk ^ (n % 8), so that ldmatrix's eight row reads hit distinct banks. */
template <int WM, int WN, int WARPS_M, int WARPS_N, int STAGES>
struct sfc_sp24_cfg {
    static constexpr int BM = 16 * WM * WARPS_M, BN = 8 * WN * WARPS_N;
    static constexpr int RT = BM / 16;                /* row tiles per block */
    static constexpr int THREADS = 32 * WARPS_M * WARPS_N;
    static constexpr int A_BYTES = RT * 2 * 512, E_BYTES = RT * 2 * 64, B_BYTES = BN * 128;
    static constexpr int STAGE = A_BYTES + E_BYTES + B_BYTES;
    static constexpr int SMEM = STAGES * STAGE;
};

template <int O, int KP, typename H, int WM, int WN, int WARPS_M, int WARPS_N, int STAGES>
__global__ void __launch_bounds__(32 * WARPS_M * WARPS_N)
sfc_sp24_tiled_kernel(const uint4 *__restrict__ vals, const uint4 *__restrict__ meta,
                      const float *__restrict__ bias, const H *__restrict__ xh,
                      float *__restrict__ y, int T)
{
    using C = sfc_sp24_cfg<WM, WN, WARPS_M, WARPS_N, STAGES>;
    constexpr int ROW_TILES = (O + 15) / 16, NKC = KP / 32, KT = (NKC + 1) / 2;
    extern __shared__ uint4 sfc_smem[];
    unsigned char *smem = (unsigned char *)sfc_smem;
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp % WARPS_M, wn = warp / WARPS_M, g = lane >> 2, t = lane & 3;
    const int rt0 = blockIdx.x * C::RT, tok0 = blockIdx.y * C::BN;

    /* Issues the copies of K step kt into stage s. */
    auto load = [&](int kt, int s) {
        unsigned char *st = smem + s * C::STAGE;
        for (int i = tid; i < C::RT * 2 * 32; i += C::THREADS) { /* weight values */
            const int rt = i >> 6, c = (i >> 5) & 1, kc = kt * 2 + c;
            const bool ok = rt0 + rt < ROW_TILES && kc < NKC;
            const uint4 *src = ok ? vals + ((size_t)(rt0 + rt) * NKC + kc) * 32 + (i & 31) : vals;
            sfc_cp_async16(st + i * 16, src, ok ? 16 : 0);
        }
        for (int i = tid; i < C::RT * 2 * 4; i += C::THREADS) { /* metadata */
            const int rt = i >> 3, c = (i >> 2) & 1, kc = kt * 2 + c;
            const bool ok = rt0 + rt < ROW_TILES && kc < NKC;
            const uint4 *src = ok ? meta + ((size_t)(rt0 + rt) * NKC + kc) * 4 + (i & 3) : meta;
            sfc_cp_async16(st + C::A_BYTES + i * 16, src, ok ? 16 : 0);
        }
        for (int i = tid; i < C::BN * 8; i += C::THREADS) { /* activations */
            const int n = i >> 3, j = i & 7, k = kt * 64 + j * 8;
            const bool ok = tok0 + n < T && k < KP;
            const H *src = ok ? xh + (size_t)(tok0 + n) * KP + k : xh;
            sfc_cp_async16(st + C::A_BYTES + C::E_BYTES + n * 128 + ((j ^ (n & 7)) * 16), src,
                           ok ? 16 : 0);
        }
    };

    float acc[WM][WN][4] = {};
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < KT)
            load(s, s);
        sfc_cp_async_commit();
    }
    for (int kt = 0; kt < KT; kt++) {
        sfc_cp_async_wait<STAGES - 2>();
        __syncthreads(); /* stage kt is in; every warp is done with stage kt - 1 */
        if (kt + STAGES - 1 < KT)
            load(kt + STAGES - 1, (kt + STAGES - 1) % STAGES);
        sfc_cp_async_commit();
        const unsigned char *st = smem + (kt % STAGES) * C::STAGE;
#pragma unroll
        for (int c = 0; c < 2; c++) {
            if (NKC % 2 && kt * 2 + c >= NKC)
                break;
            uint4 a[WM];
            uint32_t e[WM];
#pragma unroll
            for (int i = 0; i < WM; i++) {
                const int rt = wm * WM + i;
                a[i] = *(const uint4 *)(st + (rt * 2 + c) * 512 + lane * 16);
                e[i] = *(const uint32_t *)(st + C::A_BYTES + (rt * 2 + c) * 64 +
                                           (2 * g + (t & 1)) * 4);
            }
#pragma unroll
            for (int j = 0; j < WN; j++) {
                /* matrix q = lane / 8: tokens n0..n0+7, k = 8q..8q+7 of chunk c */
                const int n = (wn * WN + j) * 8 + (lane & 7), q = c * 4 + (lane >> 3);
                uint32_t b[4];
                sfc_ldmatrix_x4(b, st + C::A_BYTES + C::E_BYTES + n * 128 + ((q ^ (n & 7)) * 16));
#pragma unroll
                for (int i = 0; i < WM; i++)
                    sfc_mma_sp<H>(acc[i][j], a[i], b, e[i]);
            }
        }
    }
    sfc_cp_async_wait<0>();
    /* D: d0, d1 row g, tokens 2t, 2t+1; d2, d3 row g + 8 */
#pragma unroll
    for (int i = 0; i < WM; i++) {
        const int r0 = (rt0 + wm * WM + i) * 16 + g, r1 = r0 + 8;
        const float b0 = r0 < O && bias ? bias[r0] : 0.0f, b1 = r1 < O && bias ? bias[r1] : 0.0f;
#pragma unroll
        for (int j = 0; j < WN; j++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int tok = tok0 + (wn * WN + j) * 8 + 2 * t + h;
                if (tok >= T)
                    continue;
                if (r0 < O)
                    y[(size_t)tok * O + r0] = acc[i][j][h] + b0;
                if (r1 < O)
                    y[(size_t)tok * O + r1] = acc[i][j][2 + h] + b1;
            }
    }
}

/* The tiled kernel's launch; cfg picks the tile (the bench compares a few). */
template <int O, int KP, typename H, int WM = 4, int WN = 4, int WARPS_M = 2, int WARPS_N = 4,
          int STAGES = 4>
int sfc_linear_sp24_tiled(const void *vals, const void *meta, const float *bias,
                          const void *xh, float *y, int T, cudaStream_t st,
                          int act = SFC_NO_ACT)
{
    using C = sfc_sp24_cfg<WM, WN, WARPS_M, WARPS_N, STAGES>;
    constexpr int ROW_TILES = (O + 15) / 16;
    auto kern = sfc_sp24_tiled_kernel<O, KP, H, WM, WN, WARPS_M, WARPS_N, STAGES>;
    SFC_TRY(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, C::SMEM));
    dim3 grid((ROW_TILES + C::RT - 1) / C::RT, (T + C::BN - 1) / C::BN);
    kern<<<grid, C::THREADS, C::SMEM, st>>>((const uint4 *)vals, (const uint4 *)meta, bias,
                                            (const H *)xh, y, T);
    SFC_LAUNCHED();
    /* the activation in a pass of its own: in the epilogue it cost this
     * kernel a third of its speed (registers), against a few us here */
    return act == SFC_NO_ACT ? 0 : sfc_add_bias(y, nullptr, T, O, st, act);
}

template <int O, int KP, typename H, int RPW = 2, int KW = SFC_SP24_KW>
int sfc_linear_sp24_stream(const void *vals, const void *meta, const float *bias,
                           const void *xh, float *y, int T, cudaStream_t st,
                           int act = SFC_NO_ACT)
{
    dim3 grid(((O + 15) / 16 + RPW - 1) / RPW, (T + 15) / 16);
    sfc_sp24_stream_kernel<O, KP, H, RPW, KW><<<grid, 32 * KW, 0, st>>>(
        (const uint4 *)vals, (const uint32_t *)meta, bias, (const H *)xh, y, T, act);
    SFC_LAUNCHED();
    return 0;
}

/* y [T][O] = act(x W^T + b) for a 2:4 layer; xh is x in H from sfc_to_half. */
template <int O, int KP, typename H>
int sfc_linear_sp24(const void *vals, const void *meta, const float *bias, const void *xh,
                    float *y, int T, cudaStream_t st, int act = SFC_NO_ACT)
{
    if (T <= 0)
        return 0;
    /* 16 warps on K when it is long (8192: 1.5x cuBLAS instead of 1.36x), else 8 */
    constexpr int KW = KP / 32 >= 256 ? 16 : 8;
    if (T <= SFC_SP24_STREAM_T)
        return sfc_linear_sp24_stream<O, KP, H, 2, KW>(vals, meta, bias, xh, y, T, st, act);
    return sfc_linear_sp24_tiled<O, KP, H>(vals, meta, bias, xh, y, T, st, act);
}

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
#define SFC_ELL_U 1 /* slot octets a warp loads before using them (4 measured slower) */

/* 8 values from 16 or 32 bytes of raw bf16, f16 or f32 */
template <typename V>
__device__ __forceinline__ void sfc_ell_values(const V *p, float *f)
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
template <typename I>
__device__ __forceinline__ void sfc_ell_indices(const I *p, int *c)
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
        const uint4 u0 = __ldg((const uint4 *)(const void *)p), u1 = __ldg((const uint4 *)(const void *)p + 1);
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
                for (int j = 0; j < 8; j++)
                    sum += v[u][j] * __ldg(xi + c[u][j]);
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
    sfc_ell_kernel<O, K, S, V, I, GN, GM, TT, KW><<<grid, 32 * KW, 0, st>>>(
        (const V *)vals, (const I *)idx, bias, x, y, T, act);
    SFC_LAUNCHED();
    return 0;
}

/* y [T][O] = act(x W^T + b) for an ELL layer. GN = 0: absolute columns; else N:M
 * positions, GN slots per GM inputs. One token (decoding) gets one
 * accumulator and more warps per 32 rows (SFC_ELL_KW1): more loads in flight. */
#define SFC_ELL_KW1(S8) ((S8) >= 256 ? 32 : 16) /* measured: 8192x8192 1:4 2.1x, not 1.7x */
template <int O, int K, int S, typename V, typename I, int GN = 0, int GM = 0>
int sfc_linear_ell(const void *vals, const void *idx, const float *bias, const float *x,
                   float *y, int T, cudaStream_t st, int act = SFC_NO_ACT)
{
    if (T <= 0)
        return 0;
    if (T == 1)
        return sfc_linear_ell_cfg<O, K, S, V, I, GN, GM, 1, SFC_ELL_KW1((S + 7) / 8)>(
            vals, idx, bias, x, y, T, st, act);
    return sfc_linear_ell_cfg<O, K, S, V, I, GN, GM, SFC_ELL_TT, SFC_ELL_KW>(vals, idx, bias, x,
                                                                             y, T, st, act);
}

#endif
