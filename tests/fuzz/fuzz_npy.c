/* fuzz_npy.c - the generated program's .npy reader. */
#include <stdint.h>
#include <stdlib.h>

#include "sf_npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sf_npy npy;
    char err[512];
    if (sf_npy_parse("fuzz.npy", data, size, &npy, err, sizeof err) == 0) {
        size_t n = 1;
        for (int i = 0; i < npy.rank; i++)
            n *= (size_t)npy.dims[i];
        if (n != npy.numel)
            abort();
        if (n) { /* the whole array is readable */
            volatile float last = npy.data[n - 1];
            (void)last;
        }
        free(npy.data);
    }
    return 0;
}
