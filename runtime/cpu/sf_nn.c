/* sf_nn.c - network ops beside the linear kernels (see sf_nn.h). Loops are
 * written so that GCC vectorises their innermost dimension; OpenMP splits the
 * outermost independent one. */
#include "sf_nn.h"
#include "sf_format.h"

#include <math.h>
#include <string.h>

/* Work below this many output elements stays on one thread. */
#define SF_NN_PARALLEL_MIN 32768

/* floor(a / b) for b > 0 and any sign of a */
static int floor_div(int a, int b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The output columns [lo, hi) whose input column o·s - p + j·d lies in [0, W). */
static void valid_range(int Wo, int W, int s, int p, int jd, int *lo, int *hi)
{
    int l = -floor_div(-(p - jd), s); /* ceil((p - jd) / s) */
    int h = floor_div(W - 1 + p - jd, s) + 1;
    *lo = l < 0 ? 0 : l;
    *hi = h > Wo ? Wo : h;
    if (*hi < *lo)
        *hi = *lo;
}

void sf_im2col(const float *x, float *cols, int N, const sf_conv_shape *s)
{
    const size_t K = (size_t)s->C * s->kh * s->kw;
    const size_t rows = (size_t)N * s->Ho;
#pragma omp parallel for if (rows * s->Wo * K > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        int n = (int)(r / (size_t)s->Ho), oh = (int)(r % (size_t)s->Ho);
        float *dst = cols + r * (size_t)s->Wo * K;
        for (int c = 0; c < s->C; c++) {
            const float *plane = x + ((size_t)n * s->C + c) * s->H * s->W;
            for (int i = 0; i < s->kh; i++) {
                int ih = oh * s->sh - s->pt + i * s->dh;
                for (int j = 0; j < s->kw; j++) {
                    size_t col = ((size_t)c * s->kh + i) * s->kw + j;
                    int lo = 0, hi = 0;
                    if (ih >= 0 && ih < s->H)
                        valid_range(s->Wo, s->W, s->sw, s->pl, j * s->dw, &lo, &hi);
                    for (int ow = 0; ow < lo; ow++)
                        dst[(size_t)ow * K + col] = 0.0f;
                    const float *src = plane + (size_t)ih * s->W - s->pl + j * s->dw;
                    for (int ow = lo; ow < hi; ow++)
                        dst[(size_t)ow * K + col] = src[ow * s->sw];
                    for (int ow = hi; ow < s->Wo; ow++)
                        dst[(size_t)ow * K + col] = 0.0f;
                }
            }
        }
    }
}

void sf_im2col_chw(const float *x, float *cols, const sf_conv_shape *s)
{
    const size_t K = (size_t)s->C * s->kh * s->kw, P = (size_t)s->Ho * s->Wo;
#pragma omp parallel for if (K * P > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t k = 0; k < K; k++) {
        int c = (int)(k / ((size_t)s->kh * s->kw)), i = (int)(k / (size_t)s->kw % (size_t)s->kh);
        int j = (int)(k % (size_t)s->kw);
        const float *plane = x + (size_t)c * s->H * s->W;
        float *dst = cols + k * P;
        int lo, hi;
        valid_range(s->Wo, s->W, s->sw, s->pl, j * s->dw, &lo, &hi);
        for (int oh = 0; oh < s->Ho; oh++, dst += s->Wo) {
            int ih = oh * s->sh - s->pt + i * s->dh;
            if (ih < 0 || ih >= s->H) {
                memset(dst, 0, (size_t)s->Wo * sizeof *dst);
                continue;
            }
            const float *src = plane + (size_t)ih * s->W - s->pl + j * s->dw;
            for (int ow = 0; ow < lo; ow++)
                dst[ow] = 0.0f;
            if (s->sw == 1)
                memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof *dst);
            else
                for (int ow = lo; ow < hi; ow++)
                    dst[ow] = src[ow * s->sw];
            for (int ow = hi; ow < s->Wo; ow++)
                dst[ow] = 0.0f;
        }
    }
}

void sf_tokens_to_nchw(const float *t, float *y, int N, int O, int HW)
{
    enum { B = 32 }; /* a B x B block of floats stays in L1 both ways */
    const size_t blocks = (size_t)N * (size_t)((HW + B - 1) / B);
#pragma omp parallel for if ((size_t)N * O * HW > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t bi = 0; bi < blocks; bi++) {
        int n = (int)(bi / (size_t)((HW + B - 1) / B));
        int p0 = (int)(bi % (size_t)((HW + B - 1) / B)) * B;
        int p1 = p0 + B < HW ? p0 + B : HW;
        const float *src = t + (size_t)n * HW * O;
        float *dst = y + (size_t)n * O * HW;
        for (int o0 = 0; o0 < O; o0 += B) {
            int o1 = o0 + B < O ? o0 + B : O;
            for (int o = o0; o < o1; o++)
                for (int p = p0; p < p1; p++)
                    dst[(size_t)o * HW + p] = src[(size_t)p * O + o];
        }
    }
}

