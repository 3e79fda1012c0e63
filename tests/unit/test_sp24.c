/* test_sp24.c - the 2:4 tile layout of the CUDA sparse-tensor-core kernel
 * (generator/sp24.c): half conversions, the legal metadata values, every
 * group pattern, the documented lane and bit positions, round trips. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cuda/sp24.h"
#include "suites.h"

/* ---- half conversions ----------------------------------------------------------- */

START_TEST(half_known_values)
{
    ck_assert_uint_eq(sf_f32_to_bf16(1.0f), 0x3f80);
    ck_assert_uint_eq(sf_f32_to_bf16(-2.0f), 0xc000);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1) */
    ck_assert_uint_eq(sf_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
    ck_assert_uint_eq(sf_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    ck_assert_uint_eq(sf_f32_to_f16(1.0f), 0x3c00);
    ck_assert_uint_eq(sf_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(sf_f32_to_f16(65520.0f), 0x7c00); /* rounds up to inf */
    ck_assert_uint_eq(sf_f32_to_f16(65519.0f), 0x7bff);
    ck_assert_uint_eq(sf_f32_to_f16(0x1p-24f), 0x0001);   /* smallest subnormal */
    ck_assert_uint_eq(sf_f32_to_f16(0x1p-25f), 0x0000);   /* tie to even: 0 */
    ck_assert_uint_eq(sf_f32_to_f16(0x1.8p-24f), 0x0002); /* tie to even: 2 */
    ck_assert_uint_eq(sf_f32_to_f16(-0.0f), 0x8000);
    ck_assert_uint_eq(sf_f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* tie to even */
    ck_assert_uint_eq(sf_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    ck_assert(isnan(sf_half_to_f32(SF_HALF_F16, sf_f32_to_f16(NAN))));
    ck_assert(isnan(sf_half_to_f32(SF_HALF_BF16, sf_f32_to_bf16(NAN))));
}
END_TEST

/* Every 16-bit pattern that is not NaN goes to f32 and back unchanged, and
 * its f32 value is the one the format defines. */
START_TEST(half_every_pattern_round_trips)
{
    sf_half_kind k = _i ? SF_HALF_F16 : SF_HALF_BF16;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = sf_half_to_f32(k, (uint16_t)h);
        if (isnan(f))
            continue;
        ck_assert_msg(sf_f32_to_half(k, f) == h, "pattern 0x%04x", h);
        if (k == SF_HALF_F16) {
            int e = (h >> 10) & 31, m = h & 1023;
            double want = e == 31 ? INFINITY
                          : e     ? ldexp(1.0 + m / 1024.0, e - 15)
                                  : ldexp((double)m, -24);
            if (h & 0x8000)
                want = -want;
            ck_assert_msg((double)f == want, "f16 0x%04x: %.9g, want %.9g", h, (double)f, want);
        }
    }
}
END_TEST

/* ---- metadata values and group patterns --------------------------------------------- */

START_TEST(legal_nibbles_are_the_six_ordered_pairs)
{
    const unsigned legal[6] = {0x4, 0x8, 0xc, 0x9, 0xd, 0xe};
    int count = 0;
    for (unsigned n = 0; n < 16; n++) {
        int want = 0;
        for (int i = 0; i < 6; i++)
            want |= legal[i] == n;
        ck_assert_int_eq(sf_sp24_nibble_legal(n), want);
        count += want;
    }
    ck_assert_int_eq(count, 6);
    ck_assert(!sf_sp24_nibble_legal(16));
}
END_TEST

/* All 16 zero/nonzero patterns of a group of 4. */
START_TEST(every_group_pattern)
{
    for (int mask = 0; mask < 16; mask++) {
        float v[4];
        int nnz = 0;
        for (int i = 0; i < 4; i++) {
            v[i] = mask >> i & 1 ? (float)(i + 1) * 0.5f : 0.0f;
            nnz += mask >> i & 1;
        }
        int pos[2], n = sf_sp24_group(v, pos);
        if (nnz > 2) {
            ck_assert_int_eq(n, -1);
            continue;
        }
        ck_assert_msg(n >= 0 && sf_sp24_nibble_legal((unsigned)n), "mask %x: nibble %d", mask, n);
        ck_assert_int_eq(n & 3, pos[0]);
        ck_assert_int_eq(n >> 2, pos[1]);
        ck_assert_int_lt(pos[0], pos[1]);
        for (int i = 0; i < 4; i++) /* every nonzero is kept */
            if (mask >> i & 1)
                ck_assert(pos[0] == i || pos[1] == i);
        if (nnz == 2) { /* exact: the two nonzeros, in order */
            int a = __builtin_ctz((unsigned)mask), b = 31 - __builtin_clz((unsigned)mask);
            ck_assert_int_eq(n, a | b << 2);
        }
    }
}
END_TEST

/* ---- documented positions ----------------------------------------------------------- */

/* One nonzero pair placed by hand: where the layout comment says it goes. */
START_TEST(lane_and_bit_positions)
{
    enum { O = 16, K = 64 }; /* one row block, two chunks */
    float w[O * K];
    memset(w, 0, sizeof w);
    /* row 9, chunk 1, group 5 (columns 32 + 20 .. 23): nonzeros at positions 1 and 3 */
    w[9 * K + 32 + 21] = 1.5f;
    w[9 * K + 32 + 23] = -2.5f;
    uint16_t values[2 * SF_SP24_TILE_VALUES];
    uint32_t meta[2 * SF_SP24_TILE_WORDS];
    int64_t br, bc;
    ck_assert_int_eq(sf_sp24_encode(w, O, K, SF_HALF_BF16, values, meta, &br, &bc), 0);
    const uint16_t *vt = values + SF_SP24_TILE_VALUES; /* tile (0, 1) */
    const uint32_t *mt = meta + SF_SP24_TILE_WORDS;
    /* row 9 = g 1 (+8); compressed columns 10, 11 = 2t + 8 + {0,1} with t = 1:
     * lane 5, slots 6 and 7 */
    ck_assert_uint_eq(vt[5 * 8 + 6], sf_f32_to_bf16(1.5f));
    ck_assert_uint_eq(vt[5 * 8 + 7], sf_f32_to_bf16(-2.5f));
    /* group 5 = 4j + q with j = 1, q = 1: word 2g + j = 3, bits 16 + 4 .. 16 + 7 */
    ck_assert_uint_eq((mt[3] >> 20) & 15u, 0xd);
    /* every other nibble is the empty group's (0, 1) */
    for (int t = 0; t < 2; t++)
        for (int wd = 0; wd < 16; wd++)
            for (int q = 0; q < 8; q++) {
                if (t == 1 && wd == 3 && q == 5)
                    continue;
                ck_assert_uint_eq((meta[t * 16 + wd] >> (4 * q)) & 15u, 0x4);
            }
    for (int i = 0; i < 2 * SF_SP24_TILE_VALUES; i++)
        if (i != SF_SP24_TILE_VALUES + 46 && i != SF_SP24_TILE_VALUES + 47)
            ck_assert_uint_eq(values[i], 0);
}
END_TEST

/* ---- round trips -------------------------------------------------------------------- */

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

/* Random 2:4 matrices of odd sizes: every group gets one of the 11 patterns
 * with at most 2 nonzeros; values are exact in the half format. */
START_TEST(round_trip_odd_shapes)
{
    static const int64_t shapes[][2] = {{1, 5}, {16, 32}, {37, 70}, {50, 96}, {3, 129}};
    sf_half_kind kind = _i ? SF_HALF_F16 : SF_HALF_BF16;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t O = shapes[s][0], K = shapes[s][1];
        int64_t Op = sf_sp24_rows_padded(O), Kp = sf_sp24_cols_padded(K);
        size_t tiles = (size_t)(Op / 16 * (Kp / 32));
        float *w = calloc((size_t)(O * K), sizeof *w),
              *back = malloc(sizeof(float) * (size_t)(Op * Kp));
        uint16_t *values = malloc(tiles * SF_SP24_TILE_VALUES * 2);
        uint32_t *meta = malloc(tiles * SF_SP24_TILE_WORDS * 4);
        for (int64_t r = 0; r < O; r++)
            for (int64_t g = 0; g < K; g += 4) {
                int pick = (int)(rng() % 11), a = -1, b = -1; /* 1 empty, 4 single, 6 pairs */
                if (pick >= 1 && pick <= 4)
                    a = pick - 1;
                else if (pick > 4) {
                    static const int pa[6] = {0, 0, 0, 1, 1, 2}, pb[6] = {1, 2, 3, 2, 3, 3};
                    a = pa[pick - 5];
                    b = pb[pick - 5];
                }
                int at[2] = {a, b};
                for (int i = 0; i < 2; i++)
                    if (at[i] >= 0 && g + at[i] < K) {
                        float v = (float)((int)(rng() % 2001) - 1000) / 256.0f;
                        w[r * K + g + at[i]] = sf_half_to_f32(kind, sf_f32_to_half(kind, v));
                    }
            }
        int64_t br, bc;
        ck_assert_int_eq(sf_sp24_encode(w, O, K, kind, values, meta, &br, &bc), 0);
        for (size_t i = 0; i < tiles * SF_SP24_TILE_WORDS; i++)
            for (int q = 0; q < 8; q++)
                ck_assert(sf_sp24_nibble_legal((meta[i] >> (4 * q)) & 15u));
        ck_assert_int_eq(sf_sp24_decode(values, meta, Op, Kp, kind, back), 0);
        for (int64_t r = 0; r < Op; r++)
            for (int64_t c = 0; c < Kp; c++) {
                float want = r < O && c < K ? w[r * K + c] : 0.0f;
                ck_assert_msg(back[r * Kp + c] == want, "%lldx%lld at [%lld][%lld]: %g, want %g",
                              (long long)O, (long long)K, (long long)r, (long long)c,
                              (double)back[r * Kp + c], (double)want);
            }
        free(w);
        free(back);
        free(values);
        free(meta);
    }
}
END_TEST

START_TEST(encode_rejects_three_of_four)
{
    enum { O = 20, K = 40 };
    float w[O * K];
    memset(w, 0, sizeof w);
    w[17 * K + 36] = w[17 * K + 37] = w[17 * K + 39] = 1.0f;
    uint16_t values[2 * 2 * SF_SP24_TILE_VALUES];
    uint32_t meta[2 * 2 * SF_SP24_TILE_WORDS];
    int64_t br = -1, bc = -1;
    ck_assert_int_eq(sf_sp24_encode(w, O, K, SF_HALF_F16, values, meta, &br, &bc), -1);
    ck_assert_int_eq(br, 17);
    ck_assert_int_eq(bc, 36);
}
END_TEST

START_TEST(decode_rejects_illegal_metadata)
{
    uint16_t values[SF_SP24_TILE_VALUES] = {0};
    uint32_t meta[SF_SP24_TILE_WORDS];
    float w[16 * 32];
    for (unsigned bad = 0; bad < 16; bad++) {
        if (sf_sp24_nibble_legal(bad))
            continue;
        for (int i = 0; i < SF_SP24_TILE_WORDS; i++)
            meta[i] = 0x44444444u;
        meta[7] = (meta[7] & ~(15u << 12)) | bad << 12;
        ck_assert_int_eq(sf_sp24_decode(values, meta, 16, 32, SF_HALF_BF16, w), -1);
    }
}
END_TEST

Suite *sp24_suite(void)
{
    Suite *s = suite_create("sp24");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, half_known_values);
    tcase_add_loop_test(tc, half_every_pattern_round_trips, 0, 2);
    tcase_add_test(tc, legal_nibbles_are_the_six_ordered_pairs);
    tcase_add_test(tc, every_group_pattern);
    tcase_add_test(tc, lane_and_bit_positions);
    tcase_add_loop_test(tc, round_trip_odd_shapes, 0, 2);
    tcase_add_test(tc, encode_rejects_three_of_four);
    tcase_add_test(tc, decode_rejects_illegal_metadata);
    suite_add_tcase(s, tc);
    return s;
}
