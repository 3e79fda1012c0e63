/* fuzz_model.c - model JSON loader and verifier, then the whole pipeline,
 * against a fixed weights file (fuzz_common.h). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t wsize;
    const unsigned char *weights = fuzz_setup(&wsize);
    sf_arena a;
    sf_arena_init(&a);
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    sf_desc d;
    sf_safetensors st;
    sf_graph g;
    if (sf_load_json_text(&a, "fuzz.json", text, size, &d) == SF_OK &&
        sf_parse_safetensors(&a, "fuzz.safetensors", weights, wsize, &st) == SF_OK) {
        memset(&g, 0, sizeof g);
        sf_arena_init(&g.arena);
        sf_weights w = sf_safetensors_weights(&st);
        if (sf_graph_build(&d, &w, &g) == SF_OK)
            fuzz_pipeline(&g, size > 0 ? data[size - 1] & 7 : 0); /* CPU only */
    }
    free(text);
    sf_arena_free(&a);
    return 0;
}
