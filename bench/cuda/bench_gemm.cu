/* bench_gemm.cu - the CUDA linear-layer kernels of the runtime against cuBLAS,
 * on the shapes of docs/CUDA.md's benchmark (BERT-large and GPT-2 layers at
 * 4096 tokens, 8192^3, decoding 1-16 tokens through 8192x8192 and 11008x4096).
 *
 *   bench_gemm [--runs N] [--warmup N] [--filter S[,S...]] [--json FILE]
 *
 * For each shape: random weights pruned to 2:4 (the two largest |w| of each
 * group of four along K) and random activations, bf16 operands, fp32
 * accumulation and output. Kernels: the runtime's 2:4 entry point (what the
 * generated code calls), each tiled-kernel configuration (many tokens) or the
 * stream kernel (decoding), cuBLAS dense bf16 on the same (zero-filled)
 * weights; for decoding also 1:4 through the ELL kernel against cuBLAS. Every
 * kernel's output is first poisoned, then checked at sampled points against a
 * float64 product of the same bf16 values. Timing (time_kernel): events on
 * the stream after a warm-up, median and minimum per call. Decoding shapes
 * flush the L2 cache (a 256 MiB write) before every timed call, so the
 * weights come from device memory as they would in a model. */
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "sf_cuda.cuh"
extern "C" {
#include "backends/cuda/sp24.h"
}

#define CHECK(call)                                                                    \
    do {                                                                               \
        cudaError_t e_ = (call);                                                       \
        if (e_ != cudaSuccess) {                                                       \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,              \
                    cudaGetErrorString(e_));                                           \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)
#define RUNTIME(call)                                                                  \
    do {                                                                               \
        if ((call) != 0) {                                                             \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, sfc_last_error());      \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

static int g_runs = 50, g_warmup = 10;
static FILE *g_json;
static cudaStream_t g_st;
static cublasHandle_t g_blas;
static void *g_flush; /* written before each timed call of a decoding shape */
static const size_t FLUSH_BYTES = 256u << 20;

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(void) /* uniform in [-1, 1) */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((g_rng >> 40) * (2.0 / 16777216.0) - 1.0);
}

/* W [O][K] pruned to n nonzeros in each group of m along K (largest |w|),
 * then rounded to bf16 so that every kernel and the reference see the same
 * numbers. */
static void make_weights(std::vector<float> &w, int O, int K, int n, int m)
{
    w.resize((size_t)O * K);
    for (auto &v : w)
        v = frand();
    for (size_t r = 0; r < (size_t)O; r++)
        for (int k0 = 0; k0 < K; k0 += m) {
            float *grp = &w[r * K + k0];
            for (;;) { /* drop the smallest nonzero while more than n are left */
                int lo = -1, nz = 0;
                for (int i = 0; i < m; i++)
                    if (grp[i] != 0.0f) {
                        nz++;
                        if (lo < 0 || fabsf(grp[i]) < fabsf(grp[lo]))
                            lo = i;
                    }
                if (nz <= n)
                    break;
                grp[lo] = 0.0f;
            }
        }
    for (auto &v : w)
        v = sf_half_to_f32(SF_HALF_BF16, sf_f32_to_bf16(v));
}

struct Shape {
    const char *name;
    int O, K, T, flush;
};

struct Result {
    std::string kernel;
    double med, min;
};

