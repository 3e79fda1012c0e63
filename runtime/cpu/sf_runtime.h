/* sf_runtime.h - the small runtime that SparseFlow's generated code includes.
 * Copied verbatim into every output folder so it builds on its own. */
#ifndef SF_RUNTIME_H
#define SF_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sf_format.h" /* the blob header, SF_LANES and the token thresholds */
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* Status codes of <model>_run (GENERATED_API.md). */
#define SF_RUN_OK       0
#define SF_RUN_EBATCH   (-1) /* batch outside 1..max */
#define SF_RUN_ENULL    (-2) /* a NULL input or output pointer */
#define SF_RUN_EALIGN   (-3) /* arena not 64-byte aligned */
#define SF_RUN_EWEIGHTS (-4) /* weights blob does not match this code */

/* Kernels work on tiles of SF_LANES tokens: activations are repacked as
 * [K][SF_LANES] so one vector holds one input feature for 16 tokens, and a
 * weight is broadcast and multiplied into it. GCC/Clang vector extensions
 * lower this to AVX-512, AVX2 or SSE as -march allows. */
typedef float sf_vf __attribute__((vector_size(64)));

/* Hides a pointer's value from the optimiser: mask-unrolled code must
 * broadcast each weight from memory where it is used; hoisting thousands of
 * loop-invariant broadcasts out of the token loop would spill them all. */
#define SF_OPAQUE(p) __asm__("" : "+r"(p))

/* acc += w * x with the weight broadcast from memory. With GCC on AVX-512
 * one instruction per nonzero is written out directly: the mask-unrolled
 * kernels hold tens of thousands of them and the compiler then has nothing
 * to analyse, which halves their build time at the same speed. */
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__) && !defined(SF_NO_ASM)
#define SF_FMA_BCAST(acc, w, x) \
    __asm__("vfmadd231ps %1%{1to16%}, %2, %0" : "+v"(acc) : "m"(w), "v"(x))
#else
#define SF_FMA_BCAST(acc, w, x) ((acc) += (w) * (x))
#endif

/* Bytes ahead of the stream that kernel prefetches. */
#ifndef SF_NM24_PREFETCH
#define SF_NM24_PREFETCH 2048
#endif

/* Packed input tiles of this many bytes a row-block sweep keeps in cache:
 * half of a 1 MB L2. */
#ifndef SF_L2_TILE_BYTES
#define SF_L2_TILE_BYTES (512u * 1024u)
#endif
static inline int sf_tile_group(size_t tile_bytes)
{
    size_t n = SF_L2_TILE_BYTES / (tile_bytes ? tile_bytes : 1);
    return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

/* Below this many vector FMAs a layer runs on one thread: waking the team
 * costs more than it saves. */
#define SF_PARALLEL_MIN_FMAS 4096.0

static inline sf_vf sf_splat(float v)
{
    return (sf_vf){v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v};
}

#if defined(__AVX512F__)
/* Transposes 16 vectors in place: afterwards r[c] holds lane c of the
 * inputs. Four rounds of 16 shuffles. */
static inline void sf_transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i + 0] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i + 0], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xDD);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
    }
}
#endif

/* Repacks tokens [t0, t0 + tn) of x[T][K] into xt[ncols][tb * SF_LANES]
 * (tb vectors of tokens per input feature); lanes past tn are zero. cols
 * (NULL: identity) selects ncols of the K columns. With AVX-512, whole
 * blocks of 16 tokens x 16 inputs go through a register transpose. */
