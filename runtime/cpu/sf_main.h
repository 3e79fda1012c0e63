/* sf_main.h - the program of a generated model (sf_main.c), driven by a
 * description of the model that <model>_main.c fills in. */
#ifndef SF_MAIN_H
#define SF_MAIN_H

#include <stddef.h>

/* A graph input or output: dims[0] is the maximum batch. */
typedef struct {
    const char *name;
    int rank;
    long long dims[8];
    long long index_rows; /* > 0: embedding indices, integers in [0, index_rows) */
} sf_io_desc;

/* <model>_run_arrays (or <model>_cuda_run_arrays) */
typedef int (*sf_run_arrays_fn)(const float *const *in, float *const *out, int batch, void *arena,
                                double *step_ms, float *cache, int cache_len);

typedef struct {
    const char *name; /* the model */
    const sf_io_desc *inputs, *outputs;
    int nin, nout; /* at most 64 each */
    int max_batch;
    size_t arena_bytes;
    int default_threads; /* 0: OpenMP's default */
    int nsteps;
    const char *const *step_names, *const *step_kernels;
    const double *step_flops;     /* per batch item */
    int cache_tokens, cache_step; /* key/value cache; 0 0: none */
    size_t cache_bytes;
    sf_run_arrays_fn run;
    const char *(*strerror)(int code);
    /* --external-weights: reads the blob (NULL: the blob is linked in) */
    int (*load_weights)(const char *path);
    const char *weights_file; /* its default name, beside the program */
} sf_model_desc;

/* The command line of docs/GENERATED_API.md; returns the exit code. */
int sf_main(int argc, char **argv, const sf_model_desc *m);

#endif
