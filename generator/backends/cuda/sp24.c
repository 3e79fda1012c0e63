/* sp24.c - host encoder and decoder of the 2:4 tile layout (sp24.h). */
#include "backends/cuda/sp24.h"

#include <math.h>
#include <string.h>

uint16_t sf_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

uint16_t sf_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u)
        return sign | 0x7e00u;
    if (a >= 0x477ff000u) /* rounds to 65520 or more: inf */
        return sign | 0x7c00u;
    if (a < 0x38800000u) {                 /* below 2^-14: subnormal or zero */
        float m = fabsf(f) * 16777216.0f;  /* in units of 2^-24, exact */
        return sign | (uint16_t)lrintf(m); /* nearest even (default rounding) */
    }
    uint32_t r = a - 0x38000000u; /* rebias 127 -> 15 */
    r += 0xfffu + ((r >> 13) & 1u);
    return sign | (uint16_t)(r >> 13);
}

float sf_half_to_f32(sf_half_kind k, uint16_t h)
{
    uint32_t u;
    float f;
    if (k == SF_HALF_BF16) {
        u = (uint32_t)h << 16;
        memcpy(&f, &u, 4);
        return f;
    }
    uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 31u, m = h & 1023u;
    if (e == 31)
        u = s | 0x7f800000u | (m << 13);
    else if (e)
        u = s | ((e + 112u) << 23) | (m << 13);
    else {
        f = (float)m * 5.9604644775390625e-8f; /* m * 2^-24 */
        return s ? -f : f;
    }
    memcpy(&f, &u, 4);
    return f;
}

uint16_t sf_f32_to_half(sf_half_kind k, float f)
{
    return k == SF_HALF_BF16 ? sf_f32_to_bf16(f) : sf_f32_to_f16(f);
}

int sf_sp24_nibble_legal(unsigned n)
{
    unsigned lo = n & 3u, hi = (n >> 2) & 3u;
    return n < 16 && lo < hi;
}

int sf_sp24_group(const float v[4], int pos[2])
{
    int cnt = 0;
    for (int i = 0; i < 4; i++)
        if (v[i] != 0.0f) {
            if (cnt == 2)
                return -1;
            pos[cnt++] = i;
        }
    /* fill with the lowest free positions, then keep them ascending */
    for (int i = 0; cnt < 2 && i < 4; i++)
        if (!(cnt == 1 && pos[0] == i))
            pos[cnt++] = i;
    if (pos[0] > pos[1]) {
        int t = pos[0];
        pos[0] = pos[1];
        pos[1] = t;
    }
    return pos[0] | pos[1] << 2;
}

int64_t sf_sp24_rows_padded(int64_t O)
{
    return (O + 15) / 16 * 16;
}
int64_t sf_sp24_cols_padded(int64_t K)
{
    return (K + 31) / 32 * 32;
}

/* Lane l's value slot i (0..7) -> (row in tile, compressed column in tile). */
static void lane_slot(int l, int i, int *row, int *ccol)
{
    int g = l >> 2, t = l & 3;
    *row = g + ((i >> 1) & 1) * 8;
    *ccol = 2 * t + (i & 1) + (i >> 2) * 8;
}

int sf_sp24_encode(const float *w, int64_t O, int64_t K, sf_half_kind kind, uint16_t *values,
                   uint32_t *meta, int64_t *bad_row, int64_t *bad_col)
{
    int64_t Op = sf_sp24_rows_padded(O), Kp = sf_sp24_cols_padded(K), nkc = Kp / 32;
    for (int64_t rb = 0; rb < Op / 16; rb++)
        for (int64_t kc = 0; kc < nkc; kc++) {
            size_t tile = (size_t)(rb * nkc + kc);
            float kept[16][16];  /* [row in tile][compressed column] */
            unsigned nib[16][8]; /* [row in tile][group in chunk] */
            for (int r = 0; r < 16; r++) {
                int64_t row = rb * 16 + r;
                for (int q = 0; q < 8; q++) {
                    float v[4];
                    for (int i = 0; i < 4; i++) {
                        int64_t col = kc * 32 + q * 4 + i;
                        v[i] = row < O && col < K ? w[row * K + col] : 0.0f;
                    }
                    int pos[2], n = sf_sp24_group(v, pos);
                    if (n < 0) {
                        *bad_row = row;
                        *bad_col = kc * 32 + q * 4;
                        return -1;
                    }
                    nib[r][q] = (unsigned)n;
                    kept[r][2 * q] = v[pos[0]];
                    kept[r][2 * q + 1] = v[pos[1]];
                }
            }
            uint16_t *vt = values + tile * SF_SP24_TILE_VALUES;
            for (int l = 0; l < 32; l++)
                for (int i = 0; i < 8; i++) {
                    int r, cc;
                    lane_slot(l, i, &r, &cc);
                    vt[l * 8 + i] = sf_f32_to_half(kind, kept[r][cc]);
                }
            uint32_t *mt = meta + tile * SF_SP24_TILE_WORDS;
            for (int g = 0; g < 8; g++)
                for (int j = 0; j < 2; j++) {
                    uint32_t word = 0;
                    for (int q = 0; q < 4; q++) {
                        word |= (uint32_t)nib[g][4 * j + q] << (4 * q);
                        word |= (uint32_t)nib[g + 8][4 * j + q] << (16 + 4 * q);
                    }
                    mt[2 * g + j] = word;
                }
        }
    return 0;
}

int sf_sp24_decode(const uint16_t *values, const uint32_t *meta, int64_t Op, int64_t Kp,
                   sf_half_kind kind, float *w)
{
    int64_t nkc = Kp / 32;
    memset(w, 0, sizeof(float) * (size_t)(Op * Kp));
    for (int64_t rb = 0; rb < Op / 16; rb++)
        for (int64_t kc = 0; kc < nkc; kc++) {
            size_t tile = (size_t)(rb * nkc + kc);
            const uint16_t *vt = values + tile * SF_SP24_TILE_VALUES;
            const uint32_t *mt = meta + tile * SF_SP24_TILE_WORDS;
            float kept[16][16];
            for (int l = 0; l < 32; l++)
                for (int i = 0; i < 8; i++) {
                    int r, cc;
                    lane_slot(l, i, &r, &cc);
                    kept[r][cc] = sf_half_to_f32(kind, vt[l * 8 + i]);
                }
            for (int r = 0; r < 16; r++)
                for (int q = 0; q < 8; q++) {
                    uint32_t word = mt[2 * (r & 7) + q / 4];
                    unsigned n = (word >> ((r >= 8 ? 16 : 0) + 4 * (q % 4))) & 15u;
                    if (!sf_sp24_nibble_legal(n))
                        return -1;
                    float *dst = w + (rb * 16 + r) * Kp + kc * 32 + q * 4;
                    dst[n & 3u] += kept[r][2 * q];
                    dst[n >> 2] += kept[r][2 * q + 1];
                }
        }
    return 0;
}