static inline void sf_pack_tile(const float *restrict x, int K, int t0, int tn,
                                const int32_t *restrict cols, int ncols, int tb, sf_vf *restrict xt)
{
    const size_t w = (size_t)tb * SF_LANES;
    if (tn < (int)w)
        memset(xt, 0, sizeof(sf_vf) * (size_t)tb * (size_t)ncols);
    int k_done = 0, t_done = 0; /* the block below packed tokens < t_done, inputs < k_done */
#if defined(__AVX512F__)
    if (!cols) {
        k_done = ncols / 16 * 16;
        t_done = tn / 16 * 16;
        for (int j = 0; j < t_done; j += 16)
            for (int k0 = 0; k0 < k_done; k0 += 16) {
                __m512 r[16];
                for (int i = 0; i < 16; i++)
                    r[i] = _mm512_loadu_ps(x + (size_t)(t0 + j + i) * (size_t)K + (size_t)k0);
                sf_transpose16(r);
                for (int c = 0; c < 16; c++)
                    _mm512_store_ps((float *)xt + (size_t)(k0 + c) * w + (size_t)j, r[c]);
            }
    }
#endif
    for (int t = 0; t < tn; t++) {
        const float *row = x + (size_t)(t0 + t) * (size_t)K;
        float *dst = (float *)xt + t;
        int k = t < t_done ? k_done : 0;
        if (cols)
            for (; k < ncols; k++)
                dst[(size_t)k * w] = row[cols[k]];
        else
            for (; k < ncols; k++)
                dst[(size_t)k * w] = row[k];
    }
}

/* Writes rows rows[0..nr) of a block, each one vector of tn tokens
 * (acc[r * stride]), into y[T][O] a token at a time: every line of y is
 * touched once. A row at a time would walk tn lines O floats apart, which
 * share L1 sets when O * 4 is a multiple of 4 KB (3072, 2048, ...). With
 * AVX-512, consecutive rows (no dead ones) go through a register transpose. */
static inline void sf_store_rows(float *restrict y, int O, const int32_t *restrict rows, int nr,
                                 int tn, const sf_vf *restrict acc, int stride)
{
#if defined(__AVX512F__)
    if (nr >= 1 && nr <= 16 && rows[nr - 1] - rows[0] == nr - 1) {
        __m512 r[16];
        for (int i = 0; i < 16; i++)
            r[i] = i < nr ? _mm512_loadu_ps((const float *)&acc[(size_t)i * (size_t)stride])
                          : _mm512_setzero_ps();
        sf_transpose16(r);
        const __mmask16 m = (__mmask16)((1u << nr) - 1u);
        for (int t = 0; t < tn; t++)
            _mm512_mask_storeu_ps(y + (size_t)t * (size_t)O + (size_t)rows[0], m, r[t]);
        return;
    }
#endif
    float v[64][SF_LANES];
    for (int r = 0; r < nr; r++)
        memcpy(v[r], &acc[(size_t)r * (size_t)stride], sizeof v[r]);
    for (int t = 0; t < tn; t++) {
        float *restrict yt = y + (size_t)t * (size_t)O;
        for (int r = 0; r < nr; r++)
            yt[rows[r]] = v[r][t];
    }
}

/* Zero-fills the listed output features of tokens [0, T). */
static inline void sf_zero_cols(float *restrict y, int O, int T, const int32_t *rows, int n)
{
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n; i++)
            y[(size_t)t * (size_t)O + (size_t)rows[i]] = 0.0f;
}

/* Channel-major (convolution) form: n (0..SF_LANES) floats from p into a
 * vector, zeros beyond n; and the first n lanes of v to p. */
static inline sf_vf sf_load_n(const float *p, int n)
{
#if defined(__AVX512F__)
    return (sf_vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1u), p);
#else
    sf_vf v = sf_splat(0.0f);
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
#endif
}

static inline void sf_store_n(float *p, sf_vf v, int n)
{
#if defined(__AVX512F__)
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), (__m512)v);
#else
    memcpy(p, &v, (size_t)n * sizeof(float));
#endif
}

/* ---- Inf and NaN inputs (docs/NUMERICS.md) ------------------------------ */

/* 1 when one of x[0..n) is Inf or NaN (all exponent bits set); integer
 * tests, so they hold whatever the floating-point flags. */
