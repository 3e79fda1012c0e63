/* kernels.c - the kernel-variant registry and the cost model (kernels.h).
 *
 * The model counts what bounds each kernel on a core with AVX-512: vector
 * FMAs (one per cycle) and loads (about one per cycle once 64-byte loads are
 * in the mix), plus the bytes that stream from memory when a layer's
 * weights are read once per call (few tokens), plus repacking the inputs
 * and scattering the outputs. Constants were measured on the project's
 * 2-core AMD Zen 4 machines (docs/PERFORMANCE.md, "Cost model"); `make
 * bench` prints, for every case it runs, the variant the model chose and
 * how far it is from the fastest one measured. */
#include "backends/cpu/kernels.h"
#include "sf_format.h"

#include <string.h>

static const sf_variant k_variants[] = {
    {"f32_linear_dense_r16t1", SF_K_DENSE, 16, 1,
     "dense, 16 rows x 16 tokens in registers; up to 8 tokens a weight stream"},
    {"f32_linear_nmu_r8t1", SF_K_NM_UNROLLED, 8, 1,
     "mask-unrolled: one FMA per nonzero on a register chosen at generation time"},
    {"f32_linear_nmc_r8t1", SF_K_NM_COMPRESSED, 8, 1,
     "compressed values + indices, 8 rows x 16 tokens"},
    {"f32_linear_nmc_r8t2", SF_K_NM_COMPRESSED, 8, 2,
     "compressed values + indices, 8 rows x 32 tokens"},
    {"f32_linear_nmc_r4t4", SF_K_NM_COMPRESSED, 4, 4,
     "compressed values + indices, 4 rows x 64 tokens"},
    {"f32_linear_nm24_r2t1", SF_K_NM24, 2, 1,
     "2:4 only: values + 2-bit positions, a weight stream per 8 tokens (decoding)"},
};
#define NVARIANTS ((int)(sizeof k_variants / sizeof k_variants[0]))
_Static_assert(NVARIANTS <= SF_MAX_VARIANTS, "raise SF_MAX_VARIANTS");

const sf_variant *sf_variant_list(int *n)
{
    *n = NVARIANTS;
    return k_variants;
}

const sf_variant *sf_variant_find(const char *name)
{
    for (int i = 0; i < NVARIANTS; i++)
        if (!strcmp(k_variants[i].name, name))
            return &k_variants[i];
    return NULL;
}

/* Machine constants (one core). */
#define HZ             3.6e9 /* cycles per second */
#define BW             30e9  /* bytes per second a weight stream reaches from memory */
#define BW_CACHED      60e9  /* ... and from L3, for layers of up to CACHED_BYTES */
#define CACHED_BYTES   16e6  /* half of a 32 MB L3 */
#define L2_LINE_CYCLES 2.8   /* per 64-byte line of packed inputs brought from L2 */
#define PACK_CYCLES    0.6   /* per input element repacked into a tile */
#define STORE_CYCLES   0.6   /* per output element stored from a tile */
#define CODE_BYTES     10.0  /* per nonzero of mask-unrolled code */
#define GATHER_CYCLES  1.2   /* per nonzero and token, compressed decode path */
#define FORK_SECONDS   3e-6  /* waking an OpenMP team */

static double ceil_div(double a, double b)
{
    return (double)(int64_t)((a + b - 1) / b);
}

size_t sf_ell_slots(const sf_plan *p, int R)
{
    size_t slots = 0;
    for (int r0 = 0; r0 < p->nrows; r0 += R) {
        int w = 0;
        for (int r = r0; r < r0 + R && r < p->nrows; r++)
            if (p->row_nnz[r] > w)
                w = p->row_nnz[r];
        slots += (size_t)w * (size_t)R;
    }
    return slots;
}

double sf_variant_cost(const sf_variant *v, const sf_linear *L, const sf_plan *p, int64_t tokens,
                       int threads)
{
    double T = (double)(tokens > 0 ? tokens : 1);
    double rows = p->nrows, cols = p->ncols, nnz = (double)p->nnz;
    double R = v->row_block, units = ceil_div(rows, R); /* row blocks: parallel work */
    double cycles = 0, bytes = 0;
    switch (v->family) {
    case SF_K_DENSE:
        if (T <= SF_SMALL_T) { /* weights stream once; an FMA and an input broadcast
                                * per 16 rows and token: 1.1 cycles from cache, 2.2
                                * when the loads wait on memory (measured) */
            bytes = units * R * cols * 4.0;
            cycles = units * cols * T * (bytes > CACHED_BYTES ? 2.2 : 1.1);
        } else { /* 17 loads per 16 FMAs, 94% of peak measured */
            double tiles = ceil_div(T, 16);
            cycles = tiles * units * R * cols * (17.0 / 16.0) + T * cols * PACK_CYCLES +
                     T * rows * STORE_CYCLES;
            units *= tiles;
        }
        break;
    case SF_K_NM_UNROLLED: { /* x in registers, one broadcast load per FMA */
        double tiles = ceil_div(T, 16);
        cycles = tiles * (nnz + units * cols) + T * (double)L->in * PACK_CYCLES +
                 T * rows * STORE_CYCLES;
        bytes = nnz * CODE_BYTES; /* the code streams once per call */
        break;
    }
    case SF_K_NM_COMPRESSED: {
        double slots = (double)sf_ell_slots(p, v->row_block);
        if (T <= SF_SMALL_T_SPARSE) {
            cycles = slots * T * GATHER_CYCLES;
            bytes = slots * (4.0 + (p->col_u16 ? 2.0 : 4.0));
        } else { /* per nonzero: tb loads of x, a broadcast and an
                                * index: 0.9 cycles beyond the tb FMAs (measured) */
            double tb = T > (v->tile_vecs - 1) * 16.0 ? v->tile_vecs : 1;
            double tiles = ceil_div(T, 16 * tb);
            /* the inputs a block reads come from L2 once per block: the
             * fewer rows share a column, the more lines per FMA */
            double d = cols > 0 && rows > 0 ? nnz / (rows * cols) : 0, miss = 1;
            for (int r = 0; r < v->row_block; r++)
                miss *= 1 - d;
            double fma = tiles * slots * (tb + 0.9);
            double l2 = tiles * units * cols * (1 - miss) * tb * L2_LINE_CYCLES;
            cycles =
                (fma > l2 ? fma : l2) + T * (double)L->in * PACK_CYCLES + T * rows * STORE_CYCLES;
            units *= tiles;
        }
        break;
    }
    case SF_K_NM24: { /* per 16 slots: decode, then a two-source permute (two
                                * cycles on 512 bits) and an FMA per token; 2.5 cycles
                                * a token from cache, 3.3 from memory (measured) */
        double chunks = ceil_div((double)L->in, 32), streams = ceil_div(T, 8);
        double nt = T < 8 ? T : 8, pass = ceil_div(rows, 2) * 2 * chunks * 68.0;
        bytes = streams * pass;
        cycles =
            streams * ceil_div(rows, 2) * 2 * chunks * (3 + (pass > CACHED_BYTES ? 3.3 : 2.5) * nt);
        units = ceil_div(rows, 2);
        break;
    }
    }
    double bw = bytes <= CACHED_BYTES ? BW_CACHED : BW;
    double s = cycles / HZ > bytes / bw ? cycles / HZ : bytes / bw;
    double th = threads < 1 ? 1 : threads < units ? threads : units;
    if (th > 1)
        s = s / th + FORK_SECONDS;
    return s;
}
