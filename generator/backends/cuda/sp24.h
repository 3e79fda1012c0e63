/* sp24.h - the 2:4 tile layout that the CUDA sparse-tensor-core kernel reads
 * (mma.sp::ordered_metadata m16n8k32, 16-bit values), its host encoder and
 * decoder, and the f32 -> bf16 / f16 conversions the GPU packs use.
 *
 * A weight W [O][K] is cut into tiles of 16 rows x 32 columns (O padded to a
 * multiple of 16, K to a multiple of 32, with zeros). Tile (rb, kc) is number
 * rb * (Kp / 32) + kc, and has two parts (docs/FORMATS.md, "2:4 tiles"):
 *
 *   values   256 16-bit values, 16 per lane of a warp, in lane order; lane l
 *            (g = l / 4, t = l % 4) holds, as the A fragment of the mma:
 *              [0..1] row g,   compressed columns 2t, 2t+1
 *              [2..3] row g+8, compressed columns 2t, 2t+1
 *              [4..5] row g,   compressed columns 2t+8, 2t+9
 *              [6..7] row g+8, compressed columns 2t+8, 2t+9
 *            where compressed column c is the (c % 2)-th kept value of the
 *            group of 4 columns c / 2 (kept values in ascending position).
 *            8 values = 16 bytes per lane, 512 bytes per tile.
 *   metadata 16 32-bit words, word 2g + j for lane 4g + j (j = 0, 1: the
 *            lanes sparsity selector 0 names). Bits 4q..4q+3 hold the two
 *            2-bit positions (first in the low 2 bits, the lower position
 *            first) of group 4j + q of row g; bits 16 + 4q.. the same for
 *            row g + 8. 64 bytes per tile.
 *
 * A group with fewer than 2 nonzeros keeps zeros at the lowest free
 * positions, so every nibble is one of the six legal ordered values
 * 0x4 (0,1) 0x8 (0,2) 0xC (0,3) 0x9 (1,2) 0xD (1,3) 0xE (2,3). */
#ifndef SF_SP24_H
#define SF_SP24_H

#include <stddef.h>
#include <stdint.h>

#define SF_SP24_TILE_ROWS   16
#define SF_SP24_TILE_COLS   32
#define SF_SP24_TILE_VALUES 256 /* 16-bit values per tile */
#define SF_SP24_TILE_WORDS  16  /* 32-bit metadata words per tile */

typedef enum { SF_HALF_BF16, SF_HALF_F16 } sf_half_kind;

uint16_t sf_f32_to_bf16(float f); /* round to nearest even; NaN stays NaN */
uint16_t sf_f32_to_f16(float f);  /* round to nearest even; overflow to inf */
float sf_half_to_f32(sf_half_kind k, uint16_t h);
uint16_t sf_f32_to_half(sf_half_kind k, float f);

/* 1 when the nibble is one of the six legal ordered pairs. */
int sf_sp24_nibble_legal(unsigned nibble);
/* The nibble for a group of 4 values with at most 2 nonzeros, and the two
 * positions it keeps; -1 when the group has 3 or 4 nonzeros. */
int sf_sp24_group(const float v[4], int pos[2]);

/* Padded sizes of a weight [O][K]. */
int64_t sf_sp24_rows_padded(int64_t O);
int64_t sf_sp24_cols_padded(int64_t K);
/* Encodes W [O][K] (row stride K) into Op/16 * Kp/32 tiles: `values`
 * (SF_SP24_TILE_VALUES each) and `meta` (SF_SP24_TILE_WORDS each). Returns 0,
 * or -1 when a group of 4 has more than 2 nonzeros (*bad_row, *bad_col: the
 * group's first element). */
int sf_sp24_encode(const float *w, int64_t O, int64_t K, sf_half_kind kind, uint16_t *values,
                   uint32_t *meta, int64_t *bad_row, int64_t *bad_col);
/* The inverse: dense W [Op][Kp] from the tiles. Returns 0, or -1 when a
 * metadata nibble is not legal. */
int sf_sp24_decode(const uint16_t *values, const uint32_t *meta, int64_t Op, int64_t Kp,
                   sf_half_kind kind, float *w);

#endif
