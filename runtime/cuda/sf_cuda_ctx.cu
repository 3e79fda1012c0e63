/* sf_cuda_ctx.cu - the context of a generated model (sf_cuda_ctx.cuh): the
 * part of every model's CUDA library that only the sizes tell apart, read
 * from the sfc_model that <model>.cu fills in. Host code only; the model's
 * launches come in through sfc_model.steps. */
#include "sf_cuda.cuh"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A call already checked (sfc_fail_if, the steps): a failure is SFC_ECUDA. */
#define CTX_TRY(call)         \
    do {                      \
        if ((call) != 0)      \
            return SFC_ECUDA; \
    } while (0)

int sfc_blob_ok(const sfc_model *m)
{
    sfc_blob_header h;
    memcpy(&h, m->blob, sizeof h);
    return memcmp(h.magic, "SFWB", 4) == 0 && h.version == m->blob_version &&
           h.size == m->blob_bytes && h.mask_hash == m->mask_hash;
}

static int ctx_alloc(sfc_ctx *c, void *stream)
{
    const sfc_model *m = c->m;
    SFC_TRY(cudaSetDevice(c->device));
    if (stream) {
        c->stream = (cudaStream_t)stream;
    } else {
        SFC_TRY(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking));
        c->own_stream = 1;
    }
    SFC_TRY_BLAS(cublasCreate(&c->blas));
    SFC_TRY_BLAS(cublasSetStream(c->blas, c->stream));
    SFC_TRY(cudaMalloc((void **)&c->w, m->blob_bytes));
    SFC_TRY(cudaMemcpy(c->w, m->blob, m->blob_bytes, cudaMemcpyHostToDevice));
    SFC_TRY(cudaMalloc((void **)&c->arena, m->arena_bytes ? m->arena_bytes : 1));
    SFC_TRY(cudaMalloc((void **)&c->scratch, m->scratch_bytes ? m->scratch_bytes : 1));
    SFC_TRY(cudaMalloc((void **)&c->bad, sizeof(int)));
    SFC_TRY(cudaMemset(c->bad, 0, sizeof(int)));
    if (m->cache_bytes) {
        SFC_TRY(cudaMalloc((void **)&c->cache, m->cache_bytes));
        SFC_TRY(cudaMemset(c->cache, 0, m->cache_bytes));
    }
    c->io = (float **)calloc((size_t)(m->nin + m->nout), sizeof *c->io);
    if (!c->io)
        return sfc_fail(__FILE__, __LINE__, "calloc", "out of host memory");
    for (int i = 0; i < m->nin + m->nout; i++) {
        size_t n = i < m->nin ? m->in_floats[i] : m->out_floats[i - m->nin];
        SFC_TRY(cudaMalloc((void **)&c->io[i], n * m->max_batch * sizeof(float)));
    }
    return 0;
}

int sfc_ctx_init(sfc_ctx *c, const sfc_model *m, int device, void *stream)
{
    c->m = m;
    c->device = device;
    sfc_clear_error();
    if (ctx_alloc(c, stream)) {
        sfc_ctx_release(c);
        return SFC_ECUDA;
    }
    return SFC_OK;
}

void sfc_ctx_release(sfc_ctx *c)
{
    cudaSetDevice(c->device);
    if (c->stream)
        cudaStreamSynchronize(c->stream);
    if (c->io)
        for (int i = 0; i < c->m->nin + c->m->nout; i++)
            cudaFree(c->io[i]);
    free(c->io);
    cudaFree(c->cache);
    cudaFree(c->bad);
    cudaFree(c->scratch);
    cudaFree(c->arena);
    cudaFree(c->w);
    if (c->blas)
        cublasDestroy(c->blas);
    if (c->own_stream)
        cudaStreamDestroy(c->stream);
}

int sfc_ctx_sync(sfc_ctx *c)
{
    int bad = 0;
    if (!c)
        return SFC_ENULL;
    CTX_TRY(
        sfc_fail_if(cudaMemcpyAsync(&bad, c->bad, sizeof bad, cudaMemcpyDeviceToHost, c->stream),
                    __FILE__, __LINE__));
    CTX_TRY(sfc_fail_if(cudaStreamSynchronize(c->stream), __FILE__, __LINE__));
    if (bad) {
        CTX_TRY(
            sfc_fail_if(cudaMemsetAsync(c->bad, 0, sizeof(int), c->stream), __FILE__, __LINE__));
        return SFC_EINDEX;
    }
    return SFC_OK;
}

int sfc_ctx_run(sfc_ctx *c, const float *const *in, float *const *out, int batch, double *step_ms,
                int cached, int cache_len, int host)
{
    sfc_clear_error(); /* <model>_cuda_strerror reports this call's failure */
    if (!c || !in || !out)
        return SFC_ENULL;
    const sfc_model *m = c->m;
    if (batch < 1 || batch > m->max_batch)
        return SFC_EBATCH;
    for (int i = 0; i < m->nin; i++)
        if (!in[i])
            return SFC_ENULL;
    for (int i = 0; i < m->nout; i++)
        if (!out[i])
            return SFC_ENULL;
    if (m->cache_tokens && cached && (cache_len < 0 || cache_len > m->cache_tokens - m->cache_step))
        return SFC_ECACHE;
    if (!host)
        return m->steps(c, in, out, batch, step_ms, cached, cache_len) ? SFC_ECUDA : SFC_OK;
    /* The context's buffers: inputs first, then outputs. */
    const float *const *din = c->io;
    float *const *dout = c->io + m->nin;
    for (int i = 0; i < m->nin; i++)
        CTX_TRY(
            sfc_fail_if(cudaMemcpyAsync(c->io[i], in[i], m->in_floats[i] * batch * sizeof(float),
                                        cudaMemcpyHostToDevice, c->stream),
                        __FILE__, __LINE__));
    CTX_TRY(m->steps(c, din, dout, batch, step_ms, cached, cache_len));
    for (int i = 0; i < m->nout; i++)
        CTX_TRY(
            sfc_fail_if(cudaMemcpyAsync(out[i], dout[i], m->out_floats[i] * batch * sizeof(float),
                                        cudaMemcpyDeviceToHost, c->stream),
                        __FILE__, __LINE__));
    return sfc_ctx_sync(c);
}

double sfc_clock_ms(cudaStream_t st)
{
    struct timespec ts;
    cudaStreamSynchronize(st);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}
