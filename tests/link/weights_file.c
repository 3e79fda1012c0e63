/* weights_file.c - mlpa generated with --external-weights: mlpa_run before
 * any blob was read, mlpa_load_weights on a missing file, a folder, another
 * model's blob and a truncated blob (each an error, the model still without
 * weights), then on the right blob; writes the output.
 * usage: weights_file RIGHT OTHER TRUNCATED FOLDER X Y */
#include "mlpa.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

_Static_assert(MLPA_EXTERNAL_WEIGHTS == 1, "generated with --external-weights");

static int failed;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "PASS" : "FAIL", what);
    failed += !ok;
}

int main(int argc, char **argv)
{
    if (argc != 7)
        return 2;
    const size_t n = (size_t)MLPA_MAX_BATCH * MLPA_x_FLOATS,
                 m = (size_t)MLPA_MAX_BATCH * MLPA_y_FLOATS;
    float *x = malloc(n * sizeof *x), *y = malloc(m * sizeof *y);
    FILE *f = fopen(argv[5], "rb");
    if (!x || !y || !f || fread(x, sizeof *x, n, f) != n)
        return 1;
    fclose(f);
    check(mlpa_run(x, y, MLPA_MAX_BATCH, NULL) == MLPA_EWEIGHTS, "run before loading: EWEIGHTS");
    errno = 0;
    check(mlpa_load_weights("/nonexistent/mlpa.weights") == MLPA_EFILE && errno == ENOENT,
          "missing file: EFILE, errno ENOENT");
    check(mlpa_load_weights(argv[4]) == MLPA_EFILE, "a folder: EFILE");
    check(mlpa_load_weights(argv[2]) == MLPA_EWEIGHTS, "another model's blob: EWEIGHTS");
    check(mlpa_load_weights(argv[3]) == MLPA_EWEIGHTS, "a truncated blob: EWEIGHTS");
    check(mlpa_load_weights(NULL) == MLPA_ENULL, "NULL path: ENULL");
    check(mlpa_run(x, y, MLPA_MAX_BATCH, NULL) == MLPA_EWEIGHTS, "still no weights: EWEIGHTS");
    check(mlpa_load_weights(argv[1]) == MLPA_OK, "the right blob: OK");
    check(mlpa_run(x, y, MLPA_MAX_BATCH, NULL) == MLPA_OK, "run after loading: OK");
    check(mlpa_load_weights(argv[2]) == MLPA_EWEIGHTS &&
              mlpa_run(x, y, MLPA_MAX_BATCH, NULL) == MLPA_OK,
          "a failed load keeps the blob read before");
    f = fopen(argv[6], "wb");
    if (!f || fwrite(y, sizeof *y, m, f) != m || fclose(f))
        return 1;
    return failed ? 1 : 0;
}
