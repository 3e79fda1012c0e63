/* sf_cuda.cu - network ops of the CUDA runtime (sf_cuda_ops.cuh): one thread per
 * output element unless said otherwise, fp32 throughout, the CPU runtime's
 * semantics (sf_nn.c, sf_ops.c) line for line. Also the error record
 * (sf_cuda_core.cuh) and the linear-layer helpers and the cuBLAS call
 * (sf_cuda_linear.cuh). The runtime's other compilation unit is
 * sf_cuda_ctx.cu, a generated model's context. */
#include "sf_cuda.cuh"

#include <math.h>
#include <stdio.h>

/* ---- errors -------------------------------------------------------------------- */

static thread_local char sfc_msg[512];

int sfc_fail(const char *file, int line, const char *call, const char *why)
{
    if (!sfc_msg[0])
        snprintf(sfc_msg, sizeof sfc_msg, "%s:%d: %s: %s", file, line, call, why);
    return SFC_ERR;
}
int sfc_fail_if(cudaError_t e, const char *file, int line)
{
    return e == cudaSuccess ? 0 : sfc_fail(file, line, "CUDA call", cudaGetErrorString(e));
}
const char *sfc_last_error(void)
{
    return sfc_msg[0] ? sfc_msg : "no error";
}
void sfc_clear_error(void)
{
    sfc_msg[0] = 0;
}

#define THREADS 256
static unsigned blocks_for(size_t n)
{
    return (unsigned)((n + THREADS - 1) / THREADS);
}
#define FOR_EACH(i, n)                                        \
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; \
    if (i >= (n))                                             \
    return
/* Launches `kernel` on `blocks` blocks of `threads` (none for no work) and
 * returns the launch's status. */
#define LAUNCH_GRID(kernel, blocks, threads, st, ...)                \
    do {                                                             \
        if ((blocks) == 0)                                           \
            return 0;                                                \
        kernel<<<(unsigned)(blocks), threads, 0, st>>>(__VA_ARGS__); \
        SFC_LAUNCHED();                                              \
        return 0;                                                    \
    } while (0)
/* One thread per element of n. */
#define LAUNCH(kernel, n, st, ...) LAUNCH_GRID(kernel, blocks_for(n), THREADS, st, __VA_ARGS__)

/* ---- elementwise ----------------------------------------------------------------- */

__global__ static void k_unary(sf_unary_op op, float a, float b, const float *x, float *y, size_t n)
{
    FOR_EACH(i, n);
    y[i] = sfc_act_ab(op, a, b, x[i]);
}
int sfc_unary(sf_unary_op op, const float *x, float *y, size_t n, cudaStream_t st)
{
    return sfc_unary_ab(op, 0.0f, 0.0f, x, y, n, st);
}
int sfc_unary_ab(sf_unary_op op, float a, float b, const float *x, float *y, size_t n,
                 cudaStream_t st)
{
    LAUNCH(k_unary, n, st, op, a, b, x, y, n);
}

/* Strides (0 where broadcast) of an operand seen through y's dims; dims[0]
 * is the batch. */
typedef struct {
    int64_t yd[8], as[8], bs[8];
    int rank;
} bcast;

static bcast binary_strides(sfc_dims ad, sfc_dims bd, sfc_dims ydims, int rank, int batch)
{
    bcast c = {};
    int64_t sa = 1, sb = 1;
    c.rank = rank;
    for (int i = rank - 1; i >= 0; i--) {
        /* dims[0] of 1: the same for every batch item (sf_binary, sf_ops.h) */
        int64_t a = i || ad.d[0] == 1 ? ad.d[i] : batch, b = i || bd.d[0] == 1 ? bd.d[i] : batch;
        c.yd[i] = i ? ydims.d[i] : batch;
        c.as[i] = a == 1 && c.yd[i] != 1 ? 0 : sa;
        c.bs[i] = b == 1 && c.yd[i] != 1 ? 0 : sb;
        sa *= a;
        sb *= b;
    }
    return c;
}