static double median(std::vector<float> v)
{
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Times f after the warm-up. Decoding shapes: each call alone between two
 * events, after the L2 flush (which keeps the GPU busy while the call is
 * enqueued). Others: SAMPLE_CALLS calls back to back between two events, so
 * that launch gaps stay out. Returns the median and minimum per call. */
static const int SAMPLE_CALLS = 10;
static Result time_kernel(const char *kernel, const Shape &s, const std::function<void()> &f)
{
    cudaEvent_t a, b;
    CHECK(cudaEventCreate(&a));
    CHECK(cudaEventCreate(&b));
    for (int i = 0; i < g_warmup; i++)
        f();
    std::vector<float> ms;
    for (int i = 0; i < g_runs; i++) {
        if (s.flush)
            CHECK(cudaMemsetAsync(g_flush, i & 0xff, FLUSH_BYTES, g_st));
        const int calls = s.flush ? 1 : SAMPLE_CALLS;
        CHECK(cudaEventRecord(a, g_st));
        for (int c = 0; c < calls; c++)
            f();
        CHECK(cudaEventRecord(b, g_st));
        CHECK(cudaEventSynchronize(b));
        float t;
        CHECK(cudaEventElapsedTime(&t, a, b));
        ms.push_back(t * 1000.0f / calls);
    }
    CHECK(cudaEventDestroy(a));
    CHECK(cudaEventDestroy(b));
    Result r{kernel, median(ms), *std::min_element(ms.begin(), ms.end())};
    return r;
}

/* Poisons y, runs f once, checks sampled outputs against float64. */
static int check_kernel(const char *kernel, const Shape &s, const std::vector<float> &w,
                        const std::vector<float> &x, float *y, const std::function<void()> &f)
{
    const size_t n = (size_t)s.T * s.O;
    CHECK(cudaMemsetAsync(y, 0xff, n * 4, g_st)); /* NaN */
    f();
    CHECK(cudaStreamSynchronize(g_st));
    std::vector<float> h(n);
    CHECK(cudaMemcpy(h.data(), y, n * 4, cudaMemcpyDeviceToHost));
    double worst = 0.0;
    for (int i = 0; i < 4096; i++) {
        size_t tok = (g_rng = g_rng * 6364136223846793005ull + 1) >> 33 ;
        tok %= (size_t)s.T;
        size_t o = ((g_rng = g_rng * 6364136223846793005ull + 1) >> 33) % (size_t)s.O;
        if (i < 2) { /* the corners too */
            tok = i ? s.T - 1 : 0;
            o = i ? s.O - 1 : 0;
        }
        double ref = 0.0, mag = 0.0;
        for (int k = 0; k < s.K; k++) {
            double p = (double)w[o * s.K + k] * x[tok * s.K + k];
            ref += p;
            mag += fabs(p);
        }
        double got = h[tok * s.O + o];
        double err = fabs(got - ref) / (mag > 0 ? mag : 1.0);
        if (!(err <= 1e-5)) { /* NaN fails too */
            fprintf(stderr, "%s %s: y[%zu][%zu] = %g, float64 %g (error %.2e of sum |w x|)\n",
                    s.name, kernel, tok, o, got, ref, err);
            return 1;
        }
        worst = std::max(worst, err);
    }
    return 0;
}

static void report(const Shape &s, const char *pattern, const Result &r, double peer_med)
{
    double tflops = 2.0 * s.O * s.K * s.T / (r.med * 1e-6) / 1e12;
    printf("%-14s %-4s %6d %6d %5d  %-22s %10.1f %10.1f %8.1f", s.name, pattern, s.O, s.K, s.T,
           r.kernel.c_str(), r.med, r.min, tflops);
    if (peer_med > 0)
        printf("  %5.2fx", peer_med / r.med);
    printf("\n");
    if (g_json)
        fprintf(g_json,
                "{\"name\": \"%s\", \"pattern\": \"%s\", \"O\": %d, \"K\": %d, \"T\": %d, "
                "\"flush\": %s, \"kernel\": \"%s\", \"median_us\": %.3f, \"min_us\": %.3f, "
                "\"runs\": %d}\n",
                s.name, pattern, s.O, s.K, s.T, s.flush ? "true" : "false", r.kernel.c_str(),
                r.med, r.min, g_runs);
}

template <typename T> static T *upload(const void *h, size_t bytes)
{
    void *d;
    CHECK(cudaMalloc(&d, bytes ? bytes : 1));
    CHECK(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice));
    return (T *)d;
}