void sf_conv2d_direct(const float *x, const float *w, const float *b, float *y, int N,
                      const sf_conv_shape *s)
{
    const int cpg = s->C / s->groups, opg = s->O / s->groups;
    const size_t planes = (size_t)N * s->O, HWo = (size_t)s->Ho * s->Wo;
#pragma omp parallel for if (planes * HWo > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t pi = 0; pi < planes; pi++) {
        int n = (int)(pi / (size_t)s->O), o = (int)(pi % (size_t)s->O), g = o / opg;
        float *dst = y + pi * HWo;
        float bias = b ? b[o] : 0.0f;
        for (size_t q = 0; q < HWo; q++)
            dst[q] = bias;
        for (int c = 0; c < cpg; c++) {
            const float *plane = x + ((size_t)n * s->C + (size_t)g * cpg + c) * s->H * s->W;
            const float *wk = w + (((size_t)o * cpg + c) * s->kh) * s->kw;
            for (int i = 0; i < s->kh; i++)
                for (int j = 0; j < s->kw; j++) {
                    float wv = wk[i * s->kw + j];
                    if (wv == 0.0f)
                        continue;
                    int lo, hi;
                    valid_range(s->Wo, s->W, s->sw, s->pl, j * s->dw, &lo, &hi);
                    for (int oh = 0; oh < s->Ho; oh++) {
                        int ih = oh * s->sh - s->pt + i * s->dh;
                        if (ih < 0 || ih >= s->H)
                            continue;
                        const float *src = plane + (size_t)ih * s->W - s->pl + j * s->dw;
                        float *d = dst + (size_t)oh * s->Wo;
                        for (int ow = lo; ow < hi; ow++)
                            d[ow] += wv * src[ow * s->sw];
                    }
                }
        }
    }
}

void sf_pool2d(int is_max, const float *x, float *y, int N, const sf_conv_shape *s)
{
    const size_t planes = (size_t)N * s->C;
#pragma omp parallel for if (planes * s->Ho * s->Wo > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t pi = 0; pi < planes; pi++) {
        const float *plane = x + pi * s->H * s->W;
        float *dst = y + pi * s->Ho * s->Wo;
        for (int oh = 0; oh < s->Ho; oh++)
            for (int ow = 0; ow < s->Wo; ow++) {
                float acc = is_max ? -INFINITY : 0.0f;
                int cnt = 0;
                for (int i = 0; i < s->kh; i++) {
                    int ih = oh * s->sh - s->pt + i * s->dh;
                    if (ih < 0 || ih >= s->H)
                        continue;
                    for (int j = 0; j < s->kw; j++) {
                        int iw = ow * s->sw - s->pl + j * s->dw;
                        if (iw < 0 || iw >= s->W)
                            continue;
                        float v = plane[(size_t)ih * s->W + iw];
                        acc = is_max ? (v > acc ? v : acc) : acc + v;
                        cnt++;
                    }
                }
                dst[(size_t)oh * s->Wo + ow] = is_max ? acc : (cnt ? acc / (float)cnt : 0.0f);
            }
    }
}

void sf_row_mean(const float *x, float *y, size_t rows, size_t n)
{
#pragma omp parallel for if (rows * n > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        float acc = 0.0f;
        const float *p = x + r * n;
#pragma omp simd reduction(+ : acc)
        for (size_t i = 0; i < n; i++)
            acc += p[i];
        y[r] = acc / (float)n;
    }
}

void sf_channel_affine(const float *x, const float *scale, const float *shift, float *y, int N,
                       int C, size_t inner)
{
    const size_t planes = (size_t)N * C;
#pragma omp parallel for if (planes * inner > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t pi = 0; pi < planes; pi++) {
        float a = scale[pi % (size_t)C], b = shift[pi % (size_t)C];
        for (size_t i = 0; i < inner; i++)
            y[pi * inner + i] = x[pi * inner + i] * a + b;
    }
}

void sf_layernorm(const float *x, const float *g, const float *b, float *y, size_t rows, int n,
                  float eps)
{
#pragma omp parallel for if (rows * (size_t)n > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        const float *p = x + r * (size_t)n;
        float *q = y + r * (size_t)n;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < n; i++)
            sum += p[i];
        float mean = sum / (float)n, var = 0.0f;
