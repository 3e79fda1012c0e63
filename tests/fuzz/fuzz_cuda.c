/* fuzz_cuda.c - `--target cuda` planning, packing and emitting (no GPU: it
 * runs the generator only). The first byte holds the options (fuzz_opts in
 * fuzz_common.h; --target cuda is always on), the rest is a model JSON.
 *
 * After packing, every linear layer's GPU sections are decoded from the blob
 * and compared with the weights the layer computes with (SPA-dead columns
 * zero, values rounded to the GPU dtype): dense rows, the 2:4 tiles through
 * the sp24 decoder, and the ELL slots (docs/FORMATS.md, "GPU sections").
 * A difference aborts, which libFuzzer reports as a crash. */
#include "backends/cuda/sp24.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void mismatch(const sf_linear *L, const char *what, int64_t r, int64_t k, float got,
                     float want)
{
    fprintf(stderr, "fuzz_cuda: layer '%s' (%s): W[%lld][%lld] packs as %g, expected %g\n",
            L->weight_name ? L->weight_name : "?", what, (long long)r, (long long)k, got, want);
    abort();
}

static float value_at(const unsigned char *p, sf_gpu_dtype dt, size_t i)
{
    if (dt == SF_GPU_F32) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return sf_half_to_f32(dt == SF_GPU_BF16 ? SF_HALF_BF16 : SF_HALF_F16, h);
}

static float rounded(sf_gpu_dtype dt, float v)
{
    if (dt == SF_GPU_F32)
        return v;
    sf_half_kind k = dt == SF_GPU_BF16 ? SF_HALF_BF16 : SF_HALF_F16;
    return sf_half_to_f32(k, sf_f32_to_half(k, v));
}

/* Decodes one layer's sections into dense [O][Kp] and compares. */
static void check_layer(const sf_graph *g, const sf_linear *L, const sf_blob *blob)
{
    const sf_gplan *gp = sf_cuda_gplan(g, L);
    const sf_gpu_dtype dt = g->gpu_dtype;
    const unsigned char *base = (const unsigned char *)blob->data.data;
    const int64_t O = L->out, K = L->in, Kp = gp->Kp;
    unsigned char *colmask = calloc((size_t)K, 1);
    float *dec = calloc((size_t)(gp->Op > O ? gp->Op : O) * (size_t)Kp, sizeof *dec);
    if (!colmask || !dec)
        abort();
    sf_plan_col_mask(sf_cpu_plan(g, L), colmask);
    if (gp->kernel == SF_G_DENSE) {
        for (int64_t i = 0; i < O * Kp; i++)
            dec[i] = value_at(base + gp->off_w, dt, (size_t)i);
    } else if (gp->kernel == SF_G_SP24) {
        if (dt == SF_GPU_F32 ||
            sf_sp24_decode((const uint16_t *)(const void *)(base + gp->off_w),
                           (const uint32_t *)(const void *)(base + gp->off_idx), gp->Op, Kp,
                           dt == SF_GPU_BF16 ? SF_HALF_BF16 : SF_HALF_F16, dec))
            mismatch(L, "sp24 metadata", 0, 0, 0.0f, 0.0f);
    } else {
        const int64_t OP = (O + 31) / 32 * 32, S8 = (gp->slots + 7) / 8 * 8;
        for (int64_t r = 0; r < O; r++)
            for (int64_t s = 0; s < S8; s++) {
                const size_t at = (size_t)((s / 8 * OP + r) * 8 + s % 8);
                float v = value_at(base + gp->off_w, dt, at);
                const unsigned char *ip = base + gp->off_idx + at * (size_t)gp->idx_bytes;
                int64_t idx = gp->idx_bytes == 1 ? ip[0] : 0;
                if (gp->idx_bytes == 2) {
                    uint16_t u;
                    memcpy(&u, ip, 2);
                    idx = u;
                } else if (gp->idx_bytes == 4) {
                    int32_t u;
                    memcpy(&u, ip, 4);
                    idx = u;
                }
                int64_t col = gp->group_n ? s / gp->group_n * gp->group_m + idx : idx;
                if (v == 0.0f)
                    continue; /* unused slots hold 0 */
                if (col < 0 || col >= K || dec[r * Kp + col] != 0.0f)
                    mismatch(L, "ell index", r, col, v, 0.0f);
                dec[r * Kp + col] = v;
            }
    }
    for (int64_t r = 0; r < O; r++)
        for (int64_t k = 0; k < Kp; k++) {
            float want = k < K && colmask[k] ? rounded(dt, L->w[r * K + k]) : 0.0f;
            if (dec[r * Kp + k] != want)
                mismatch(L, sf_gkernel_name(gp->kernel), r, k, dec[r * Kp + k], want);
        }
    for (int64_t r = 0; r < O; r++) {
        float b;
        memcpy(&b, base + gp->off_bias + 4 * (size_t)r, 4);
        if (b != (L->bias ? L->bias[r] : 0.0f))
            mismatch(L, "bias", r, -1, b, L->bias ? L->bias[r] : 0.0f);
    }
    free(dec);
    free(colmask);
}

static void check_blob(const sf_graph *g, const sf_blob *blob)
{
    for (int oi = 0; oi < g->nsteps; oi++) {
        const sf_linear *L = g->nodes[g->order[oi]].lin;
        if (L)
            check_layer(g, L, blob);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t wsize;
    const unsigned char *weights = fuzz_setup(&wsize);
    sf_arena a;
    sf_arena_init(&a);
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    sf_desc d;
    sf_safetensors st;
    sf_graph g;
    if (sf_load_json_text(&a, "fuzz.json", text, size - 1, &d) == SF_OK &&
        sf_parse_safetensors(&a, "fuzz.safetensors", weights, wsize, &st) == SF_OK) {
        memset(&g, 0, sizeof g);
        sf_arena_init(&g.arena);
        sf_weights w = sf_safetensors_weights(&st);
        if (sf_graph_build(&d, &w, &g) == SF_OK)
            fuzz_pipeline_check(&g, data[0] | 8, check_blob);
    }
    free(text);
    sf_arena_free(&a);
    return 0;
}
