/* sf_cuda_sp24.cuh - part of the CUDA runtime (sf_cuda.cuh): the 2:4 linear
 * layers on sparse tensor cores, as templates that the generated <model>.cu
 * instantiates with each layer's shapes: the stream kernel (up to
 * SFC_SP24_STREAM_T tokens), the tiled kernel (more tokens), their launches
 * and sfc_linear_sp24, which picks one. The PTX they issue is in
 * sf_cuda_ptx.cuh; the weight layout is generator/backends/cuda/sp24.h's
 * (docs/CUDA.md, "The 2:4 tile layout"). */
#ifndef SF_CUDA_SP24_CUH
#define SF_CUDA_SP24_CUH

#include "sf_cuda_act.cuh"
#include "sf_cuda_core.cuh"
#include "sf_cuda_linear.cuh"
#include "sf_cuda_ptx.cuh"

/* 2:4 on sparse tensor cores: mma.sp::ordered_metadata m16n8k32 with fp32
 * accumulation. A is the weight (generator/sp24.h: 16x32 tiles, values in A
 * fragment order, then metadata), B the activations xh [T][KP], D is y^T.
 * Two kernels: a weight stream for up to SFC_SP24_STREAM_T tokens (decoding:
 * memory-bound, so the K loop is split across the warps of a block to keep
 * enough loads in flight), and a tiled kernel for more tokens (compute-bound:
 * weight tiles and activations staged through shared memory by a cp.async
 * pipeline so that every byte fetched feeds several mma). */
#define SFC_SP24_STREAM_T 32 /* tokens up to which the stream kernel runs */
#define SFC_SP24_KW       8  /* stream kernel: warps splitting K in a block (short K) */

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
template <int WM, int WN, int WARPS_M, int WARPS_N, int STAGES> struct sfc_sp24_cfg {
    static constexpr int BM = 16 * WM * WARPS_M, BN = 8 * WN * WARPS_N;
    static constexpr int RT = BM / 16; /* row tiles per block */
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
int sfc_linear_sp24_tiled(const void *vals, const void *meta, const float *bias, const void *xh,
                          float *y, int T, cudaStream_t st, int act = SFC_NO_ACT)
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
int sfc_linear_sp24_stream(const void *vals, const void *meta, const float *bias, const void *xh,
                           float *y, int T, cudaStream_t st, int act = SFC_NO_ACT)
{
    dim3 grid(((O + 15) / 16 + RPW - 1) / RPW, (T + 15) / 16);
    sfc_sp24_stream_kernel<O, KP, H, RPW, KW><<<grid, 32 * KW, 0, st>>>(
        (const uint4 *)vals, (const uint32_t *)meta, bias, (const H *)xh, y, T, act);
    SFC_LAUNCHED();
    return 0;
}

template <typename H> __device__ __forceinline__ float sfc_h2f(H h)
{
    if constexpr (std::is_same<H, __half>::value)
        return __half2float(h);
    else
        return __bfloat162float(h);
}

/* After the tensor cores, which multiply the zeros a group of fewer than 2
 * nonzeros keeps: each token with an Inf or NaN input is recomputed as bias
 * + the sum over the nonzero weights (docs/NUMERICS.md), decoding the tiles
 * of sp24.h. A block per token; one read of its inputs when they are finite. */
template <int O, int KP, typename H>
__global__ void sfc_sp24_exact(const H *__restrict__ vals, const uint32_t *__restrict__ meta,
                               const float *__restrict__ bias, const H *__restrict__ xh,
                               float *__restrict__ y, int T, int act)
{
    for (int t = blockIdx.x; t < T; t += gridDim.x) {
        const H *xt = xh + (size_t)t * KP;
        int bad = 0;
        for (int i = threadIdx.x; i < KP; i += blockDim.x)
            bad |= !isfinite(sfc_h2f(xt[i]));
        if (!__syncthreads_or(bad))
            continue;
        for (int r = threadIdx.x; r < O; r += blockDim.x) {
            const int g = r % 8, hi = r % 16 >= 8;
            float acc = bias ? bias[r] : 0.0f;
            for (int kc = 0; kc < KP / 32; kc++) {
                const size_t tile = (size_t)(r / 16) * (KP / 32) + kc;
                for (int q = 0; q < 8; q++) { /* group q: inputs 32 kc + 4 q .. */
                    const uint32_t word = meta[tile * 16 + 2 * g + q / 4];
                    const unsigned nib = (word >> (4 * (q % 4) + (hi ? 16 : 0))) & 0xf;
                    for (int s = 0; s < 2; s++) { /* compressed column 2 q + s */
                        const int c = 2 * q + s;
                        const int at =
                            (4 * g + (c % 8) / 2) * 8 + (c >= 8 ? 4 : 0) + (hi ? 2 : 0) + c % 2;
                        const float v = sfc_h2f(vals[tile * 256 + at]);
                        if (v != 0.0f)
                            acc += v * sfc_h2f(xt[32 * kc + 4 * q + ((nib >> (2 * s)) & 3)]);
                    }
                }
            }
            y[(size_t)t * O + r] = sfc_act(act, acc);
        }
    }
}

/* y [T][O] = act(x W^T + b) for a 2:4 layer; xh is x in H from sfc_to_half. */
template <int O, int KP, typename H>
int sfc_linear_sp24(const void *vals, const void *meta, const float *bias, const void *xh, float *y,
                    int T, cudaStream_t st, int act = SFC_NO_ACT)
{
    if (T <= 0)
        return 0;
    /* 16 warps on K when it is long (8192: 1.5x cuBLAS instead of 1.36x), else 8 */
    constexpr int KW = KP / 32 >= 256 ? 16 : 8;
    if (T <= SFC_SP24_STREAM_T
            ? sfc_linear_sp24_stream<O, KP, H, 2, KW>(vals, meta, bias, xh, y, T, st, act)
            : sfc_linear_sp24_tiled<O, KP, H>(vals, meta, bias, xh, y, T, st, act))
        return SFC_ERR;
    const dim3 grid(T < 4096 ? T : 4096);
    sfc_sp24_exact<O, KP, H><<<grid, 256, 0, st>>>((const H *)vals, (const uint32_t *)meta, bias,
                                                   (const H *)xh, y, T, act);
    SFC_LAUNCHED();
    return 0;
}

#endif
