/* cache_errors.c - argument checks of a generated <model>_run_cached, on the
 * gpt2_step model of run_models.py: ECACHE for a cache_len outside
 * 0..CACHE_TOKENS-CACHE_STEP and for a misaligned cache, ENULL for no cache,
 * and nothing written to the output then; OK at both ends of the range. */
#include "gpt2_step.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fails;

static void expect(int got, int want, const char *what)
{
    if (got != want) {
        printf("FAIL %s: got %d (%s), expected %d\n", what, got, gpt2_step_strerror(got), want);
        fails++;
    }
}

int main(void)
{
    float *cache = aligned_alloc(64, GPT2_STEP_CACHE_BYTES + 64);
    void *arena = aligned_alloc(64, GPT2_STEP_ARENA_BYTES);
    float *out = malloc(GPT2_STEP_head_FLOATS * sizeof(float));
    float ids[1] = {3}, pos[1] = {0};
    if (!cache || !arena || !out)
        return 2;
    memset(cache, 0, GPT2_STEP_CACHE_BYTES + 64);
    const int last = GPT2_STEP_CACHE_TOKENS - GPT2_STEP_CACHE_STEP;
    for (size_t i = 0; i < GPT2_STEP_head_FLOATS; i++)
        out[i] = NAN;
    expect(gpt2_step_run_cached(ids, pos, out, 1, cache, -1, arena), GPT2_STEP_ECACHE, "cache_len -1");
    expect(gpt2_step_run_cached(ids, pos, out, 1, cache, last + 1, arena), GPT2_STEP_ECACHE,
           "cache_len past the end");
    expect(gpt2_step_run_cached(ids, pos, out, 1, cache + 1, 0, arena), GPT2_STEP_ECACHE,
           "misaligned cache");
    expect(gpt2_step_run_cached(ids, pos, out, 1, NULL, 0, arena), GPT2_STEP_ENULL, "NULL cache");
    for (size_t i = 0; i < GPT2_STEP_head_FLOATS; i++)
        if (!isnan(out[i])) {
            printf("FAIL a rejected call wrote the output\n");
            fails++;
            break;
        }
    expect(gpt2_step_run_cached(ids, pos, out, 1, cache, 0, arena), GPT2_STEP_OK, "cache_len 0");
    pos[0] = (float)last;
    expect(gpt2_step_run_cached(ids, pos, out, 1, cache, last, arena), GPT2_STEP_OK, "last cache_len");
    printf("%s\n", fails ? "cache errors: FAIL" : "cache errors: ok");
    free(cache);
    free(arena);
    free(out);
    return fails != 0;
}
