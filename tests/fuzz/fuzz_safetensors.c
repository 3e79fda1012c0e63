/* fuzz_safetensors.c - the safetensors reader: header parsing, every bound
 * check, and conversion of each accepted tensor to f32. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_diag_set_sink(fuzz_quiet, NULL);
    sf_arena a;
    sf_arena_init(&a);
    unsigned char *img = malloc(size ? size : 1);
    memcpy(img, data, size);
    sf_safetensors st;
    if (sf_parse_safetensors(&a, "fuzz.safetensors", img, size, &st) == SF_OK) {
        for (int i = 0; i < st.ntensors; i++) {
            /* accepted: its bytes lie inside the file, so numel <= size */
            float *f = malloc(st.tensors[i].numel * sizeof(float) + 1);
            sf_tensor_to_f32(&st.tensors[i], f);
            free(f);
            if (sf_safetensors_find(&st, st.tensors[i].name) == NULL)
                abort();
        }
    }
    free(img);
    sf_arena_free(&a);
    return 0;
}