/* One shape: 2:4 (every configuration) and, when decoding, 1:4 ELL. */
template <int O, int K> static int bench_shape(const Shape &s)
{
    constexpr int KP = (K + 31) / 32 * 32, OP16 = (O + 15) / 16 * 16;
    using H = __nv_bfloat16;
    int fails = 0;
    std::vector<float> w, x((size_t)s.T * K);
    for (auto &v : x)
        v = sf_half_to_f32(SF_HALF_BF16, sf_f32_to_bf16(frand()));
    make_weights(w, O, K, 2, 4);

    /* the runtime's layouts: 2:4 tiles, dense bf16 [O][KP], xh [T][KP] */
    size_t tiles = (size_t)OP16 / 16 * (KP / 32);
    std::vector<uint16_t> vals(tiles * SF_SP24_TILE_VALUES), dense((size_t)O * KP, 0);
    std::vector<uint32_t> meta(tiles * SF_SP24_TILE_WORDS);
    int64_t br, bc;
    if (sf_sp24_encode(w.data(), O, K, SF_HALF_BF16, vals.data(), meta.data(), &br, &bc)) {
        fprintf(stderr, "%s: not 2:4 at row %lld col %lld\n", s.name, (long long)br,
                (long long)bc);
        return 1;
    }
    for (size_t r = 0; r < (size_t)O; r++)
        for (int k = 0; k < K; k++)
            dense[r * KP + k] = sf_f32_to_bf16(w[r * K + k]);
    uint16_t *dv = upload<uint16_t>(vals.data(), vals.size() * 2);
    uint32_t *dm = upload<uint32_t>(meta.data(), meta.size() * 4);
    uint16_t *dd = upload<uint16_t>(dense.data(), dense.size() * 2);
    float *dx = upload<float>(x.data(), x.size() * 4), *dy;
    void *dxh;
    CHECK(cudaMalloc(&dy, (size_t)s.T * O * 4));
    CHECK(cudaMalloc(&dxh, (size_t)s.T * KP * 2));
    RUNTIME(sfc_to_half(dx, dxh, s.T, K, KP, 0, g_st));

    auto cublas = [&] { RUNTIME(sfc_linear_dense(g_blas, dd, 0, nullptr, dxh, dy, s.T, O, K, KP, g_st)); };
    std::vector<std::pair<const char *, std::function<void()>>> ks;
    ks.push_back({"sf_sp24", [&] { RUNTIME((sfc_linear_sp24<O, KP, H>(dv, dm, nullptr, dxh, dy, s.T, g_st))); }});
    if (s.T > SFC_SP24_STREAM_T) {
        ks.push_back({"tiled_128x128_w32x64", [&] { RUNTIME((sfc_linear_sp24_tiled<O, KP, H, 2, 8, 4, 2, 4>(dv, dm, nullptr, dxh, dy, s.T, g_st))); }});
        ks.push_back({"tiled_256x128_w64x64", [&] { RUNTIME((sfc_linear_sp24_tiled<O, KP, H, 4, 8, 4, 2, 3>(dv, dm, nullptr, dxh, dy, s.T, g_st))); }});
        ks.push_back({"tiled_128x256_w64x64", [&] { RUNTIME((sfc_linear_sp24_tiled<O, KP, H, 4, 8, 2, 4, 3>(dv, dm, nullptr, dxh, dy, s.T, g_st))); }});
        ks.push_back({"tiled_128x128_w64x32", [&] { RUNTIME((sfc_linear_sp24_tiled<O, KP, H, 4, 4, 2, 4, 4>(dv, dm, nullptr, dxh, dy, s.T, g_st))); }});
    } else {
        ks.push_back({"stream_r1_w8", [&] { RUNTIME((sfc_linear_sp24_stream<O, KP, H, 1, 8>(dv, dm, nullptr, dxh, dy, s.T, g_st))); }});
        ks.push_back({"stream_r2_w8", [&] { RUNTIME((sfc_linear_sp24_stream<O, KP, H, 2, 8>(dv, dm, nullptr, dxh, dy, s.T, g_st))); }});
        ks.push_back({"stream_r4_w8", [&] { RUNTIME((sfc_linear_sp24_stream<O, KP, H, 4, 8>(dv, dm, nullptr, dxh, dy, s.T, g_st))); }});
        ks.push_back({"stream_r2_w16", [&] { RUNTIME((sfc_linear_sp24_stream<O, KP, H, 2, 16>(dv, dm, nullptr, dxh, dy, s.T, g_st))); }});
        ks.push_back({"stream_r1_w16", [&] { RUNTIME((sfc_linear_sp24_stream<O, KP, H, 1, 16>(dv, dm, nullptr, dxh, dy, s.T, g_st))); }});
    }
    fails += check_kernel("cublas_bf16", s, w, x, dy, cublas);
    Result rb = time_kernel("cublas_bf16", s, cublas);
    report(s, "2:4", rb, 0);
    for (auto &k : ks) {
        if (check_kernel(k.first, s, w, x, dy, k.second)) {
            fails++;
            continue;
        }
        report(s, "2:4", time_kernel(k.first, s, k.second), rb.med);
    }

    if (s.T <= 16) { /* 25 %-dense decoding: 1:4 as ELL, the runtime's octet layout */
        constexpr int S = K / 4, OP = (O + 31) / 32 * 32, S8 = (S + 7) / 8;
        make_weights(w, O, K, 1, 4);
        std::vector<uint16_t> ev((size_t)S8 * OP * 8, 0), ec((size_t)S8 * OP * 8, 0);
        std::vector<uint8_t> eg((size_t)S8 * OP * 8, 0); /* position in the group of 4 */
        std::vector<uint16_t> evg(ev.size(), 0);          /* slot k / 4: its group's */
        for (size_t r = 0; r < (size_t)O; r++)
            for (int k = 0, n = 0; k < K; k++)
                if (w[r * K + k] != 0.0f) {
                    size_t at = ((size_t)(n / 8) * OP + r) * 8 + n % 8;
                    size_t ag = ((size_t)(k / 4 / 8) * OP + r) * 8 + k / 4 % 8;
                    ev[at] = sf_f32_to_bf16(w[r * K + k]);
                    ec[at] = (uint16_t)k;
                    evg[ag] = ev[at];
                    eg[ag] = (uint8_t)(k % 4);
                    n++;
                }
        for (size_t r = 0; r < (size_t)O; r++)
            for (int k = 0; k < K; k++)
                dense[r * KP + k] = sf_f32_to_bf16(w[r * K + k]);
        CHECK(cudaMemcpy(dd, dense.data(), dense.size() * 2, cudaMemcpyHostToDevice));
        uint16_t *dev = upload<uint16_t>(ev.data(), ev.size() * 2);
        uint16_t *devg = upload<uint16_t>(evg.data(), evg.size() * 2);
        uint16_t *dec = upload<uint16_t>(ec.data(), ec.size() * 2);
        uint8_t *deg = upload<uint8_t>(eg.data(), eg.size());
        auto ell = [&] { RUNTIME((sfc_linear_ell<O, K, S, H, uint8_t, 1, 4>(devg, deg, nullptr, dx, dy, s.T, g_st))); };
        using U8 = uint8_t;
        std::vector<std::pair<const char *, std::function<void()>>> ells;
        if (s.T == 1) {
            ells.push_back({"ell_t1_w8", [&] { RUNTIME((sfc_linear_ell_cfg<O, K, S, H, U8, 1, 4, 1, 8>(devg, deg, nullptr, dx, dy, s.T, g_st))); }});
            ells.push_back({"ell_t1_w16", [&] { RUNTIME((sfc_linear_ell_cfg<O, K, S, H, U8, 1, 4, 1, 16>(devg, deg, nullptr, dx, dy, s.T, g_st))); }});
            ells.push_back({"ell_t1_w32", [&] { RUNTIME((sfc_linear_ell_cfg<O, K, S, H, U8, 1, 4, 1, 32>(devg, deg, nullptr, dx, dy, s.T, g_st))); }});
        }
        auto ell16 = [&] { RUNTIME((sfc_linear_ell<O, K, S, H, uint16_t>(dev, dec, nullptr, dx, dy, s.T, g_st))); };
        fails += check_kernel("cublas_bf16", s, w, x, dy, cublas);
        Result r14 = time_kernel("cublas_bf16", s, cublas);
        report(s, "1:4", r14, 0);
        if (check_kernel("sf_ell", s, w, x, dy, ell))
            fails++;
        else
            report(s, "1:4", time_kernel("sf_ell", s, ell), r14.med);
        for (auto &k : ells) {
            if (check_kernel(k.first, s, w, x, dy, k.second))
                fails++;
            else
                report(s, "1:4", time_kernel(k.first, s, k.second), r14.med);
        }
        if (check_kernel("ell_u16_columns", s, w, x, dy, ell16))
            fails++;
        else
            report(s, "1:4", time_kernel("ell_u16_columns", s, ell16), r14.med);
        CHECK(cudaFree(dev));
        CHECK(cudaFree(devg));
        CHECK(cudaFree(dec));
        CHECK(cudaFree(deg));
    }
    CHECK(cudaFree(dv));
    CHECK(cudaFree(dm));
    CHECK(cudaFree(dd));
    CHECK(cudaFree(dx));
    CHECK(cudaFree(dy));
    CHECK(cudaFree(dxh));
    return fails;
}

