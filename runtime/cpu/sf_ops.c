/* sf_ops.c - elementwise ops with NumPy broadcasting, and reference kernels. */
#include "sf_ops.h"

#include <math.h>

/* Elementwise work below this many elements stays on one thread. */
#define SF_PARALLEL_MIN_ELEMS 65536

static float unary1(sf_unary_op op, float v, float a, float b)
{
    switch (op) {
    case SF_UNARY_RELU: return v > 0.0f ? v : 0.0f;
    case SF_UNARY_GELU: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    case SF_UNARY_GELU_TANH: {
        float u = 0.79788456080286536f * (v + 0.044715f * v * v * v);
        return 0.5f * v * (1.0f + tanhf(u));
    }
    case SF_UNARY_SILU: return v / (1.0f + expf(-v));
    case SF_UNARY_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case SF_UNARY_TANH: return tanhf(v);
    case SF_UNARY_ERF: return erff(v);
    case SF_UNARY_SQRT: return sqrtf(v);
    case SF_UNARY_HARDSWISH: return v * fmaxf(0.0f, fminf(1.0f, v * (1.0f / 6.0f) + 0.5f));
    case SF_UNARY_CLIP: /* NaN stays NaN */ return v < a ? a : v > b ? b : v;
    case SF_UNARY_HARDSIGMOID: return fmaxf(0.0f, fminf(1.0f, a * v + b));
    case SF_UNARY_NEG: return -v;
    case SF_UNARY_EXP: return expf(v);
    case SF_UNARY_LOG: return logf(v);
    case SF_UNARY_ABS: return fabsf(v);
    case SF_UNARY_RECIPROCAL: return 1.0f / v;
    case SF_UNARY_LEAKYRELU: return v >= 0.0f ? v : a * v;
    case SF_UNARY_SOFTPLUS: /* ln(1 + e^v) without overflow for large v */
        return v > 0.0f ? v + log1pf(expf(-v)) : log1pf(expf(v));
    case SF_UNARY_NOT: return v == 0.0f ? 1.0f : 0.0f;
    case SF_UNARY_FLOOR: return floorf(v);
    case SF_UNARY_CEIL: return ceilf(v);
    case SF_UNARY_SIGN: return v > 0.0f ? 1.0f : v < 0.0f ? -1.0f : v == 0.0f ? 0.0f : v;
    case SF_UNARY_ROUND: return rintf(v); /* the default rounding mode: halves to even */
    }
    return v;
}

void sf_unary(sf_unary_op op, const float *x, float *y, size_t n)
{
    if (op == SF_UNARY_RELU) { /* the common case, kept vectorisable */
#pragma omp parallel for simd if (n > SF_PARALLEL_MIN_ELEMS) schedule(static)
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        return;
    }
    sf_unary_ab(op, 0.0f, 0.0f, x, y, n);
}

void sf_unary_ab(sf_unary_op op, float a, float b, const float *x, float *y, size_t n)
{
#pragma omp parallel for if (n > SF_PARALLEL_MIN_ELEMS / 8) schedule(static)
    for (size_t i = 0; i < n; i++)
        y[i] = unary1(op, x[i], a, b);
}

/* Element strides of an operand broadcast to ydims: 0 along a broadcast axis. */
static void bcast_strides(const int32_t *dims, const int64_t *yd, int rank, int batch, int64_t *st)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int64_t d = i || dims[0] == 1 ? dims[i] : batch;
        st[i] = d == 1 && yd[i] != 1 ? 0 : s;
        s *= d;
    }
}