#pragma omp simd reduction(+ : var)
        for (int i = 0; i < n; i++)
            var += (p[i] - mean) * (p[i] - mean);
        float inv = 1.0f / sqrtf(var / (float)n + eps);
        for (int i = 0; i < n; i++)
            q[i] = (p[i] - mean) * inv * (g ? g[i] : 1.0f) + (b ? b[i] : 0.0f);
    }
}

void sf_softmax(const float *x, float *y, size_t outer, int n, size_t inner)
{
    const size_t lines = outer * inner;
#pragma omp parallel for if (lines * (size_t)n > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t l = 0; l < lines; l++) {
        size_t base = (l / inner) * (size_t)n * inner + l % inner;
        const float *p = x + base;
        float *q = y + base;
        float mx = -INFINITY, sum = 0.0f;
        for (int i = 0; i < n; i++)
            mx = p[i * inner] > mx ? p[i * inner] : mx;
        for (int i = 0; i < n; i++) {
            q[i * inner] = expf(p[i * inner] - mx);
            sum += q[i * inner];
        }
        float inv = 1.0f / sum;
        for (int i = 0; i < n; i++)
            q[i * inner] *= inv;
    }
}

/* Element strides of a `rank`-dim operand seen through broadcasting to y's
 * dims (0 where it is broadcast), for the leading rank-2 dims. */
static void bcast_strides(const int32_t *dims, const int64_t *yd, int rank, int batch, int64_t mat,
                          int64_t *st)
{
    int64_t s = mat;
    for (int i = rank - 3; i >= 0; i--) {
        int64_t d = dims[i] < 0 ? batch : dims[i];
        st[i] = d == 1 && yd[i] != 1 ? 0 : s;
        s *= d;
    }
}

void sf_matmul(const float *a, const int32_t *adims, const float *b, const int32_t *bdims, float *y,
               const int32_t *ydims, int rank, int batch)
{
    int64_t yd[8], as[8] = {0}, bs[8] = {0}, nb = 1;
    for (int i = 0; i < rank - 2; i++) {
        yd[i] = ydims[i] < 0 ? batch : ydims[i];
        nb *= yd[i];
    }
    const int M = ydims[rank - 2], Nn = ydims[rank - 1], K = adims[rank - 1];
    bcast_strides(adims, yd, rank, batch, (int64_t)M * K, as);
    bcast_strides(bdims, yd, rank, batch, (int64_t)K * Nn, bs);
    const size_t rows = (size_t)nb * M;
#pragma omp parallel for if (rows * (size_t)Nn * K > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t r = 0; r < rows; r++) {
        int64_t bi = (int64_t)(r / (size_t)M), m = (int64_t)(r % (size_t)M), ao = 0, bo = 0;
        for (int i = rank - 3; i >= 0; i--) {
            int64_t idx = bi % yd[i];
            bi /= yd[i];
            ao += idx * as[i];
            bo += idx * bs[i];
        }
        const float *pa = a + ao + m * K, *pb = b + bo;
        float *py = y + r * (size_t)Nn;
        for (int j = 0; j < Nn; j++)
            py[j] = 0.0f;
        for (int k = 0; k < K; k++) {
            float av = pa[k];
            const float *row = pb + (size_t)k * Nn;
#pragma omp simd
            for (int j = 0; j < Nn; j++)
                py[j] += av * row[j];
        }
    }
}

size_t sf_gather_rows(const float *table, int rows, int dim, const float *idx, size_t n, float *y)
{
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        const int64_t r = sf_embed_row(idx[i], rows);
        float *dst = y + i * (size_t)dim;
        if (r < 0) {
            memset(dst, 0, (size_t)dim * sizeof *dst);
            bad++;
            continue;
        }
        memcpy(dst, table + (size_t)r * (size_t)dim, (size_t)dim * sizeof *dst);
    }
    return bad;
}