/* name, O (rows), K, T (tokens), flush L2 */
#define SHAPES(X)                                 \
    X(bert_l_qkv, 3072, 1024, 4096, 0)            \
    X(bert_l_out, 1024, 1024, 4096, 0)            \
    X(bert_l_up, 4096, 1024, 4096, 0)             \
    X(bert_l_down, 1024, 4096, 4096, 0)           \
    X(gpt2_qkv, 2304, 768, 4096, 0)               \
    X(gpt2_proj, 768, 768, 4096, 0)               \
    X(gpt2_up, 3072, 768, 4096, 0)                \
    X(gpt2_down, 768, 3072, 4096, 0)              \
    X(sq8192, 8192, 8192, 8192, 0)                \
    X(dec8192_t1, 8192, 8192, 1, 1)               \
    X(dec8192_t8, 8192, 8192, 8, 1)               \
    X(dec8192_t16, 8192, 8192, 16, 1)             \
    X(dec11008_t1, 11008, 4096, 1, 1)             \
    X(dec11008_t16, 11008, 4096, 16, 1)

/* --filter: comma-separated substrings of shape names */
static int selected(const char *filter, const char *name)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", filter);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ","))
        if (strstr(name, tok))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *filter = nullptr;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            g_runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            g_warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            filter = argv[++i];
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) {
            if (!(g_json = fopen(argv[++i], "w"))) {
                perror(argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: %s [--runs N] [--warmup N] [--filter S] [--json FILE]\n",
                    argv[0]);
            return 2;
        }
    }
    if (g_runs < 1 || g_warmup < 0) {
        fprintf(stderr, "bench_gemm: --runs must be >= 1 and --warmup >= 0\n");
        return 2;
    }
    cudaDeviceProp p;
    CHECK(cudaGetDeviceProperties(&p, 0));
    CHECK(cudaStreamCreate(&g_st));
    if (cublasCreate(&g_blas) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "bench_gemm: cublasCreate failed\n");
        return 1;
    }
    CHECK(cudaMalloc(&g_flush, FLUSH_BYTES));
    printf("# %s, %d SMs; median of %d event-timed calls after %d warm-up; "
           "ratio = cuBLAS time / kernel time\n",
           p.name, p.multiProcessorCount, g_runs, g_warmup);
    printf("%-14s %-4s %6s %6s %5s  %-22s %10s %10s %8s  %s\n", "shape", "pat", "O", "K", "T",
           "kernel", "median_us", "min_us", "TFLOP/s", "vs cuBLAS");
    int fails = 0;
#define RUN(name, O, K, T, F)                                                          \
    if (!filter || selected(filter, #name)) {                                          \
        Shape s = {#name, O, K, T, F};                                                 \
        fails += bench_shape<O, K>(s);                                                 \
    }
    SHAPES(RUN)
    cublasDestroy(g_blas);
    CHECK(cudaFree(g_flush));
    if (g_json)
        fclose(g_json);
    if (fails)
        fprintf(stderr, "bench_gemm: %d kernel(s) gave wrong results\n", fails);
    return fails ? 1 : 0;
}