void sf_where(const float *c, const int32_t *cdims, const float *a, const int32_t *adims,
              const float *b, const int32_t *bdims, float *y, const int32_t *ydims, int rank,
              int batch)
{
    int64_t cs[8] = {0}, as[8] = {0}, bs[8] = {0}, yd[8] = {0};
    for (int i = 0; i < rank; i++)
        yd[i] = i ? ydims[i] : batch;
    bcast_strides(cdims, yd, rank, batch, cs);
    bcast_strides(adims, yd, rank, batch, as);
    bcast_strides(bdims, yd, rank, batch, bs);
    int64_t C = yd[rank - 1], outer = 1;
    for (int i = 0; i < rank - 1; i++)
        outer *= yd[i];
#pragma omp parallel for if (outer * C > SF_PARALLEL_MIN_ELEMS) schedule(static)
    for (int64_t r = 0; r < outer; r++) {
        int64_t co = 0, ao = 0, bo = 0, rem = r;
        for (int i = rank - 2; i >= 0; i--) {
            int64_t idx = rem % yd[i];
            rem /= yd[i];
            co += idx * cs[i];
            ao += idx * as[i];
            bo += idx * bs[i];
        }
        for (int64_t k = 0; k < C; k++)
            y[r * C + k] = c[co + k * cs[rank - 1]] != 0.0f ? a[ao + k * as[rank - 1]]
                                                            : b[bo + k * bs[rank - 1]];
    }
}

void sf_binary(sf_binary_op op, const float *a, const int32_t *adims, const float *b,
               const int32_t *bdims, float *y, const int32_t *ydims, int rank, int batch)
{
    /* strides in elements; 0 where an operand is broadcast */
    int64_t as[8] = {0}, bs[8] = {0}, yd[8] = {0};
    int64_t sa = 1, sb = 1;
    for (int i = rank - 1; i >= 0; i--) {
        /* dims[0] of 1: the same for every batch item (a constant) */
        int64_t ad = i || adims[0] == 1 ? adims[i] : batch;
        int64_t bd = i || bdims[0] == 1 ? bdims[i] : batch;
        yd[i] = i ? ydims[i] : batch;
        as[i] = ad == 1 && yd[i] != 1 ? 0 : sa;
        bs[i] = bd == 1 && yd[i] != 1 ? 0 : sb;
        sa *= ad;
        sb *= bd;
    }
    int64_t C = yd[rank - 1], outer = 1;
    for (int i = 0; i < rank - 1; i++)
        outer *= yd[i];
    int64_t ac = as[rank - 1], bc = bs[rank - 1];
#pragma omp parallel for if (outer * C > SF_PARALLEL_MIN_ELEMS) schedule(static)
    for (int64_t r = 0; r < outer; r++) {
        int64_t ao = 0, bo = 0, rem = r;
        for (int i = rank - 2; i >= 0; i--) {
            int64_t idx = rem % yd[i];
            rem /= yd[i];
            ao += idx * as[i];
            bo += idx * bs[i];
        }
        const float *pa = a + ao, *pb = b + bo;
        float *py = y + r * C;
        switch (op) { /* one loop per op, each vectorisable */
        case SF_BINARY_ADD:
            for (int64_t c = 0; c < C; c++)
                py[c] = pa[c * ac] + pb[c * bc];
            break;
        case SF_BINARY_MUL:
            for (int64_t c = 0; c < C; c++)
                py[c] = pa[c * ac] * pb[c * bc];
            break;
        case SF_BINARY_SUB:
            for (int64_t c = 0; c < C; c++)
                py[c] = pa[c * ac] - pb[c * bc];
            break;
        case SF_BINARY_DIV:
            for (int64_t c = 0; c < C; c++)
                py[c] = pa[c * ac] / pb[c * bc];
            break;
        case SF_BINARY_POW:
            for (int64_t c = 0; c < C; c++)
                py[c] = powf(pa[c * ac], pb[c * bc]);
            break;
        case SF_BINARY_MIN: /* NaN wins, as in NumPy */
            for (int64_t c = 0; c < C; c++) {
                float p = pa[c * ac], q = pb[c * bc];
                py[c] = p < q || p != p ? p : q;
            }
            break;
        case SF_BINARY_MAX:
            for (int64_t c = 0; c < C; c++) {
                float p = pa[c * ac], q = pb[c * bc];
                py[c] = p > q || p != p ? p : q;
            }
            break;
        case SF_BINARY_EQUAL:
            for (int64_t c = 0; c < C; c++)
                py[c] = pa[c * ac] == pb[c * bc] ? 1.0f : 0.0f;
            break;
        case SF_BINARY_LESS:
            for (int64_t c = 0; c < C; c++)
                py[c] = pa[c * ac] < pb[c * bc] ? 1.0f : 0.0f;
            break;
        case SF_BINARY_GREATER:
            for (int64_t c = 0; c < C; c++)
                py[c] = pa[c * ac] > pb[c * bc] ? 1.0f : 0.0f;
            break;
        case SF_BINARY_LESSOREQUAL:
            for (int64_t c = 0; c < C; c++)
                py[c] = pa[c * ac] <= pb[c * bc] ? 1.0f : 0.0f;
            break;
        case SF_BINARY_GREATEROREQUAL:
            for (int64_t c = 0; c < C; c++)
                py[c] = pa[c * ac] >= pb[c * bc] ? 1.0f : 0.0f;
            break;
        case SF_BINARY_AND:
            for (int64_t c = 0; c < C; c++)
                py[c] = pa[c * ac] != 0.0f && pb[c * bc] != 0.0f ? 1.0f : 0.0f;
            break;
        case SF_BINARY_OR:
            for (int64_t c = 0; c < C; c++)
                py[c] = pa[c * ac] != 0.0f || pb[c * bc] != 0.0f ? 1.0f : 0.0f;
            break;
        }
    }
}

