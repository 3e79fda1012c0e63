/* test_runtime.c - the runtime copied into every generated folder:
 * elementwise ops and the reference linear (sf_ops.c), .npy files (sf_npy.c). */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_format.h"
#include "sf_npy.h"
#include "sf_ops.h"
#include "suites.h"
#include "test_util.h"

/* ---- unary ---------------------------------------------------------------------- */

/* Parameters of the functions that take two (sf_unary_ab). */
static const double k_pa[] = {
    [SF_UNARY_CLIP] = -1.5, [SF_UNARY_HARDSIGMOID] = 0.2, [SF_UNARY_LEAKYRELU] = 0.1};
static const double k_pb[] = {
    [SF_UNARY_CLIP] = 2.25, [SF_UNARY_HARDSIGMOID] = 0.5, [SF_UNARY_LEAKYRELU] = 0.0};

static double ref_unary(sf_unary_op op, double x)
{
    double a = op < sizeof k_pa / sizeof k_pa[0] ? k_pa[op] : 0.0;
    double b = op < sizeof k_pb / sizeof k_pb[0] ? k_pb[op] : 0.0;
    switch (op) {
    case SF_UNARY_RELU: return x > 0 ? x : 0;
    case SF_UNARY_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case SF_UNARY_GELU_TANH:
        return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case SF_UNARY_SILU: return x / (1.0 + exp(-x));
    case SF_UNARY_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case SF_UNARY_TANH: return tanh(x);
    case SF_UNARY_ERF: return erf(x);
    case SF_UNARY_SQRT: return sqrt(fabs(x)); /* called on |x| */
    case SF_UNARY_HARDSWISH: return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
    case SF_UNARY_CLIP: return x < a ? a : x > b ? b : x;
    case SF_UNARY_HARDSIGMOID: return fmax(0.0, fmin(1.0, a * x + b));
    case SF_UNARY_NEG: return -x;
    case SF_UNARY_EXP: return exp(x);
    case SF_UNARY_LOG: return log(x); /* called on |x| + 0.01 */
    case SF_UNARY_ABS: return fabs(x);
    case SF_UNARY_RECIPROCAL: return 1.0 / x; /* called on |x| + 0.01 */
    case SF_UNARY_LEAKYRELU: return x >= 0 ? x : a * x;
    case SF_UNARY_SOFTPLUS: return x > 30 ? x : log(1.0 + exp(x));
    case SF_UNARY_NOT: return x == 0 ? 1.0 : 0.0;
    case SF_UNARY_FLOOR: return floor(x);
    case SF_UNARY_CEIL: return ceil(x);
    case SF_UNARY_SIGN: return x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
    case SF_UNARY_ROUND: return nearbyint(x); /* halves to even */
    }
    return NAN;
}

static const char *const k_unary_names[] = {
    "relu",      "gelu",     "gelu_tanh",   "silu",  "sigmoid", "tanh", "erf",  "sqrt",
    "hardswish", "clip",     "hardsigmoid", "neg",   "exp",     "log",  "abs",  "reciprocal",
    "leakyrelu", "softplus", "not",         "floor", "ceil",    "sign", "round"};

/* Inputs where the function is defined and finite: |x| for sqrt, |x| + 0.01
 * for log and reciprocal. */
static void fit_domain(sf_unary_op op, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (op == SF_UNARY_SQRT)
            x[i] = fabsf(x[i]);
        else if (op == SF_UNARY_LOG || op == SF_UNARY_RECIPROCAL)
            x[i] = fabsf(x[i]) + 0.01f;
}

/* sf_unary, or sf_unary_ab with the test's parameters */
static void run_unary(sf_unary_op op, const float *x, float *y, size_t n)
{
    if (op == SF_UNARY_CLIP || op == SF_UNARY_HARDSIGMOID || op == SF_UNARY_LEAKYRELU)
        sf_unary_ab(op, (float)k_pa[op], (float)k_pb[op], x, y, n);
    else
        sf_unary(op, x, y, n);
}

