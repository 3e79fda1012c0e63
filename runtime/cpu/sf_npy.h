/* sf_npy.h - NumPy .npy files (little-endian float32, C order) for the
 * generated program. Errors are reported as text in `err`. */
#ifndef SF_NPY_H
#define SF_NPY_H

#include <stddef.h>
#include <stdint.h>

#define SF_NPY_MAX_RANK 8

typedef struct {
    int rank;
    int64_t dims[SF_NPY_MAX_RANK];
    size_t numel;
    float *data; /* malloc'd; free() it */
} sf_npy;

/* 0 on success; -1 with a message (naming the file) in err. */
int sf_npy_read(const char *path, sf_npy *out, char *err, size_t errlen);
/* The same for a file image in memory; `path` only names it in messages. */
int sf_npy_parse(const char *path, const unsigned char *buf, size_t len, sf_npy *out, char *err,
                 size_t errlen);
/* Writes a complete .npy to a new temporary file beside `path` and puts its
 * name in tmp; the caller renames it over `path` (or unlinks it). On failure
 * nothing is left behind. */
int sf_npy_write_temp(const char *path, const float *data, int rank, const int64_t *dims, char *tmp,
                      size_t tmplen, char *err, size_t errlen);
/* sf_npy_write_temp, then rename: `path` is replaced whole or not at all. */
int sf_npy_write(const char *path, const float *data, int rank, const int64_t *dims, char *err,
                 size_t errlen);

#endif
