/* generate.c - text generation with a key/value cache, on two models that
 * sfgen generated from one GPT-2 export: gpt2_prompt runs GPT2_PROMPT_CACHE_STEP
 * tokens per call (the prompt), gpt2_step runs one (a decode step). Both
 * append to one cache, so the prompt is read once and each new token costs
 * one step over the weights.
 *
 *   generate IDS.npy N [LOGITS.npy [OUT_IDS.npy]]
 *
 * IDS.npy: token ids [B, L] as float32 with L >= GPT2_PROMPT_CACHE_STEP. The
 * first GPT2_PROMPT_CACHE_STEP go through gpt2_prompt, the rest one at a time
 * through gpt2_step; then N tokens are generated greedily (argmax). Writes the
 * logits of every position run [B, L + N, vocab] and the ids [B, L + N + 1]
 * (the given ones, then the generated ones), and prints the decode speed.
 */
#define _POSIX_C_SOURCE 200809L
#include "gpt2_prompt.h"
#include "gpt2_step.h"
#include "sf_npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(GPT2_PROMPT_CACHE_LAYOUT == GPT2_STEP_CACHE_LAYOUT,
               "gpt2_prompt and gpt2_step must come from the same export (cache length, batch)");
_Static_assert(GPT2_STEP_CACHE_STEP == 1, "gpt2_step must run one token per call");

#define P GPT2_PROMPT_CACHE_STEP
#define CTX GPT2_STEP_CACHE_TOKENS

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static float argmax(const float *x, size_t n)
{
    size_t best = 0;
    for (size_t j = 1; j < n; j++)
        best = x[j] > x[best] ? j : best;
    return (float)best;
}

static void *alloc64(size_t n)
{
    return aligned_alloc(64, (n + 63) / 64 * 64);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: generate IDS.npy N [LOGITS.npy [OUT_IDS.npy]]\n");
        return 2;
    }
    char err[512];
    sf_npy ids;
    if (sf_npy_read(argv[1], &ids, err, sizeof err)) {
        fprintf(stderr, "generate: %s\n", err);
        return 1;
    }
    char *end;
    long n_new = strtol(argv[2], &end, 10);
    int B = ids.rank == 2 ? (int)ids.dims[0] : 0, L = ids.rank == 2 ? (int)ids.dims[1] : 0;
    if (*end || n_new < 0 || B < 1 || B > GPT2_STEP_MAX_BATCH || L < P ||
        L + n_new > CTX) {
        fprintf(stderr, "generate: %s: expected ids [B <= %d, L >= %d] and L + N <= %d\n",
                argv[1], GPT2_STEP_MAX_BATCH, P, CTX);
        return 1;
    }
    const int T = L + (int)n_new; /* positions run */
    const size_t V = GPT2_STEP_head_FLOATS; /* the logits of one token */
    float *cache = alloc64(GPT2_STEP_CACHE_BYTES);
    void *arena = alloc64(GPT2_PROMPT_ARENA_BYTES > GPT2_STEP_ARENA_BYTES
                              ? GPT2_PROMPT_ARENA_BYTES : GPT2_STEP_ARENA_BYTES);
    float *logits = malloc((size_t)B * T * V * sizeof(float));
    float *seq = malloc((size_t)B * (T + 1) * sizeof(float));
    float *pl = malloc((size_t)B * P * V * sizeof(float)), pos[GPT2_STEP_MAX_BATCH * P];
    float tok[GPT2_STEP_MAX_BATCH], ptok[GPT2_STEP_MAX_BATCH * P];
    if (!cache || !arena || !logits || !seq || !pl) {
        fprintf(stderr, "generate: out of memory\n");
        return 3;
    }
    for (int b = 0; b < B; b++)
        memcpy(seq + (size_t)b * (T + 1), ids.data + (size_t)b * L, (size_t)L * sizeof(float));

    /* the prompt: positions 0..P-1 in one call */
    for (int b = 0; b < B; b++)
        for (int i = 0; i < P; i++) {
            ptok[b * P + i] = seq[(size_t)b * (T + 1) + i];
            pos[b * P + i] = (float)i;
        }
    double t0 = now_ms();
    int code = gpt2_prompt_run_cached(ptok, pos, pl, B, cache, 0, arena);
    double prompt_ms = now_ms() - t0;
    for (int b = 0; b < B && !code; b++)
        memcpy(logits + (size_t)b * T * V, pl + (size_t)b * P * V, (size_t)P * V * sizeof(float));

    for (int b = 0; b < B && !code && L == P; b++)
        seq[(size_t)b * (T + 1) + P] = argmax(logits + ((size_t)b * T + P - 1) * V, V);

    /* then one token per call: the rest of the given ones, then generated ones */
    double t1 = now_ms(), gen_ms = 0.0;
    for (int at = P; at < T && !code; at++) {
        if (at == L)
            t1 = now_ms(); /* decode speed counts generated tokens only */
        for (int b = 0; b < B; b++) {
            tok[b] = seq[(size_t)b * (T + 1) + at];
            pos[b] = (float)at;
        }
        code = gpt2_step_run_cached(tok, pos, pl, B, cache, at, arena);
        for (int b = 0; b < B && !code; b++) {
            float *row = logits + ((size_t)b * T + at) * V;
            memcpy(row, pl + (size_t)b * V, V * sizeof(float));
            if (at + 1 >= L)
                seq[(size_t)b * (T + 1) + at + 1] = argmax(row, V);
        }
    }
    gen_ms = now_ms() - t1;
    if (code) {
        fprintf(stderr, "generate: run failed: %s\n", gpt2_step_strerror(code));
        return 3;
    }
    printf("prompt: %d tokens x %d in %.2f ms; decode: %ld tokens x %d in %.2f ms "
           "(%.1f tokens/s per sequence)\n", P, B, prompt_ms, n_new, B, gen_ms,
           n_new && gen_ms > 0 ? n_new * 1e3 / gen_ms : 0.0);
    for (int b = 0; b < B; b++) {
        printf("sequence %d:", b);
        for (int i = 0; i <= T; i++)
            printf(" %d", (int)seq[(size_t)b * (T + 1) + i]);
        printf("\n");
    }
    int64_t ldims[3] = {B, T, (int64_t)V}, idims[2] = {B, T + 1};
    if ((argc > 3 && sf_npy_write(argv[3], logits, 3, ldims, err, sizeof err)) ||
        (argc > 4 && sf_npy_write(argv[4], seq, 2, idims, err, sizeof err))) {
        fprintf(stderr, "generate: %s\n", err);
        return 1;
    }
    free(ids.data);
    free(cache);
    free(arena);
    free(logits);
    free(seq);
    free(pl);
    return 0;
}