void sf_transpose(const float *x, const int32_t *xdims, const int *perm, float *y, int rank,
                  int batch)
{
    int64_t xd[8] = {0}, xs[8] = {0}, yd[8] = {0}, ys[8] = {0}; /* ys: x's stride per y dim */
    for (int i = 0; i < rank; i++)
        xd[i] = xdims[i] < 0 ? batch : xdims[i];
    xs[rank - 1] = 1;
    for (int i = rank - 2; i >= 0; i--)
        xs[i] = xs[i + 1] * xd[i + 1];
    int64_t total = 1;
    for (int i = 0; i < rank; i++) {
        yd[i] = xd[perm[i]];
        ys[i] = xs[perm[i]];
        total *= yd[i];
    }
    const int64_t inner = yd[rank - 1], outer = total / inner, step = ys[rank - 1];
#pragma omp parallel for if (total > SF_NN_PARALLEL_MIN) schedule(static)
    for (int64_t r = 0; r < outer; r++) {
        int64_t rem = r, off = 0;
        for (int i = rank - 2; i >= 0; i--) {
            off += (rem % yd[i]) * ys[i];
            rem /= yd[i];
        }
        float *dst = y + r * inner;
        for (int64_t j = 0; j < inner; j++)
            dst[j] = x[off + j * step];
    }
}

void sf_copy_blocks(const float *x, size_t xs, float *y, size_t ys, size_t outer, size_t len)
{
#pragma omp parallel for if (outer * len > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t r = 0; r < outer; r++)
        memcpy(y + r * ys, x + r * xs, len * sizeof *x);
}

void sf_slice(const float *x, float *y, size_t outer, int len, int start, int step, int cnt,
              size_t inner)
{
#pragma omp parallel for if (outer * (size_t)cnt * inner > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t r = 0; r < outer; r++)
        for (int i = 0; i < cnt; i++)
            memcpy(y + (r * (size_t)cnt + (size_t)i) * inner,
                   x + (r * (size_t)len + (size_t)start + (size_t)i * (size_t)step) * inner,
                   inner * sizeof *x);
}

void sf_attention(const float *q, const float *k, const float *v, const float *mask, float *y,
                  int B, int Sq, int Sk, int kv_stride, int H, int D, int causal)
{
    enum { KB = 64 }; /* keys scored per block */
    const size_t HD = (size_t)H * D;
    const float scale = 1.0f / sqrtf((float)D);
    const size_t work = (size_t)B * H * Sq;
#pragma omp parallel for if (work * (size_t)Sk * D > SF_NN_PARALLEL_MIN) schedule(static)
    for (size_t wi = 0; wi < work; wi++) {
        int b = (int)(wi / ((size_t)H * Sq)), h = (int)(wi / (size_t)Sq % (size_t)H);
        int i = (int)(wi % (size_t)Sq);
        const float *qi = q + ((size_t)b * Sq + i) * HD + (size_t)h * D;
        float *yi = y + ((size_t)b * Sq + i) * HD + (size_t)h * D;
        float acc[SF_ATTN_MAX_HEAD], s[KB];
        float mx = -INFINITY, sum = 0.0f;
        for (int d = 0; d < D; d++)
            acc[d] = 0.0f;
        int last = causal ? i + Sk - Sq : Sk - 1; /* last key this query sees */
        if (last > Sk - 1)
            last = Sk - 1;
        for (int j0 = 0; j0 <= last; j0 += KB) {
            int j1 = j0 + KB <= last + 1 ? j0 + KB : last + 1;
            float bmx = -INFINITY;
            for (int j = j0; j < j1; j++) {
                if (mask && mask[(size_t)b * Sk + j] == 0.0f) {
                    s[j - j0] = -INFINITY;
                    continue;
                }
                const float *kj = k + ((size_t)b * kv_stride + j) * HD + (size_t)h * D;
                float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
                for (int d = 0; d < D; d++)
                    dot += qi[d] * kj[d];
                s[j - j0] = dot * scale;
                bmx = s[j - j0] > bmx ? s[j - j0] : bmx;
            }
            if (bmx == -INFINITY)
                continue;   /* every key of the block is masked */
            if (bmx > mx) { /* rescale what was summed under the old maximum */
                float f = expf(mx - bmx);
                sum *= f;
                for (int d = 0; d < D; d++)
                    acc[d] *= f;
                mx = bmx;
            }
            for (int j = j0; j < j1; j++) {
                if (s[j - j0] == -INFINITY)
                    continue;
                float p = expf(s[j - j0] - mx);
                sum += p;
                const float *vj = v + ((size_t)b * kv_stride + j) * HD + (size_t)h * D;
#pragma omp simd
                for (int d = 0; d < D; d++)
                    acc[d] += p * vj[d];
            }
        }
        float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
        for (int d = 0; d < D; d++)
            yi[d] = acc[d] * inv;
    }
}

void sf_cache_append(const float *x, float *cache, int B, int T, size_t E, int C, int at)
{
    for (int b = 0; b < B; b++)
        memcpy(cache + ((size_t)b * C + at) * E, x + (size_t)b * T * E, (size_t)T * E * sizeof *x);
}