__device__ static float binary1(sf_binary_op op, float a, float b)
{
    switch (op) {
    case SF_BINARY_ADD: return a + b;
    case SF_BINARY_MUL: return a * b;
    case SF_BINARY_SUB: return a - b;
    case SF_BINARY_DIV: return a / b;
    case SF_BINARY_POW: return powf(a, b);
    case SF_BINARY_MIN: return a < b || a != a ? a : b;
    case SF_BINARY_MAX: return a > b || a != a ? a : b;
    case SF_BINARY_EQUAL: return a == b ? 1.0f : 0.0f;
    case SF_BINARY_LESS: return a < b ? 1.0f : 0.0f;
    case SF_BINARY_GREATER: return a > b ? 1.0f : 0.0f;
    case SF_BINARY_LESSOREQUAL: return a <= b ? 1.0f : 0.0f;
    case SF_BINARY_GREATEROREQUAL: return a >= b ? 1.0f : 0.0f;
    case SF_BINARY_AND: return a != 0.0f && b != 0.0f ? 1.0f : 0.0f;
    case SF_BINARY_OR: return a != 0.0f || b != 0.0f ? 1.0f : 0.0f;
    }
    return 0.0f;
}

__global__ static void k_binary(sf_binary_op op, const float *a, const float *b, float *y, bcast c,
                                size_t n)
{
    FOR_EACH(i, n);
    int64_t rem = (int64_t)i, ao = 0, bo = 0;
    for (int d = c.rank - 1; d >= 0; d--) {
        int64_t idx = rem % c.yd[d];
        rem /= c.yd[d];
        ao += idx * c.as[d];
        bo += idx * c.bs[d];
    }
    y[i] = binary1(op, a[ao], b[bo]);
}
int sfc_binary(sf_binary_op op, const float *a, sfc_dims ad, const float *b, sfc_dims bd, float *y,
               sfc_dims yd, int rank, int batch, cudaStream_t st)
{
    bcast c = binary_strides(ad, bd, yd, rank, batch);
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= (size_t)c.yd[i];
    LAUNCH(k_binary, n, st, op, a, b, y, c, n);
}

/* Strides of c, a and b seen through y's dims, as binary_strides. */
typedef struct {
    int64_t yd[8], cs[8], as[8], bs[8];
    int rank;
} bcast3;

static void operand_strides(sfc_dims d, const int64_t *yd, int rank, int batch, int64_t *s)
{
    int64_t m = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int64_t di = i || d.d[0] == 1 ? d.d[i] : batch;
        s[i] = di == 1 && yd[i] != 1 ? 0 : m;
        m *= di;
    }
}

__global__ static void k_where(const float *c, const float *a, const float *b, float *y, bcast3 s,
                               size_t n)
{
    FOR_EACH(i, n);
    int64_t rem = (int64_t)i, co = 0, ao = 0, bo = 0;
    for (int d = s.rank - 1; d >= 0; d--) {
        int64_t idx = rem % s.yd[d];
        rem /= s.yd[d];
        co += idx * s.cs[d];
        ao += idx * s.as[d];
        bo += idx * s.bs[d];
    }
    y[i] = c[co] != 0.0f ? a[ao] : b[bo];
}
int sfc_where(const float *c, sfc_dims cd, const float *a, sfc_dims ad, const float *b, sfc_dims bd,
              float *y, sfc_dims yd, int rank, int batch, cudaStream_t st)
{
    bcast3 s = {};
    s.rank = rank;
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        s.yd[i] = i ? yd.d[i] : batch;
        n *= (size_t)s.yd[i];
    }
    operand_strides(cd, s.yd, rank, batch, s.cs);
    operand_strides(ad, s.yd, rank, batch, s.as);
    operand_strides(bd, s.yd, rank, batch, s.bs);
    LAUNCH(k_where, n, st, c, a, b, y, s, n);
}