void sf_expand(const float *x, const int32_t *xdims, float *y, const int32_t *ydims, int rank,
               int batch)
{
    int64_t xs[8] = {0}, yd[8] = {0};
    for (int i = 0; i < rank; i++)
        yd[i] = i ? ydims[i] : batch;
    bcast_strides(xdims, yd, rank, batch, xs);
    int64_t C = yd[rank - 1], outer = 1, xc = xs[rank - 1];
    for (int i = 0; i < rank - 1; i++)
        outer *= yd[i];
#pragma omp parallel for if (outer * C > SF_PARALLEL_MIN_ELEMS) schedule(static)
    for (int64_t r = 0; r < outer; r++) {
        int64_t xo = 0, rem = r;
        for (int i = rank - 2; i >= 0; i--) {
            xo += rem % yd[i] * xs[i];
            rem /= yd[i];
        }
        for (int64_t k = 0; k < C; k++)
            y[r * C + k] = x[xo + k * xc];
    }
}

void sf_reduce(sf_reduce_op op, const float *x, const int32_t *dims, unsigned axes, int rank,
               float *y, int batch)
{
    /* the kept axes (batch first) index y; the reduced ones are walked for
     * each output element with an odometer over their strides */
    int64_t kd[8] = {0}, ks[8] = {0}, rd[8] = {0}, rs[8] = {0}, s = 1, nout = 1, nred = 1;
    int nk = 0, nr = 0;
    for (int i = rank - 1; i >= 0; i--) {
        int64_t d = i ? dims[i] : batch;
        if (i && (axes >> i & 1u)) {
            rd[nr] = d;
            rs[nr++] = s;
            nred *= d;
        } else {
            kd[nk] = d;
            ks[nk++] = s;
            nout *= d;
        }
        s *= d;
    }
#pragma omp parallel for if (nout * nred > SF_PARALLEL_MIN_ELEMS) schedule(static)
    for (int64_t o = 0; o < nout; o++) {
        int64_t base = 0, rem = o, cnt[8] = {0}, off = 0;
        for (int k = 0; k < nk; k++) { /* kd[0] is the innermost kept axis */
            base += rem % kd[k] * ks[k];
            rem /= kd[k];
        }
        float acc = x[base];
        for (int64_t r = 1; r < nred; r++) {
            for (int k = 0; k < nr; k++) { /* next position, innermost axis first */
                off += rs[k];
                if (++cnt[k] < rd[k])
                    break;
                off -= rs[k] * rd[k];
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
            if (acc != acc && (op == SF_REDUCE_MAX || op == SF_REDUCE_MIN))
                break; /* NaN stays */
        }
        y[o] = op == SF_REDUCE_MEAN ? acc / (float)nred : acc;
    }
}

void sf_linear_ref(const float *x, const float *w, const float *b, float *y, int T, int O, int K)
{
    for (int t = 0; t < T; t++)
        for (int o = 0; o < O; o++) {
            double s = b ? (double)b[o] : 0.0;
            for (int k = 0; k < K; k++)
                s += (double)x[(size_t)t * K + k] * (double)w[(size_t)o * K + k];
            y[(size_t)t * O + o] = (float)s;
        }
}