START_TEST(unary_against_double)
{
    sf_unary_op op = (sf_unary_op)_i;
    enum { N = 4001 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    for (int i = 0; i < N; i++)
        x[i] = (float)(i - N / 2) * 0.005f; /* -10 .. 10 */
    x[0] = -80.0f;
    x[1] = 80.0f;
    x[2] = 1e-30f;
    x[3] = -1e-30f;
    x[4] = 0.0f;
    fit_domain(op, x, N);
    run_unary(op, x, y, N);
    for (int i = 0; i < N; i++) {
        double want = ref_unary(op, (double)x[i]);
        double err = fabs((double)y[i] - want);
        double tol = 4e-7 * fabs(want) + 1e-7; /* a few float ulps */
        ck_assert_msg(err <= tol, "%s(%.9g) = %.9g, expected %.9g", k_unary_names[op], (double)x[i],
                      (double)y[i], want);
    }
    free(x);
    free(y);
}
END_TEST

START_TEST(unary_exact_cases)
{
    static const float x[] = {-3.0f, -0.0f, 0.0f, 2.5f, INFINITY, -INFINITY};
    float y[6];
    sf_unary(SF_UNARY_RELU, x, y, 6);
    ck_assert(y[0] == 0.0f && y[1] == 0.0f && y[2] == 0.0f && y[3] == 2.5f && isinf(y[4]) &&
              y[5] == 0.0f);
    /* f(0) = 0 for the ops SPA treats as zero-keeping, 0.5 for sigmoid */
    static const sf_unary_op keep[] = {SF_UNARY_RELU, SF_UNARY_GELU,     SF_UNARY_GELU_TANH,
                                       SF_UNARY_SILU, SF_UNARY_TANH,     SF_UNARY_ERF,
                                       SF_UNARY_SQRT, SF_UNARY_HARDSWISH};
    float z = 0.0f, r;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
        sf_unary(keep[i], &z, &r, 1);
        ck_assert_msg(r == 0.0f, "%s(0) = %g", k_unary_names[keep[i]], (double)r);
    }
    sf_unary(SF_UNARY_SIGMOID, &z, &r, 1);
    ck_assert(r == 0.5f);
    sf_unary(SF_UNARY_SIGMOID, x + 4, y, 2);
    ck_assert(y[0] == 1.0f && y[1] == 0.0f);
    sf_unary(SF_UNARY_TANH, x + 4, y, 2);
    ck_assert(y[0] == 1.0f && y[1] == -1.0f);
}
END_TEST

START_TEST(unary_in_place_and_large)
{
    /* large enough for the parallel paths; x == y allowed */
    for (int op = 0; op <= SF_UNARY_ROUND; op++) {
        size_t n = 300001;
        float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
        for (size_t i = 0; i < n; i++)
            x[i] = (float)((double)(i % 2001) / 100.0 - 10.0);
        fit_domain((sf_unary_op)op, x, n);
        memcpy(y, x, n * sizeof *x);
        run_unary((sf_unary_op)op, y, y, n);
        for (size_t i = 0; i < n; i += 7) {
            double want = ref_unary((sf_unary_op)op, (double)x[i]);
            ck_assert_msg(fabs((double)y[i] - want) <= 4e-7 * fabs(want) + 1e-7, "%s[%zu]",
                          k_unary_names[op], i);
        }
        free(x);
        free(y);
    }
}
END_TEST

/* ---- binary ------------------------------------------------------------------------ */

static float ref_binary(sf_binary_op op, float a, float b)
{
    switch (op) {
    case SF_BINARY_ADD: return a + b;
    case SF_BINARY_MUL: return a * b;
    case SF_BINARY_SUB: return a - b;
    case SF_BINARY_DIV: return a / b;
    case SF_BINARY_POW: return powf(a, b);
    case SF_BINARY_MIN: return isnan(a) || isnan(b) ? NAN : fminf(a, b);
    case SF_BINARY_MAX: return isnan(a) || isnan(b) ? NAN : fmaxf(a, b);
    case SF_BINARY_EQUAL: return (float)(a == b);
    case SF_BINARY_LESS: return (float)(a < b);
    case SF_BINARY_GREATER: return (float)(a > b);
    case SF_BINARY_LESSOREQUAL: return (float)(a <= b);
    case SF_BINARY_GREATEROREQUAL: return (float)(a >= b);
    case SF_BINARY_AND: return (float)(a != 0.0f && b != 0.0f);
    case SF_BINARY_OR: return (float)(a != 0.0f || b != 0.0f);
    }
    return NAN;
}

/* Naive broadcasting over rank-3 shapes (dims[0] = batch for all). */
static float at3(const float *a, const int32_t *d, int b, int s, int k)
{
    int bs = d[1] == 1 ? 0 : s, bk = d[2] == 1 ? 0 : k;
    return a[((size_t)b * (size_t)d[1] + (size_t)bs) * (size_t)d[2] + (size_t)bk];
}

static void check_binary3(sf_binary_op op, const int32_t *ad, const int32_t *bd, int batch)
{
    int32_t yd[3] = {ad[0], ad[1] > bd[1] ? ad[1] : bd[1], ad[2] > bd[2] ? ad[2] : bd[2]};
    size_t na = (size_t)batch * (size_t)ad[1] * (size_t)ad[2];
    size_t nb = (size_t)batch * (size_t)bd[1] * (size_t)bd[2];
    size_t ny = (size_t)batch * (size_t)yd[1] * (size_t)yd[2];
    float *a = malloc(na * 4), *b = malloc(nb * 4), *y = malloc((ny + 1) * 4);
    for (size_t i = 0; i < na; i++)
        a[i] = (float)(i % 13) - 6.0f;
    for (size_t i = 0; i < nb; i++)
        b[i] = 0.5f * (float)(i % 7) + 1.0f;
    y[ny] = 12345.0f; /* guard */
    /* dims[0] of the arrays is the maximum batch; the run uses `batch` */
    int32_t adm[3] = {99, ad[1], ad[2]}, bdm[3] = {99, bd[1], bd[2]}, ydm[3] = {99, yd[1], yd[2]};
    sf_binary(op, a, adm, b, bdm, y, ydm, 3, batch);
    for (int i = 0; i < batch; i++)
        for (int s = 0; s < yd[1]; s++)
            for (int k = 0; k < yd[2]; k++) {
                float va = at3(a, ad, i, s, k), vb = at3(b, bd, i, s, k);
                float want = ref_binary(op, va, vb);
                float got = y[((size_t)i * (size_t)yd[1] + (size_t)s) * (size_t)yd[2] + (size_t)k];
                ck_assert_msg(got == want || (isnan(got) && isnan(want)),
                              "[%d,%d,%d]: %g, expected %g (a %dx%d, b %dx%d)", i, s, k,
                              (double)got, (double)want, ad[1], ad[2], bd[1], bd[2]);
            }
    ck_assert(y[ny] == 12345.0f);
    free(a);
    free(b);
    free(y);
}