__global__ static void k_expand(const float *x, float *y, bcast3 s, size_t n)
{
    FOR_EACH(i, n);
    int64_t rem = (int64_t)i, xo = 0;
    for (int d = s.rank - 1; d >= 0; d--) {
        xo += rem % s.yd[d] * s.cs[d];
        rem /= s.yd[d];
    }
    y[i] = x[xo];
}
int sfc_expand(const float *x, sfc_dims xd, float *y, sfc_dims yd, int rank, int batch,
               cudaStream_t st)
{
    bcast3 s = {};
    s.rank = rank;
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        s.yd[i] = i ? yd.d[i] : batch;
        n *= (size_t)s.yd[i];
    }
    operand_strides(xd, s.yd, rank, batch, s.cs);
    LAUNCH(k_expand, n, st, x, y, s, n);
}

/* Reduction: the kept axes index y, the reduced ones are walked per output
 * element (sf_reduce in sf_ops.c). */
typedef struct {
    int64_t kd[8], ks[8], rd[8], rs[8], nred;
    int nk, nr;
} reduce_plan;

__global__ static void k_reduce(sf_reduce_op op, const float *x, float *y, reduce_plan p, size_t n)
{
    FOR_EACH(o, n);
    int64_t base = 0, rem = (int64_t)o, cnt[8] = {0}, off = 0;
    for (int k = 0; k < p.nk; k++) {
        base += rem % p.kd[k] * p.ks[k];
        rem /= p.kd[k];
    }
    float acc = x[base];
    for (int64_t r = 1; r < p.nred; r++) {
        for (int k = 0; k < p.nr; k++) {
            off += p.rs[k];
            if (++cnt[k] < p.rd[k])
                break;
            off -= p.rs[k] * p.rd[k];
            cnt[k] = 0;
        }
        float v = x[base + off];
        switch (op) {
        case SF_REDUCE_SUM:
        case SF_REDUCE_MEAN: acc += v; break;
        case SF_REDUCE_MAX: acc = v > acc || v != v ? v : acc; break;
        case SF_REDUCE_MIN: acc = v < acc || v != v ? v : acc; break;
        case SF_REDUCE_PROD: acc *= v; break;
        }
    }
    y[o] = op == SF_REDUCE_MEAN ? acc / (float)p.nred : acc;
}
int sfc_reduce(sf_reduce_op op, const float *x, sfc_dims dims, unsigned axes, int rank, float *y,
               int batch, cudaStream_t st)
{
    reduce_plan p = {};
    int64_t s = 1, nout = 1;
    p.nred = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int64_t d = i ? dims.d[i] : batch;
        if (i && (axes >> i & 1u)) {
            p.rd[p.nr] = d;
            p.rs[p.nr++] = s;
            p.nred *= d;
        } else {
            p.kd[p.nk] = d;
            p.ks[p.nk++] = s;
            nout *= d;
        }
        s *= d;
    }
    LAUNCH(k_reduce, (size_t)nout, st, op, x, y, p, (size_t)nout);
}

/* ---- convolution and pooling ---------------------------------------------------------- */

__global__ static void k_im2col(const float *x, float *cols, sf_conv_shape s, size_t n)
{
    FOR_EACH(i, n);
    const size_t K = (size_t)s.C * s.kh * s.kw;
    size_t tok = i / K, k = i % K;
    int ow = (int)(tok % (size_t)s.Wo), oh = (int)(tok / (size_t)s.Wo % (size_t)s.Ho);
    int img = (int)(tok / ((size_t)s.Wo * s.Ho));
    int c = (int)(k / ((size_t)s.kh * s.kw)), r = (int)(k / (size_t)s.kw % (size_t)s.kh);
    int q = (int)(k % (size_t)s.kw);
    int ih = oh * s.sh - s.pt + r * s.dh, iw = ow * s.sw - s.pl + q * s.dw;
    cols[i] = ih >= 0 && ih < s.H && iw >= 0 && iw < s.W
                  ? x[(((size_t)img * s.C + c) * s.H + ih) * s.W + iw]
                  : 0.0f;
}
int sfc_im2col(const float *x, float *cols, int N, sf_conv_shape s, cudaStream_t st)
{
    size_t n = (size_t)N * s.Ho * s.Wo * s.C * s.kh * s.kw;
    LAUNCH(k_im2col, n, st, x, cols, s, n);
}

