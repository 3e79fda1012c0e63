/* sf_format.h - what the generator and both runtimes (runtime/cpu,
 * runtime/cuda) must agree on: the weights blob's header, the token lane
 * width of the CPU kernels and the token counts at which they change path.
 * Included by all three; copied verbatim into every output folder. Plain C,
 * so C, C++ and CUDA all read it (docs/FORMATS.md). */
#ifndef SF_FORMAT_H
#define SF_FORMAT_H

#include <stdint.h>

/* ---- the weights blob ---------------------------------------------------- */

#define SF_BLOB_MAGIC        "SFWB"
#define SF_BLOB_VERSION      1
#define SF_BLOB_HEADER_BYTES 64

/* The blob's first SF_BLOB_HEADER_BYTES bytes. */
typedef struct {
    char magic[4];       /* SF_BLOB_MAGIC */
    uint32_t version;    /* SF_BLOB_VERSION */
    uint64_t size;       /* whole blob, bytes */
    uint64_t mask_hash;  /* layout and sparsity masks; code must match */
    uint64_t value_hash; /* weight values */
    char model[32];      /* model name, NUL-padded */
} sf_blob_header;

/* ---- CPU kernels: tiles of tokens -------------------------------------- */

/* Tokens per vector: activations are repacked as [K][SF_LANES]. */
#define SF_LANES 16
/* Up to this many tokens, dense layers stream their weights once instead of
 * repacking the tokens into tiles. */
#define SF_SMALL_T 8
/* The compressed kernel gathers its inputs in place only up to this many
 * tokens; from 3 on, a 16-token tile with its vector FMAs is faster. */
#define SF_SMALL_T_SPARSE 2
/* The 2:4 weight-stream kernel takes tokens in groups of up to this many,
 * streaming the weights once per group. */
#define SF_NM24_MAX_T 8

/* ---- embedding indices -------------------------------------------------- */

#if defined(__CUDACC__)
#define SF_HOST_DEVICE __host__ __device__
#else
#define SF_HOST_DEVICE
#endif

/* The row an embedding index f (a float-coded integer) picks in a table of
 * `rows` rows, or -1 when f is not an integer in [0, rows) (NaN neither).
 * The bound is compared in integers: (float)rows rounds from 2^24 rows on,
 * which made the last row of a table of 2^24 + 1 rows unreachable. */
static inline SF_HOST_DEVICE int64_t sf_embed_row(float f, int64_t rows)
{
    if (!(f >= 0.0f && f < 9.2233720368547758e18f) || f != (float)(int64_t)f)
        return -1; /* checked before the cast: larger floats are out of int64 */
    const int64_t i = (int64_t)f;
    return i < rows ? i : -1;
}

#endif