static inline int sf_any_nonfinite(const float *x, size_t n)
{
    uint32_t any = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        any |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return any != 0;
}
static inline int sf_any_nonfinite_strided(const float *x, size_t stride, int n)
{
    uint32_t any = 0;
    for (int i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + (size_t)i * stride, sizeof u);
        any |= (u & 0x7f800000u) == 0x7f800000u;
    }
    return any != 0;
}

/* A weight that is exactly zero contributes nothing, also where its input
 * is Inf or NaN, in every kernel. The dense kernels multiply the zeros of
 * their blocks and the compressed one its padding slots: exact for finite
 * inputs only. So after them, each token (a row of x [T][K], or a pixel of
 * the channel-major x [K][T]) with an Inf or NaN among its inputs is
 * recomputed here as bias + the sum over the nonzero weights. Token t's
 * input k is x[t * xt + k * xk] and its output o y[t * yt + o * yo]; x holds
 * T * K floats. A pass over x when every input is finite. */
typedef struct {
    int T, K;
    size_t xt, xk, yt, yo;
} sf_exact_shape;

/* Dense layout (linear_dense.c.in): bias[nrb * R], w [nrb][ncols][R]. */
static inline void sf_exact_dense(const float *x, float *y, sf_exact_shape s, int nrows, int ncols,
                                  int R, const float *bias, const float *w, const int32_t *rows,
                                  const int32_t *cols)
{
    if (!sf_any_nonfinite(x, (size_t)s.T * (size_t)s.K))
        return;
    for (int t = 0; t < s.T; t++) {
        const float *xt = x + (size_t)t * s.xt;
        if (!sf_any_nonfinite_strided(xt, s.xk, s.K))
            continue;
        for (int i = 0; i < nrows; i++) {
            const float *wi = w + (size_t)(i / R) * (size_t)ncols * (size_t)R + (size_t)(i % R);
            float acc = bias[i];
            for (int k = 0; k < ncols; k++)
                if (wi[(size_t)k * (size_t)R] != 0.0f)
                    acc += wi[(size_t)k * (size_t)R] * xt[(size_t)(cols ? cols[k] : k) * s.xk];
            y[(size_t)t * s.yt + (size_t)rows[i] * s.yo] = acc;
        }
    }
}

/* Compressed layout (linear_nm_compressed.c.in): bias[nrb * R], val and col
 * [slots][R] (col of idx_bytes 2 or 4), slot0[nrb + 1]. */
static inline void sf_exact_ell(const float *x, float *y, sf_exact_shape s, int nrows, int R,
                                const float *bias, const float *val, const void *col, int idx_bytes,
                                const int32_t *slot0, const int32_t *rows)
{
    if (!sf_any_nonfinite(x, (size_t)s.T * (size_t)s.K))
        return;
    for (int t = 0; t < s.T; t++) {
        const float *xt = x + (size_t)t * s.xt;
        if (!sf_any_nonfinite_strided(xt, s.xk, s.K))
            continue;
        for (int i = 0; i < nrows; i++) {
            const int rb = i / R, r = i % R;
            float acc = bias[i];
            for (int32_t q = slot0[rb]; q < slot0[rb + 1]; q++) {
                const size_t at = (size_t)q * (size_t)R + (size_t)r;
                if (val[at] == 0.0f)
                    continue; /* padding, never a real input */
                const size_t c = idx_bytes == 2 ? ((const uint16_t *)col)[at]
                                                : (size_t)((const int32_t *)col)[at];
                acc += val[at] * xt[c * s.xk];
            }
            y[(size_t)t * s.yt + (size_t)rows[i] * s.yo] = acc;
        }
    }
}

/* Zero-fills the listed rows of y [O][P]. */
static inline void sf_zero_rows(float *restrict y, int P, const int32_t *rows, int n)
{
    for (int i = 0; i < n; i++)
        memset(y + (size_t)rows[i] * (size_t)P, 0, (size_t)P * sizeof(float));
}

#endif