__global__ static void k_tokens_to_nchw(const float *t, float *y, int O, int HW, size_t n)
{
    FOR_EACH(i, n); /* i indexes y [N][O][HW] */
    size_t img = i / ((size_t)O * HW), o = i / (size_t)HW % (size_t)O, p = i % (size_t)HW;
    y[i] = t[(img * HW + p) * O + o];
}
int sfc_tokens_to_nchw(const float *t, float *y, int N, int O, int HW, cudaStream_t st)
{
    size_t n = (size_t)N * O * HW;
    LAUNCH(k_tokens_to_nchw, n, st, t, y, O, HW, n);
}

__global__ static void k_conv_direct(const float *x, const float *w, const float *b, float *y,
                                     sf_conv_shape s, size_t n)
{
    FOR_EACH(i, n); /* y [N][O][Ho][Wo] */
    const int cpg = s.C / s.groups, opg = s.O / s.groups;
    int ow = (int)(i % (size_t)s.Wo), oh = (int)(i / (size_t)s.Wo % (size_t)s.Ho);
    int o = (int)(i / ((size_t)s.Wo * s.Ho) % (size_t)s.O);
    size_t img = i / ((size_t)s.Wo * s.Ho * s.O);
    int g = o / opg;
    float acc = b ? b[o] : 0.0f;
    for (int c = 0; c < cpg; c++) {
        const float *plane = x + (img * s.C + (size_t)g * cpg + c) * s.H * s.W;
        const float *wk = w + ((size_t)o * cpg + c) * s.kh * s.kw;
        for (int r = 0; r < s.kh; r++) {
            int ih = oh * s.sh - s.pt + r * s.dh;
            if (ih < 0 || ih >= s.H)
                continue;
            for (int q = 0; q < s.kw; q++) {
                int iw = ow * s.sw - s.pl + q * s.dw;
                if (iw >= 0 && iw < s.W)
                    acc += wk[r * s.kw + q] * plane[(size_t)ih * s.W + iw];
            }
        }
    }
    y[i] = acc;
}
int sfc_conv2d_direct(const float *x, const float *w, const float *b, float *y, int N,
                      sf_conv_shape s, cudaStream_t st)
{
    size_t n = (size_t)N * s.O * s.Ho * s.Wo;
    LAUNCH(k_conv_direct, n, st, x, w, b, y, s, n);
}

__global__ static void k_pool(int is_max, const float *x, float *y, sf_conv_shape s, size_t n)
{
    FOR_EACH(i, n); /* y [N][C][Ho][Wo] */
    int ow = (int)(i % (size_t)s.Wo), oh = (int)(i / (size_t)s.Wo % (size_t)s.Ho);
    const float *plane = x + i / ((size_t)s.Wo * s.Ho) * s.H * s.W;
    float acc = is_max ? -INFINITY : 0.0f;
    int cnt = 0;
    for (int r = 0; r < s.kh; r++) {
        int ih = oh * s.sh - s.pt + r * s.dh;
        if (ih < 0 || ih >= s.H)
            continue;
        for (int q = 0; q < s.kw; q++) {
            int iw = ow * s.sw - s.pl + q * s.dw;
            if (iw < 0 || iw >= s.W)
                continue;
            float v = plane[(size_t)ih * s.W + iw];
            acc = is_max ? (v > acc ? v : acc) : acc + v;
            cnt++;
        }
    }
    y[i] = is_max ? acc : (cnt ? acc / (float)cnt : 0.0f);
}
int sfc_pool2d(int is_max, const float *x, float *y, int N, sf_conv_shape s, cudaStream_t st)
{
    size_t n = (size_t)N * s.C * s.Ho * s.Wo;
    LAUNCH(k_pool, n, st, is_max, x, y, s, n);
}

/* ---- reductions: one warp per row ------------------------------------------------------- */