START_TEST(binary_broadcast_rank3)
{
    static const int32_t cases[][2][3] = {
        {{3, 1, 5}, {3, 4, 5}}, /* [B,1,K] * [B,S,K] */
        {{3, 4, 5}, {3, 1, 5}}, {{3, 4, 5}, {3, 4, 5}}, {{3, 4, 1}, {3, 4, 5}},
        {{3, 4, 1}, {3, 1, 5}}, /* outer product */
        {{3, 1, 1}, {3, 4, 5}}, {{3, 4, 5}, {3, 1, 1}}, {{3, 1, 1}, {3, 1, 1}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int batch = 1; batch <= 3; batch++) {
            for (int op = SF_BINARY_ADD; op <= SF_BINARY_OR; op++)
                check_binary3((sf_binary_op)op, cases[c][0], cases[c][1], batch);
        }
}
END_TEST

START_TEST(binary_constant_operand)
{
    /* a [B,2,3] op k [1,3] passed as [1,1,3] (a constant: dims[0] 1 is not
     * the batch), both ways round, at batches 1..4 of a maximum of 4 */
    enum { B = 4 };
    float a[B * 6], k[3] = {0.5f, -2.0f, 0.0f}, y[B * 6 + 1];
    for (int i = 0; i < B * 6; i++)
        a[i] = (float)(i % 5) - 2.0f;
    const int32_t ad[3] = {B, 2, 3}, kd[3] = {1, 1, 3}, yd[3] = {B, 2, 3};
    for (int batch = 1; batch <= B; batch++)
        for (int op = SF_BINARY_ADD; op <= SF_BINARY_OR; op++)
            for (int first = 0; first < 2; first++) {
                y[batch * 6] = 99.0f;
                if (first)
                    sf_binary((sf_binary_op)op, k, kd, a, ad, y, yd, 3, batch);
                else
                    sf_binary((sf_binary_op)op, a, ad, k, kd, y, yd, 3, batch);
                for (int i = 0; i < batch * 6; i++) {
                    float p = a[i], q = k[i % 3];
                    float want = first ? ref_binary((sf_binary_op)op, q, p)
                                       : ref_binary((sf_binary_op)op, p, q);
                    ck_assert_msg(y[i] == want || (isnan(y[i]) && isnan(want)),
                                  "op %d first %d [%d]: %g, expected %g", op, first, i,
                                  (double)y[i], (double)want);
                }
                ck_assert(y[batch * 6] == 99.0f);
            }
}
END_TEST

START_TEST(expand_and_reduce)
{
    /* expand [1,1,3] (a constant) and [B,2,1] to [B,2,3] */
    enum { B = 3 };
    float k[3] = {1.0f, 2.0f, 3.0f}, x[B * 2], y[B * 6];
    for (int i = 0; i < B * 2; i++)
        x[i] = (float)i;
    const int32_t kd[3] = {1, 1, 3}, xd[3] = {B, 2, 1}, yd[3] = {B, 2, 3};
    sf_expand(k, kd, y, yd, 3, 2);
    for (int i = 0; i < 12; i++)
        ck_assert(y[i] == k[i % 3]);
    sf_expand(x, xd, y, yd, 3, B);
    for (int i = 0; i < B * 6; i++)
        ck_assert(y[i] == x[i / 3]);
    /* reductions of [B,3,4,5] over axes {1}, {3}, {1,3}, {2,3}, {1,2,3},
     * against a direct loop */
    enum { D1 = 3, D2 = 4, D3 = 5 };
    static float v[B * D1 * D2 * D3], r[B * D1 * D2 * D3];
    for (int i = 0; i < B * D1 * D2 * D3; i++)
        v[i] = (float)((i * 7) % 11) * 0.25f - 1.0f;
    v[17] = NAN;
    const int32_t vd[4] = {B, D1, D2, D3};
    static const unsigned masks[] = {1u << 1, 1u << 3, 1u << 1 | 1u << 3, 1u << 2 | 1u << 3,
                                     1u << 1 | 1u << 2 | 1u << 3};
    for (size_t m = 0; m < sizeof masks / sizeof masks[0]; m++)
        for (int op = SF_REDUCE_SUM; op <= SF_REDUCE_PROD; op++) {
            unsigned ax = masks[m];
            sf_reduce((sf_reduce_op)op, v, vd, ax, 4, r, B);
            int n1 = ax & 2u ? 1 : D1, n2 = ax & 4u ? 1 : D2, n3 = ax & 8u ? 1 : D3;
            for (int b = 0; b < B; b++)
                for (int i1 = 0; i1 < n1; i1++)
                    for (int i2 = 0; i2 < n2; i2++)
                        for (int i3 = 0; i3 < n3; i3++) {
                            double acc = op == SF_REDUCE_PROD  ? 1.0
                                         : op == SF_REDUCE_MAX ? -INFINITY
                                         : op == SF_REDUCE_MIN ? INFINITY
                                                               : 0.0;
                            int cnt = 0, nan = 0;
                            for (int j1 = 0; j1 < D1; j1++)
                                for (int j2 = 0; j2 < D2; j2++)
                                    for (int j3 = 0; j3 < D3; j3++) {
                                        if ((n1 > 1 && j1 != i1) || (n2 > 1 && j2 != i2) ||
                                            (n3 > 1 && j3 != i3))
                                            continue;
                                        double e = v[((b * D1 + j1) * D2 + j2) * D3 + j3];
                                        nan |= isnan(e);
                                        cnt++;
                                        acc = op == SF_REDUCE_PROD  ? acc * e
                                              : op == SF_REDUCE_MAX ? fmax(acc, e)
                                              : op == SF_REDUCE_MIN ? fmin(acc, e)
                                                                    : acc + e;
                                    }
                            if (nan)
                                acc = NAN;
                            if (op == SF_REDUCE_MEAN)
                                acc /= cnt;
                            float got = r[((b * n1 + i1) * n2 + i2) * n3 + i3];
                            ck_assert_msg((isnan(acc) && isnan(got)) ||
                                              fabs((double)got - acc) <= 1e-5 * (1 + fabs(acc)),
                                          "mask %u op %d [%d,%d,%d,%d]: %g, expected %g", ax, op, b,
                                          i1, i2, i3, (double)got, acc);
                        }
        }
}
END_TEST

START_TEST(where_broadcast)
{
    /* c [B,4,1] ? a [B,1,5] : b [B,4,5], against a naive loop */
    enum { B = 3 };
    float c[B * 4], a[B * 5], b[B * 20], y[B * 20 + 1];
    for (int i = 0; i < B * 4; i++)
        c[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? 1.0f : -2.0f;
    for (int i = 0; i < B * 5; i++)
        a[i] = (float)i;
    for (int i = 0; i < B * 20; i++)
        b[i] = -100.0f - (float)i;
    const int32_t cd[3] = {B, 4, 1}, ad[3] = {B, 1, 5}, bd[3] = {B, 4, 5}, yd[3] = {B, 4, 5};
    for (int batch = 1; batch <= B; batch++) {
        y[batch * 20] = 777.0f;
        sf_where(c, cd, a, ad, b, bd, y, yd, 3, batch);
        for (int i = 0; i < batch; i++)
            for (int s = 0; s < 4; s++)
                for (int k = 0; k < 5; k++) {
                    float want = c[i * 4 + s] != 0.0f ? a[i * 5 + k] : b[(i * 4 + s) * 5 + k];
                    ck_assert_msg(y[(i * 4 + s) * 5 + k] == want, "[%d,%d,%d]", i, s, k);
                }
        ck_assert(y[batch * 20] == 777.0f);
    }
}
END_TEST

START_TEST(binary_rank2)
{
    /* [B,K] + [B,1] and [B,1] * [B,K] */
    enum { B = 4, K = 6 };
    float a[B * K], b[B], y[B * K + 1];
    for (int i = 0; i < B * K; i++)
        a[i] = (float)i;
    for (int i = 0; i < B; i++)
        b[i] = 100.0f * (float)(i + 1);
    int32_t ad[2] = {B, K}, bd[2] = {B, 1}, yd[2] = {B, K};
    for (int batch = 1; batch <= B; batch++) {
        y[batch * K] = -1.0f;
        sf_binary(SF_BINARY_ADD, a, ad, b, bd, y, yd, 2, batch);
        for (int i = 0; i < batch; i++)
            for (int k = 0; k < K; k++)
                ck_assert(y[i * K + k] == a[i * K + k] + b[i]);
        ck_assert(y[batch * K] == -1.0f); /* nothing past the batch */
        sf_binary(SF_BINARY_MUL, b, bd, a, ad, y, yd, 2, batch);
        for (int i = 0; i < batch; i++)
            for (int k = 0; k < K; k++)
                ck_assert(y[i * K + k] == a[i * K + k] * b[i]);
    }
    /* large, for the parallel path: [B, 70000] * [B, 1] */
    int32_t ld[2] = {2, 70000}, l1[2] = {2, 1};
    float *la = malloc(140000 * 4), *ly = malloc(140000 * 4), lb[2] = {2.0f, -1.0f};
    for (int i = 0; i < 140000; i++)
        la[i] = (float)(i % 1000);
    sf_binary(SF_BINARY_MUL, la, ld, lb, l1, ly, ld, 2, 2);
    for (int i = 0; i < 140000; i += 97)
        ck_assert(ly[i] == la[i] * lb[i / 70000]);
    free(la);
    free(ly);
}
END_TEST

START_TEST(binary_rank4)
{
    /* [B,2,1,3] + [B,1,4,1] -> [B,2,4,3] */
    enum { B = 2 };
    float a[B * 6], b[B * 4], y[B * 24];
    for (int i = 0; i < B * 6; i++)
        a[i] = (float)i;
    for (int i = 0; i < B * 4; i++)
        b[i] = 1000.0f * (float)i;
    int32_t ad[4] = {B, 2, 1, 3}, bd[4] = {B, 1, 4, 1}, yd[4] = {B, 2, 4, 3};
    sf_binary(SF_BINARY_ADD, a, ad, b, bd, y, yd, 4, B);
    for (int n = 0; n < B; n++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 3; k++)
                    ck_assert(y[((n * 2 + i) * 4 + j) * 3 + k] ==
                              a[(n * 2 + i) * 3 + k] + b[n * 4 + j]);
}
END_TEST

/* ---- reference linear ------------------------------------------------------------------ */

START_TEST(linear_ref_hand)
{
    static const float x[6] = {1, 2, 3, 4, 5, 6};
    static const float w[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
    static const float b[2] = {10, -1};
    float y[4];
    sf_linear_ref(x, w, b, y, 2, 2, 3);
    ck_assert(y[0] == 8.0f); /* 10 + 1 - 3 */
    ck_assert(y[1] == 2.0f); /* -1 + 3 */
    ck_assert(y[2] == 8.0f); /* 10 + 4 - 6 */
    ck_assert(y[3] == 6.5f); /* -1 + 7.5 */
    sf_linear_ref(x, w, NULL, y, 2, 2, 3);
    ck_assert(y[0] == -2.0f && y[1] == 3.0f && y[2] == -2.0f && y[3] == 7.5f);
    /* accumulates in double: 1e8 + 1 - 1e8 is 1, not 0 */
    static const float xs[3] = {1e8f, 1.0f, -1e8f}, ws[3] = {1, 1, 1};
    sf_linear_ref(xs, ws, NULL, y, 1, 1, 3);
    ck_assert(y[0] == 1.0f);
}
END_TEST

/* ---- Inf and NaN inputs (docs/NUMERICS.md) ------------------------------------------------ */

void tile_exact_dense_portable(const float *x, float *y, int T, int K, int O, int nrows, int ncols,
                               int R, const float *bias, const float *w, const int32_t *rows,
                               const int32_t *cols);
void tile_exact_ell_portable(const float *x, float *y, int T, int K, int O, int nrows, int R,
                             const float *bias, const float *val, const void *col, int idx_bytes,
                             const int32_t *slot0, const int32_t *rows);

/* W [3][4] = {{0, 2, 0, 1}, {1, 0, 0, 0}, {0, 0, 0, 0}} (row 2 a zero row,
 * column 2 dropped), b = {1, 2, -}; tokens: finite (left alone: the fast
 * path's result stands), NaN at input 0, +Inf at 1 and -Inf at 3, NaN at 2
 * (a dropped column). */
static const float k_ex_x[4][4] = {
    {1, 1, 1, 1}, {NAN, 1, 1, 1}, {1, INFINITY, 1, -INFINITY}, {1, 1, NAN, 1}};

static void check_exact_outputs(const float y[4][3])
{
    ck_assert(y[0][0] == 7.0f && y[0][1] == 7.0f); /* untouched */
    ck_assert(y[1][0] == 4.0f);                    /* 1 + 2 + 1: 0 * NaN adds nothing */
    ck_assert(isnan(y[1][1]));                     /* 1 * NaN */
    ck_assert(isnan(y[2][0]));                     /* 2 * Inf + 1 * -Inf */
    ck_assert(y[2][1] == 3.0f);                    /* 2 + 1, 0 * Inf adds nothing */
    ck_assert(y[3][0] == 4.0f && y[3][1] == 3.0f); /* column 2 has no weight */
    for (int t = 0; t < 4; t++)
        ck_assert(y[t][2] == 7.0f); /* the zero row is left to sf_zero_cols */
}

START_TEST(exact_dense_zero_weights)
{
    /* R = 2: bias[2], w [1 block][3 cols (0, 1, 3)][2 rows] */
    static const float bias[2] = {1, 2};
    static const float w[6] = {0, 1, 2, 0, 1, 0};
    static const int32_t rows[2] = {0, 1}, cols[3] = {0, 1, 3};
    float y[4][3];
    for (int i = 0; i < 12; i++)
        (&y[0][0])[i] = 7.0f;
    tile_exact_dense_portable(&k_ex_x[0][0], &y[0][0], 4, 4, 3, 2, 3, 2, bias, w, rows, cols);
    check_exact_outputs((const float(*)[3])y);
}
END_TEST

START_TEST(exact_ell_padding_slots)
{
    /* R = 2, one block of 2 slots: row 0 = (k 1: 2, k 3: 1), row 1 = (k 0: 1,
     * padding 0 at k 0) */
    static const float bias[2] = {1, 2};
    static const float val[4] = {2, 1, 1, 0};
    static const uint16_t c16[4] = {1, 0, 3, 0};
    static const int32_t c32[4] = {1, 0, 3, 0}, slot0[2] = {0, 2}, rows[2] = {0, 1};
    for (int bytes = 2; bytes <= 4; bytes += 2) {
        float y[4][3];
        for (int i = 0; i < 12; i++)
            (&y[0][0])[i] = 7.0f;
        tile_exact_ell_portable(&k_ex_x[0][0], &y[0][0], 4, 4, 3, 2, 2, bias, val,
                                bytes == 2 ? (const void *)c16 : (const void *)c32, bytes, slot0,
                                rows);
        check_exact_outputs((const float(*)[3])y);
    }
}
END_TEST

/* ---- embedding indices ----------------------------------------------------------------- */

/* The bound is compared in integers: 16777216 is the last row of a table of
 * 2^24 + 1 rows, though (float)16777217 rounds to 16777216. */
START_TEST(embed_row_integer_bound)
{
    ck_assert_int_eq(sf_embed_row(16777216.0f, 16777217), 16777216);
    ck_assert_int_eq(sf_embed_row(16777216.0f, 16777216), -1);
    ck_assert_int_eq(sf_embed_row(16777218.0f, 16777217), -1);
    ck_assert_int_eq(sf_embed_row(0.0f, 1), 0);
    ck_assert_int_eq(sf_embed_row(-0.0f, 1), 0);
    ck_assert_int_eq(sf_embed_row(0.0f, 0), -1);
    ck_assert_int_eq(sf_embed_row(2147483520.0f, 2147483647), 2147483520);
    ck_assert_int_eq(sf_embed_row(2147483648.0f, 2147483647), -1);
    ck_assert_int_eq(sf_embed_row(1.5f, 4), -1);
    ck_assert_int_eq(sf_embed_row(-1.0f, 4), -1);
    ck_assert_int_eq(sf_embed_row(NAN, 4), -1);
    ck_assert_int_eq(sf_embed_row(INFINITY, 4), -1);
    ck_assert_int_eq(sf_embed_row(1e30f, INT64_MAX), -1); /* beyond int64: no cast */
    ck_assert_int_eq(sf_embed_row(1e18f, INT64_MAX), (int64_t)1e18f);
}
END_TEST

/* ---- npy ---------------------------------------------------------------------------------- */

static char g_dir[256];
static void npy_setup(void)
{
    tu_mkdtemp(g_dir, sizeof g_dir);
}
static void npy_teardown(void)
{
    tu_rmrf(g_dir);
}

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", g_dir, name);
}

START_TEST(npy_round_trip)
{
    static const int64_t shapes[][4] = {{1, 5}, {2, 3, 5}, {3, 2, 2, 2}, {1, 0}, {2, 4, 0}};
    static const int ranks[] = {1, 2, 3, 1, 2};
    for (size_t s = 0; s < sizeof ranks / sizeof ranks[0]; s++) {
        int rank = ranks[s];
        const int64_t *dims = shapes[s] + 1;
        size_t n = 1;
        for (int i = 0; i < rank; i++)
            n *= (size_t)dims[i];
        float *data = malloc((n + 1) * sizeof *data);
        for (size_t i = 0; i < n; i++)
            data[i] = (float)i * 0.25f - 3.0f;
        if (n > 2) {
            data[1] = -0.0f;
            data[2] = INFINITY;
        }
        char path[512], err[256] = "";
        path_in(path, sizeof path, "a.npy");
        ck_assert_msg(sf_npy_write(path, data, rank, dims, err, sizeof err) == 0, "%s", err);
        /* a valid .npy: magic, version 1.0, data 64-byte aligned */
        size_t len;
        unsigned char *raw = (unsigned char *)tu_read_file(path, &len);
        ck_assert_int_eq(memcmp(raw, "\x93NUMPY\x01\x00", 8), 0);
        size_t hlen = raw[8] | (size_t)raw[9] << 8;
        ck_assert_uint_eq((10 + hlen) % 64, 0);
        ck_assert_uint_eq(len, 10 + hlen + 4 * n);
        ck_assert_uint_eq(raw[10 + hlen - 1], '\n');
        ck_assert_ptr_nonnull(strstr((char *)raw + 10, "'descr': '<f4'"));
        free(raw);

        sf_npy a;
        ck_assert_msg(sf_npy_read(path, &a, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(a.rank, rank);
        for (int i = 0; i < rank; i++)
            ck_assert_int_eq(a.dims[i], dims[i]);
        ck_assert_uint_eq(a.numel, n);
        ck_assert_int_eq(memcmp(a.data, data, n * sizeof *data), 0);
        free(a.data);
        free(data);
    }
}
END_TEST

/* Writes a .npy v1 with the given header dict and `nbytes` data bytes. */
static void write_npy(const char *name, const char *dict, size_t nbytes, int version)
{
    char hdr[512];
    size_t n = (size_t)snprintf(hdr, sizeof hdr, "%s", dict);
    size_t pre = version == 1 ? 10 : 12;
    while ((pre + n + 1) % 64)
        hdr[n++] = ' ';
    hdr[n++] = '\n';
    unsigned char *buf = calloc(1, pre + n + nbytes + 1);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)version;
    buf[7] = 0;
    buf[8] = (unsigned char)(n & 0xff);
    buf[9] = (unsigned char)(n >> 8);
    memcpy(buf + pre, hdr, n);
    for (size_t i = 0; i < nbytes / 4; i++) {
        float f = (float)i;
        memcpy(buf + pre + n + 4 * i, &f, 4);
    }
    ck_assert_int_eq(tu_write_file(g_dir, name, buf, pre + n + nbytes), 0);
    free(buf);
}

static void expect_read_fails(const char *name, const char *frag)
{
    char path[512], err[256] = "";
    path_in(path, sizeof path, name);
    sf_npy a;
    a.data = (float *)&a; /* must be reset */
    ck_assert_msg(sf_npy_read(path, &a, err, sizeof err) == -1, "%s was accepted", name);
    ck_assert_ptr_null(a.data);
    ck_assert_msg(strstr(err, name) != NULL, "error does not name the file: %s", err);
    if (frag)
        ck_assert_msg(strstr(err, frag) != NULL, "error lacks '%s': %s", frag, err);
}

START_TEST(npy_read_valid_variants)
{
    /* dict keys in another order, 'shape' with no trailing comma, version 2 */
    write_npy("v.npy", "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}", 24, 1);
    char path[512], err[256] = "";
    path_in(path, sizeof path, "v.npy");
    sf_npy a;
    ck_assert_msg(sf_npy_read(path, &a, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(a.rank, 2);
    ck_assert_int_eq(a.dims[1], 3);
    ck_assert(a.data[5] == 5.0f);
    free(a.data);
    write_npy("s.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, 1);
    path_in(path, sizeof path, "s.npy");
    ck_assert_msg(sf_npy_read(path, &a, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(a.rank, 0);
    ck_assert_uint_eq(a.numel, 1);
    free(a.data);
}
END_TEST

START_TEST(npy_rejects)
{
    write_npy("f8.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16, 1);
    expect_read_fails("f8.npy", "<f8");
    write_npy("be.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8, 1);
    expect_read_fails("be.npy", "dtype");
    write_npy("i4.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", 8, 1);
    expect_read_fails("i4.npy", "dtype");
    write_npy("nod.npy", "{'fortran_order': False, 'shape': (2,), }", 8, 1);
    expect_read_fails("nod.npy", NULL);
    write_npy("fo.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, 1);
    expect_read_fails("fo.npy", "fortran");
    write_npy("neg.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 8, 1);
    expect_read_fails("neg.npy", "shape");
    write_npy("bad.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 8, 1);
    expect_read_fails("bad.npy", "shape");
    write_npy("nos.npy", "{'descr': '<f4', 'fortran_order': False}", 8, 1);
    expect_read_fails("nos.npy", "shape");
    write_npy("r9.npy",
              "{'descr': '<f4', 'fortran_order': False, "
              "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }",
              4, 1);
    expect_read_fails("r9.npy", "shape");
    write_npy("big.npy",
              "{'descr': '<f4', 'fortran_order': False, "
              "'shape': (2147483647, 2147483647, 2147483647), }",
              4, 1);
    expect_read_fails("big.npy", NULL);
    /* data shorter or longer than the shape says */
    write_npy("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8, 1);
    expect_read_fails("short.npy", "truncated");
    write_npy("long.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 8, 1);
    expect_read_fails("long.npy", "longer");
    /* bad magic, unknown version, truncated header */
    ck_assert_int_eq(tu_write_file(g_dir, "magic.npy", "\x93NUMPX\x01\x00\x10\x00{}", 12), 0);
    expect_read_fails("magic.npy", "magic");
    write_npy("v9.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 4, 9);
    expect_read_fails("v9.npy", "version");
    ck_assert_int_eq(tu_write_file(g_dir, "trunc.npy", "\x93NUMPY\x01\x00\x40\x00{'de", 14), 0);
    expect_read_fails("trunc.npy", NULL);
    ck_assert_int_eq(tu_write_file(g_dir, "tiny.npy", "\x93NU", 3), 0);
    expect_read_fails("tiny.npy", NULL);
    expect_read_fails("missing.npy", NULL);
}
END_TEST

START_TEST(npy_write_fails)
{
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/no/such/dir/a.npy", g_dir);
    float v = 1;
    int64_t d = 1;
    ck_assert_int_eq(sf_npy_write(path, &v, 1, &d, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "a.npy"));
}
END_TEST

/* ---- tile repack and block store (tests/unit/tiles/) ---------------------- */

void tile_pack_portable(const float *x, int K, int t0, int tn, const int32_t *cols, int ncols,
                        int tb, float *xt);
void tile_pack_avx512(const float *x, int K, int t0, int tn, const int32_t *cols, int ncols, int tb,
                      float *xt);
void tile_store_portable(float *y, int O, const int32_t *rows, int nr, int tn, const float *acc,
                         int stride);
void tile_store_avx512(float *y, int O, const int32_t *rows, int nr, int tn, const float *acc,
                       int stride);

typedef void (*pack_fn)(const float *, int, int, int, const int32_t *, int, int, float *);
typedef void (*store_fn)(float *, int, const int32_t *, int, int, const float *, int);

/* Both builds of the helpers, or the portable one alone where the CPU has
 * no AVX-512 (said on stderr, not counted as checked). */
static int tile_variants(pack_fn *pack, store_fn *store)
{
    pack[0] = tile_pack_portable;
    store[0] = tile_store_portable;
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) {
        fprintf(stderr, "runtime tiles: this CPU has no AVX-512; its path was not run\n");
        return 1;
    }
    pack[1] = tile_pack_avx512;
    store[1] = tile_store_avx512;
    return 2;
}

START_TEST(pack_tile_against_scalar)
{
    /* shapes around the 16 x 16 blocks: tails in tokens and inputs, column
     * selections, several vectors per tile */
    static const int cases[][4] = {/* K, tn, tb, use cols */
                                   {16, 16, 1, 0}, {37, 16, 1, 0}, {48, 13, 1, 0}, {102, 61, 4, 0},
                                   {5, 3, 2, 0},   {64, 32, 2, 1}, {33, 17, 2, 1}, {256, 64, 4, 0}};
    pack_fn pack[2];
    store_fn store[2];
    int nv = tile_variants(pack, store);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int K = cases[c][0], tn = cases[c][1], tb = cases[c][2], t0 = 3;
        int ncols = cases[c][3] ? K - K / 3 : K;
        int32_t *cols = NULL;
        if (cases[c][3]) {
            cols = malloc(sizeof *cols * (size_t)ncols);
            for (int i = 0, k = 0; k < K; k++)
                if (k % 3 != 1 || i + (K - k) <= ncols)
                    if (i < ncols)
                        cols[i++] = k;
        }
        size_t w = (size_t)tb * 16, n = w * (size_t)ncols;
        float *x = malloc(sizeof *x * (size_t)(t0 + tn) * (size_t)K);
        float *got = aligned_alloc(64, sizeof(float) * n);
        for (int i = 0; i < (t0 + tn) * K; i++)
            x[i] = (float)i * 0.5f - 7.0f;
        for (int v = 0; v < nv; v++) {
            for (size_t i = 0; i < n; i++)
                got[i] = -12345.0f; /* every lane must be written */
            pack[v](x, K, t0, tn, cols, ncols, tb, got);
            for (int k = 0; k < ncols; k++)
                for (size_t t = 0; t < w; t++) {
                    float want =
                        (int)t < tn
                            ? x[(size_t)(t0 + (int)t) * (size_t)K + (size_t)(cols ? cols[k] : k)]
                            : 0.0f;
                    ck_assert_msg(got[(size_t)k * w + t] == want,
                                  "variant %d case %zu: input %d token %zu", v, c, k, t);
                }
        }
        free(x);
        free(got);
        free(cols);
    }
}
END_TEST

START_TEST(store_rows_against_scalar)
{
    enum { O = 40 };
    static const int32_t contiguous[16] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
    static const int32_t gaps[8] = {0, 2, 3, 9, 10, 11, 30, 39};
    pack_fn pack[2];
    store_fn store[2];
    int nv = tile_variants(pack, store);
    float *acc = aligned_alloc(64, sizeof(float) * 16 * 16 * 4);
    for (int i = 0; i < 16 * 16 * 4; i++)
        acc[i] = (float)i + 0.25f;
    for (int v = 0; v < nv; v++)
        for (int g = 0; g < 2; g++)
            for (int nr = 1; nr <= (g ? 8 : 16); nr++)
                for (int tn = 1; tn <= 16; tn += 5)
                    for (int stride = 1; stride <= 4; stride += 3) {
                        const int32_t *rows = g ? gaps : contiguous;
                        float y[16 * O];
                        for (int i = 0; i < 16 * O; i++)
                            y[i] = -1.0f;
                        store[v](y, O, rows, nr, tn, acc, stride);
                        for (int t = 0; t < 16; t++)
                            for (int o = 0; o < O; o++) {
                                float want = -1.0f;
                                for (int r = 0; r < nr; r++)
                                    if (rows[r] == o && t < tn)
                                        want = acc[(size_t)r * (size_t)stride * 16 + (size_t)t];
                                ck_assert_msg(y[t * O + o] == want,
                                              "variant %d nr %d tn %d: y[%d][%d]", v, nr, tn, t, o);
                            }
                    }
    free(acc);
}
END_TEST

Suite *runtime_suite(void)
{
    Suite *s = suite_create("runtime");
    TCase *tc = tcase_create("ops");
    tcase_add_loop_test(tc, unary_against_double, SF_UNARY_RELU, SF_UNARY_ROUND + 1);
    tcase_add_test(tc, binary_constant_operand);
    tcase_add_test(tc, expand_and_reduce);
    tcase_add_test(tc, unary_exact_cases);
    tcase_add_test(tc, unary_in_place_and_large);
    tcase_add_test(tc, binary_broadcast_rank3);
    tcase_add_test(tc, binary_rank2);
    tcase_add_test(tc, binary_rank4);
    tcase_add_test(tc, where_broadcast);
    tcase_add_test(tc, linear_ref_hand);
    tcase_add_test(tc, embed_row_integer_bound);
    tcase_add_test(tc, exact_dense_zero_weights);
    tcase_add_test(tc, exact_ell_padding_slots);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    tc = tcase_create("tiles");
    tcase_add_test(tc, pack_tile_against_scalar);
    tcase_add_test(tc, store_rows_against_scalar);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    tc = tcase_create("npy");
    tcase_add_checked_fixture(tc, npy_setup, npy_teardown);
    tcase_add_test(tc, npy_round_trip);
    tcase_add_test(tc, npy_read_valid_variants);
    tcase_add_test(tc, npy_rejects);
    tcase_add_test(tc, npy_write_fails);
    suite_add_tcase(s, tc);
    return s;
}
