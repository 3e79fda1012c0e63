/* sf_cuda_ctx.cuh - part of the CUDA runtime (sf_cuda.cuh): the context of a
 * generated model and the logic of its entry points (sf_cuda_ctx.cu), driven
 * by a description of the model (sfc_model) that the generated <model>.cu
 * fills in. The context owns the device copy of the weights blob, the arena,
 * the scratch, the key/value cache, a cuBLAS handle and a stream; the model
 * gives the sizes and its steps. The generated entry points are thin
 * wrappers that map the codes below to the model's (<NAME>_ENULL, ...). */
#ifndef SF_CUDA_CTX_CUH
#define SF_CUDA_CTX_CUH

#include "sf_cuda_core.cuh"

/* What sfc_ctx_init, sfc_ctx_sync and sfc_ctx_run return. */
enum {
    SFC_OK = 0,
    SFC_ECUDA = SFC_ERR, /* a CUDA or cuBLAS call failed; sfc_last_error() says which */
    SFC_ENULL = -2,      /* a NULL context, input or output */
    SFC_EBATCH = -3,     /* batch outside 1..max_batch */
    SFC_ECACHE = -4,     /* cache_len outside 0..cache_tokens - cache_step */
    SFC_EINDEX = -5,     /* an embedding met an index outside its table */
};

typedef struct sfc_ctx sfc_ctx;

/* The model's steps, in order, on ctx's stream (<model>_cuda_steps). Inputs
 * and outputs are device pointers; with `cached`, attention reads and
 * appends ctx's cache. step_ms, if not NULL, gets each step's time added.
 * Returns 0 or SFC_ERR. */
typedef int (*sfc_steps_fn)(sfc_ctx *ctx, const float *const *in, float *const *out, int batch,
                            double *step_ms, int cached, int cache_len);

/* A generated model, as the context needs it. */
typedef struct {
    const unsigned char *blob; /* the weights blob linked in (<model>_weights.S) */
    size_t blob_bytes;
    uint32_t blob_version;                /* SF_BLOB_VERSION of the generator */
    uint64_t mask_hash;                   /* layout and masks the code was generated for */
    size_t arena_bytes;                   /* <NAME>_ARENA_BYTES: the CPU arena's layout */
    size_t scratch_bytes;                 /* the largest step's at the maximum batch */
    size_t cache_bytes;                   /* the key/value cache; 0: none */
    int nin, nout;                        /* graph inputs and outputs */
    const size_t *in_floats, *out_floats; /* floats of each per batch item */
    int max_batch;
    int cache_tokens, cache_step; /* positions the cache holds, tokens a run appends; 0 0: none */
    sfc_steps_fn steps;
} sfc_model;

struct sfc_ctx {
    const sfc_model *m;
    int device;
    cudaStream_t stream;
    int own_stream; /* created by init, destroyed by free */
    cublasHandle_t blas;
    unsigned char *w;       /* the weights blob, on the device */
    unsigned char *arena;   /* m->arena_bytes: the CPU arena's layout */
    unsigned char *scratch; /* m->scratch_bytes */
    float *cache;           /* m->cache_bytes, or NULL */
    int *bad;               /* an embedding met an index outside its table */
    float **io;             /* m->nin + m->nout device buffers of the host-pointer entry points */
};

/* The blob linked in must be the one the code was generated for. */
int sfc_blob_ok(const sfc_model *m);

/* Fills the zeroed context `c` for model `m` on `device`: copies the weights,
 * allocates the arena, scratch, cache (zeroed) and host-pointer buffers, a
 * cuBLAS handle and, where `stream` (a cudaStream_t) is NULL, a stream of
 * its own. Returns SFC_OK, or SFC_ECUDA having released what it got. */
int sfc_ctx_init(sfc_ctx *c, const sfc_model *m, int device, void *stream);

/* Waits for the stream and releases what init got; not `c` itself. */
void sfc_ctx_release(sfc_ctx *c);

/* Waits for the stream. SFC_EINDEX if an embedding met an index outside its
 * table since the last sync (and clears that), SFC_ECUDA if a kernel failed. */
int sfc_ctx_sync(sfc_ctx *c);

/* Checks the arguments (c may be NULL), then runs the model's steps: on
 * device pointers, enqueued only (host = 0), or on the context's buffers
 * filled from and copied back to host pointers, then sync (host = 1). */
int sfc_ctx_run(sfc_ctx *c, const float *const *in, float *const *out, int batch, double *step_ms,
                int cached, int cache_len, int host);

/* Milliseconds of a monotonic clock once `st` is idle (per-step timing). */
double sfc_clock_ms(cudaStream_t st);

#endif