__device__ static float warp_sum(float v)
{
    for (int o = 16; o; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ static float warp_max(float v)
{
    for (int o = 16; o; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
#define ROWS_PER_BLOCK 8
#define FOR_EACH_ROW(r, rows)                                            \
    size_t r = (size_t)blockIdx.x * ROWS_PER_BLOCK + (threadIdx.x >> 5); \
    const int lane = threadIdx.x & 31;                                   \
    if (r >= (rows))                                                     \
    return
/* One warp per row. */
#define LAUNCH_ROWS(kernel, rows, st, ...)                                                       \
    LAUNCH_GRID(kernel, ((rows) + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK, 32 * ROWS_PER_BLOCK, st, \
                __VA_ARGS__)

__global__ static void k_row_mean(const float *x, float *y, size_t rows, int n)
{
    FOR_EACH_ROW(r, rows);
    float acc = 0.0f;
    for (int i = lane; i < n; i += 32)
        acc += x[r * n + i];
    acc = warp_sum(acc);
    if (!lane)
        y[r] = acc / (float)n;
}
int sfc_row_mean(const float *x, float *y, size_t rows, int n, cudaStream_t st)
{
    LAUNCH_ROWS(k_row_mean, rows, st, x, y, rows, n);
}

__global__ static void k_layernorm(const float *x, const float *g, const float *b, float *y,
                                   size_t rows, int n, float eps)
{
    FOR_EACH_ROW(r, rows);
    const float *p = x + r * n;
    float *q = y + r * n;
    float sum = 0.0f;
    for (int i = lane; i < n; i += 32)
        sum += p[i];
    const float mean = warp_sum(sum) / (float)n;
    float var = 0.0f;
    for (int i = lane; i < n; i += 32)
        var += (p[i] - mean) * (p[i] - mean);
    const float inv = rsqrtf(warp_sum(var) / (float)n + eps);
    for (int i = lane; i < n; i += 32)
        q[i] = (p[i] - mean) * inv * (g ? g[i] : 1.0f) + (b ? b[i] : 0.0f);
}
int sfc_layernorm(const float *x, const float *g, const float *b, float *y, size_t rows, int n,
                  float eps, cudaStream_t st)
{
    LAUNCH_ROWS(k_layernorm, rows, st, x, g, b, y, rows, n, eps);
}

__global__ static void k_softmax(const float *x, float *y, size_t lines, int n, size_t inner)
{
    FOR_EACH_ROW(l, lines);
    size_t base = (l / inner) * (size_t)n * inner + l % inner;
    const float *p = x + base;
    float *q = y + base;
    float mx = -INFINITY;
    for (int i = lane; i < n; i += 32)
        mx = fmaxf(mx, p[i * inner]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int i = lane; i < n; i += 32)
        sum += expf(p[i * inner] - mx);
    const float inv = 1.0f / warp_sum(sum);
    for (int i = lane; i < n; i += 32)
        q[i * inner] = expf(p[i * inner] - mx) * inv;
}
int sfc_softmax(const float *x, float *y, size_t outer, int n, size_t inner, cudaStream_t st)
{
    size_t lines = outer * inner;
    LAUNCH_ROWS(k_softmax, lines, st, x, y, lines, n, inner);
}

__global__ static void k_affine(const float *x, const float *scale, const float *shift, float *y,
                                int C, size_t inner, size_t n)
{
    FOR_EACH(i, n);
    size_t c = i / inner % (size_t)C;
    y[i] = x[i] * scale[c] + shift[c];
}
int sfc_channel_affine(const float *x, const float *scale, const float *shift, float *y, int N,
                       int C, size_t inner, cudaStream_t st)
{
    size_t n = (size_t)N * C * inner;
    LAUNCH(k_affine, n, st, x, scale, shift, y, C, inner, n);
}

/* ---- matmul between activations -------------------------------------------------------- */

typedef struct {
    int64_t yd[6], as[6], bs[6];
    int nlead, M, N, K;
} mm_shape;

__global__ static void k_matmul(const float *a, const float *b, float *y, mm_shape s, size_t n)
{
    FOR_EACH(i, n); /* y [lead...][M][N] */
    int j = (int)(i % (size_t)s.N), m = (int)(i / (size_t)s.N % (size_t)s.M);
    int64_t bi = (int64_t)(i / ((size_t)s.N * s.M)), ao = 0, bo = 0;
    for (int d = s.nlead - 1; d >= 0; d--) {
        int64_t idx = bi % s.yd[d];
        bi /= s.yd[d];
        ao += idx * s.as[d];
        bo += idx * s.bs[d];
    }
    const float *pa = a + ao + (size_t)m * s.K, *pb = b + bo + j;
    float acc = 0.0f;
    for (int k = 0; k < s.K; k++)
        acc += pa[k] * pb[(size_t)k * s.N];
    y[i] = acc;
}
int sfc_matmul(const float *a, sfc_dims ad, const float *b, sfc_dims bd, float *y, sfc_dims yd,
               int rank, int batch, cudaStream_t st)
{
    mm_shape s = {};
    s.nlead = rank - 2;
    s.M = yd.d[rank - 2];
    s.N = yd.d[rank - 1];
    s.K = ad.d[rank - 1];
    size_t n = (size_t)s.M * s.N;
    for (int i = 0; i < s.nlead; i++) {
        s.yd[i] = yd.d[i] < 0 ? batch : yd.d[i];
        n *= (size_t)s.yd[i];
    }
    int64_t sa = (int64_t)s.M * s.K, sb = (int64_t)s.K * s.N;
    for (int i = s.nlead - 1; i >= 0; i--) {
        int64_t da = ad.d[i] < 0 ? batch : ad.d[i], db = bd.d[i] < 0 ? batch : bd.d[i];
        s.as[i] = da == 1 && s.yd[i] != 1 ? 0 : sa;
        s.bs[i] = db == 1 && s.yd[i] != 1 ? 0 : sb;
        sa *= da;
        sb *= db;
    }
    LAUNCH(k_matmul, n, st, a, b, y, s, n);
}

/* ---- data movement ------------------------------------------------------------------- */

__global__ static void k_gather(const float *table, int rows, int dim, const float *idx, float *y,
                                int *bad, size_t n)
{
    FOR_EACH(i, n); /* y [n / dim][dim]; the bound is compared in integers (sf_format.h) */
    const int64_t r = sf_embed_row(idx[i / (size_t)dim], rows);
    if (r < 0) {
        y[i] = 0.0f;
        *bad = 1;
        return;
    }
    y[i] = table[(size_t)r * dim + i % (size_t)dim];
}
int sfc_gather_rows(const float *table, int rows, int dim, const float *idx, size_t n, float *y,
                    int *bad, cudaStream_t st)
{
    size_t total = n * (size_t)dim;
    LAUNCH(k_gather, total, st, table, rows, dim, idx, y, bad, total);
}

typedef struct {
    int64_t yd[8], ys[8];
    int rank;
} tr_shape;

__global__ static void k_transpose(const float *x, float *y, tr_shape s, size_t n)
{
    FOR_EACH(i, n);
    int64_t rem = (int64_t)i, off = 0;
    for (int d = s.rank - 1; d >= 0; d--) {
        off += (rem % s.yd[d]) * s.ys[d];
        rem /= s.yd[d];
    }
    y[i] = x[off];
}
int sfc_transpose(const float *x, sfc_dims xdims, sfc_perm perm, float *y, int rank, int batch,
                  cudaStream_t st)
{
    int64_t xd[8], xs[8];
    tr_shape s = {};
    s.rank = rank;
    for (int i = 0; i < rank; i++)
        xd[i] = xdims.d[i] < 0 ? batch : xdims.d[i];
    xs[rank - 1] = 1;
    for (int i = rank - 2; i >= 0; i--)
        xs[i] = xs[i + 1] * xd[i + 1];
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        s.yd[i] = xd[perm.p[i]];
        s.ys[i] = xs[perm.p[i]];
        n *= (size_t)s.yd[i];
    }
    LAUNCH(k_transpose, n, st, x, y, s, n);
}

int sfc_copy_blocks(const float *x, size_t xs, float *y, size_t ys, size_t outer, size_t len,
                    cudaStream_t st)
{
    if (!outer || !len)
        return 0;
    SFC_TRY(cudaMemcpy2DAsync(y, ys * sizeof(float), x, xs * sizeof(float), len * sizeof(float),
                              outer, cudaMemcpyDeviceToDevice, st));
    return 0;
}

int sfc_copy(const float *x, float *y, size_t n, cudaStream_t st)
{
    if (n && x != y)
        SFC_TRY(cudaMemcpyAsync(y, x, n * sizeof(float), cudaMemcpyDeviceToDevice, st));
    return 0;
}

__global__ static void k_slice(const float *x, float *y, int len, int start, int step, int cnt,
                               size_t inner, size_t n)
{
    FOR_EACH(i, n); /* y [outer][cnt][inner] */
    size_t e = i % inner, c = i / inner % (size_t)cnt, r = i / (inner * (size_t)cnt);
    y[i] = x[(r * (size_t)len + (size_t)start + c * (size_t)step) * inner + e];
}
int sfc_slice(const float *x, float *y, size_t outer, int len, int start, int step, int cnt,
              size_t inner, cudaStream_t st)
{
    size_t n = outer * (size_t)cnt * inner;
    LAUNCH(k_slice, n, st, x, y, len, start, step, cnt, inner, n);
}

int sfc_cache_append(const float *x, float *cache, int B, int T, size_t E, int C, int at,
                     cudaStream_t st)
{
    return sfc_copy_blocks(x, (size_t)T * E, cache + (size_t)at * E, (size_t)C * E, (size_t)B,
                           (size_t)T * E, st);
}

/* ---- attention: one warp per (batch, head, query), online softmax over keys ---------------- */

__global__ static void k_attention(const float *q, const float *k, const float *v,
                                   const float *mask, float *y, int B, int Sq, int Sk,
                                   int kv_stride, int H, int D, int causal)
{
    size_t w = (size_t)blockIdx.x * ROWS_PER_BLOCK + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (w >= (size_t)B * H * Sq)
        return;
    const int b = (int)(w / ((size_t)H * Sq)), h = (int)(w / (size_t)Sq % (size_t)H);
    const int i = (int)(w % (size_t)Sq);
    const size_t HD = (size_t)H * D;
    const float *qi = q + ((size_t)b * Sq + i) * HD + (size_t)h * D;
    float *yi = y + ((size_t)b * Sq + i) * HD + (size_t)h * D;
    const float scale = rsqrtf((float)D);
    enum { PER_LANE = SF_ATTN_MAX_HEAD / 32 };
    float acc[PER_LANE], qv[PER_LANE];
    for (int j = 0; j < PER_LANE; j++) {
        int d = lane + 32 * j;
        acc[j] = 0.0f;
        qv[j] = d < D ? qi[d] : 0.0f;
    }
    int last = causal ? i + Sk - Sq : Sk - 1;
    if (last > Sk - 1)
        last = Sk - 1;
    float mx = -INFINITY, sum = 0.0f;
    for (int j = 0; j <= last; j++) {
        if (mask && mask[(size_t)b * Sk + j] == 0.0f)
            continue;
        const float *kj = k + ((size_t)b * kv_stride + j) * HD + (size_t)h * D;
        float dot = 0.0f;
        for (int jj = 0; jj < PER_LANE; jj++) {
            int d = lane + 32 * jj;
            if (d < D)
                dot += qv[jj] * kj[d];
        }
        const float s = warp_sum(dot) * scale;
        const float nmx = fmaxf(mx, s), f = expf(mx - nmx), p = expf(s - nmx);
        mx = nmx;
        sum = sum * f + p;
        const float *vj = v + ((size_t)b * kv_stride + j) * HD + (size_t)h * D;
        for (int jj = 0; jj < PER_LANE; jj++) {
            int d = lane + 32 * jj;
            acc[jj] = acc[jj] * f + (d < D ? p * vj[d] : 0.0f);
        }
    }
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    for (int jj = 0; jj < PER_LANE; jj++) {
        int d = lane + 32 * jj;
        if (d < D)
            yi[d] = acc[jj] * inv;
    }
}
int sfc_attention(const float *q, const float *k, const float *v, const float *mask, float *y,
                  int B, int Sq, int Sk, int kv_stride, int H, int D, int causal, cudaStream_t st)
{
    size_t rows = (size_t)B * H * Sq;
    LAUNCH_ROWS(k_attention, rows, st, q, k, v, mask, y, B, Sq, Sk, kv_stride, H, D, causal);
}

/* ---- linear-layer helpers ------------------------------------------------------------- */

__global__ static void k_to_half(const float *x, void *xh, int K, int Kp, int half, size_t n)
{
    FOR_EACH(i, n); /* xh [T][Kp] */
    size_t t = i / (size_t)Kp, c = i % (size_t)Kp;
    float v = c < (size_t)K ? x[t * K + c] : 0.0f;
    if (half)
        ((__half *)xh)[i] = __float2half_rn(v);
    else
        ((__nv_bfloat16 *)xh)[i] = __float2bfloat16_rn(v);
}
int sfc_to_half(const float *x, void *xh, int T, int K, int Kp, int half, cudaStream_t st)
{
    size_t n = (size_t)T * Kp;
    LAUNCH(k_to_half, n, st, x, xh, K, Kp, half, n);
}

__global__ static void k_add_bias(float *y, const float *b, int O, size_t n, int act)
{
    FOR_EACH(i, n);
    y[i] = sfc_act(act, b ? y[i] + b[i % (size_t)O] : y[i]);
}
/* cuBLAS's epilogue: the bias and the fused activation in one pass */
int sfc_add_bias(float *y, const float *b, int T, int O, cudaStream_t st, int act)
{
    size_t n = b || act != SFC_NO_ACT ? (size_t)T * O : 0;
    LAUNCH(k_add_bias, n, st, y, b, O, n, act);
}

/* element i of fp32 (half < 0), f16 (1) or bf16 (0) data */
__device__ static float ld_any(const void *p, size_t i, int half)
{
    if (half < 0)
        return ((const float *)p)[i];
    const unsigned short u = ((const unsigned short *)p)[i];
    return half ? __half2float(__ushort_as_half(u)) : __uint_as_float((unsigned)u << 16);
}

/* After cuBLAS: each token with an Inf or NaN input is recomputed as bias +
 * the sum over the nonzero weights (docs/NUMERICS.md); a block per token,
 * one read of the token's inputs when they are finite. */
__global__ static void k_exact_dense(const void *w, int half, const float *b, const void *x,
                                     float *y, int T, int O, int k, int act)
{
    for (int t = blockIdx.x; t < T; t += gridDim.x) {
        int bad = 0;
        for (int i = threadIdx.x; i < k; i += blockDim.x)
            bad |= !isfinite(ld_any(x, (size_t)t * k + i, half));
        if (!__syncthreads_or(bad))
            continue;
        for (int o = threadIdx.x; o < O; o += blockDim.x) {
            float acc = b ? b[o] : 0.0f;
            for (int i = 0; i < k; i++) {
                const float wv = ld_any(w, (size_t)o * k + i, half);
                if (wv != 0.0f)
                    acc += wv * ld_any(x, (size_t)t * k + i, half);
            }
            y[(size_t)t * O + o] = sfc_act(act, acc);
        }
    }
}

int sfc_linear_dense(cublasHandle_t h, const void *w, int half, const float *bias, const void *x,
                     float *y, int T, int O, int K, int Kp, cudaStream_t st, int act)
{
    const float one = 1.0f, zero = 0.0f;
    cudaDataType_t ty = half < 0 ? CUDA_R_32F : half ? CUDA_R_16F : CUDA_R_16BF;
    int k = half < 0 ? K : Kp;
    if (T == 0)
        return 0;
    SFC_TRY_BLAS(cublasSetStream(h, st));
    /* column-major view: y^T [O][T] = W [O][k] (stored row-major, so op T) . x^T */
    SFC_TRY_BLAS(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, O, T, k, &one, w, ty, k, x, ty, k, &zero,
                              y, CUDA_R_32F, O, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    if (sfc_add_bias(y, bias, T, O, st, act))
        return SFC_ERR;
    LAUNCH_GRID(k_exact_dense, T < 4096 ? T : 4096, 256, st, w, half, bias, x, y, T, O, k, act);
}
