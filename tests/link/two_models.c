/* two_models.c - two generated models, "mlpa" (linear layers) and "cnnb" (a
 * small CNN), linked into one program (run_link.py links it against both
 * static libraries, then both shared ones). Reads each model's input
 * (float32, its maximum batch) from a file, runs both with their own arenas
 * and with NULL (their static arenas), writes each output to a file.
 * usage: two_models XA YA XB YB; exit 0 when both runs agree. */
#include "cnnb.h"
#include "mlpa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *read_floats(const char *path, size_t n)
{
    float *p = malloc(n * sizeof *p);
    FILE *f = fopen(path, "rb");
    if (!p || !f || fread(p, sizeof *p, n, f) != n) {
        fprintf(stderr, "two_models: cannot read %zu floats from %s\n", n, path);
        exit(1);
    }
    fclose(f);
    return p;
}

static void write_floats(const char *path, const float *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, sizeof *p, n, f) != n || fclose(f)) {
        fprintf(stderr, "two_models: cannot write %s\n", path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 5)
        return 2;
    const size_t na = (size_t)MLPA_MAX_BATCH * MLPA_x_FLOATS,
                 ma = (size_t)MLPA_MAX_BATCH * MLPA_y_FLOATS;
    const size_t nb = (size_t)CNNB_MAX_BATCH * CNNB_img_FLOATS,
                 mb = (size_t)CNNB_MAX_BATCH * CNNB_logits_FLOATS;
    float *xa = read_floats(argv[1], na), *xb = read_floats(argv[3], nb);
    float *ya = malloc(ma * sizeof *ya), *yb = malloc(mb * sizeof *yb);
    float *ya2 = malloc(ma * sizeof *ya2), *yb2 = malloc(mb * sizeof *yb2);
    void *aa = aligned_alloc(64, (MLPA_ARENA_BYTES + 63) / 64 * 64);
    void *ab = aligned_alloc(64, (CNNB_ARENA_BYTES + 63) / 64 * 64);
    if (!ya || !yb || !ya2 || !yb2 || !aa || !ab)
        return 1;
    int rc[4] = {mlpa_run(xa, ya, MLPA_MAX_BATCH, aa), cnnb_run(xb, yb, CNNB_MAX_BATCH, ab),
                 mlpa_run(xa, ya2, MLPA_MAX_BATCH, NULL), cnnb_run(xb, yb2, CNNB_MAX_BATCH, NULL)};
    for (int i = 0; i < 4; i++)
        if (rc[i]) {
            fprintf(stderr, "two_models: run %d: %s\n", i,
                    i % 2 ? cnnb_strerror(rc[i]) : mlpa_strerror(rc[i]));
            return 1;
        }
    if (memcmp(ya, ya2, ma * sizeof *ya) || memcmp(yb, yb2, mb * sizeof *yb)) {
        fprintf(stderr, "two_models: the static arena gives other results\n");
        return 1;
    }
    write_floats(argv[2], ya, ma);
    write_floats(argv[4], yb, mb);
    printf("two_models: mlpa and cnnb ran\n");
    return 0;
}
