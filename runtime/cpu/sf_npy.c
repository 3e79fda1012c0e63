/* sf_npy.c - reads and writes .npy version 1-3 files holding '<f4' arrays. */
#include "sf_npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAX_HEADER 65536

static int fail(char *err, size_t n, const char *path, const char *msg)
{
    snprintf(err, n, "%s: %s", path, msg);
    return -1;
}

/* Finds the value text after 'key': in the header dict. */
static const char *dict_value(const char *h, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

int sf_npy_parse(const char *path, const unsigned char *buf, size_t len, sf_npy *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *hdr = NULL;
    int rc = -1;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        fail(err, errlen, path, "not a .npy file (bad magic)");
        goto done;
    }
    size_t hlen, pos;
    if (buf[6] == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        pos = 10;
    } else if (buf[6] == 2 || buf[6] == 3) {
        if (len < 12) {
            fail(err, errlen, path, "truncated header");
            goto done;
        }
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        pos = 12;
    } else {
        fail(err, errlen, path, "unsupported .npy version");
        goto done;
    }
    if (hlen > NPY_MAX_HEADER) {
        fail(err, errlen, path, "header too large");
        goto done;
    }
    if (len - pos < hlen) {
        fail(err, errlen, path, "truncated header");
        goto done;
    }
    hdr = malloc(hlen + 1);
    if (!hdr) {
        fail(err, errlen, path, "out of memory");
        goto done;
    }
    memcpy(hdr, buf + pos, hlen);
    hdr[hlen] = 0;
    pos += hlen;
    const char *d = dict_value(hdr, "descr");
    if (!d || strncmp(d, "'<f4'", 5) != 0) {
        char m[160];
        int n = 0;
        if (d && *d == '\'')
            while (d[1 + n] && d[1 + n] != '\'' && n < 16)
                n++;
        snprintf(m, sizeof m, "dtype '%.*s' is not supported: expected float32 ('<f4')", n,
                 d && *d == '\'' ? d + 1 : "");
        fail(err, errlen, path, m);
        goto done;
    }
    const char *fo = dict_value(hdr, "fortran_order");
    if (!fo) {
        fail(err, errlen, path, "header has no fortran_order");
        goto done;
    }
    if (strncmp(fo, "False", 5) != 0) {
        fail(err, errlen, path, "fortran_order arrays are not supported: save in C order");
        goto done;
    }
    const char *s = dict_value(hdr, "shape");
    if (!s || *s != '(') {
        fail(err, errlen, path, "header has no shape");
        goto done;
    }
    s++;
    size_t numel = 1;
    for (;;) {
        while (*s == ' ' || *s == ',')
            s++;
        if (*s == ')')
            break;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno || v < 0 || v > 2147483647LL || out->rank >= SF_NPY_MAX_RANK) {
            fail(err, errlen, path, "bad shape in header");
            goto done;
        }
        if (v && numel > ((size_t)1 << 40) / (size_t)v) {
            fail(err, errlen, path, "array too large");
            goto done;
        }
        out->dims[out->rank++] = v;
        numel *= (size_t)v;
        s = end;
    }
    out->numel = numel;
    if ((len - pos) / sizeof(float) < numel) {
        fail(err, errlen, path, "file is shorter than its shape says (truncated)");
        goto done;
    }
    if (len - pos != numel * sizeof(float)) {
        fail(err, errlen, path, "file is longer than its shape says");
        goto done;
    }
    out->data = malloc(numel ? numel * sizeof(float) : 1);
    if (!out->data) {
        fail(err, errlen, path, "out of memory");
        goto done;
    }
    if (numel)
        memcpy(out->data, buf + pos, numel * sizeof(float));
    rc = 0;
done:
    free(hdr);
    return rc;
}

int sf_npy_read(const char *path, sf_npy *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, n;
    int rc = -1;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 65536;
            unsigned char *nb = ncap > ((size_t)1 << 42) ? NULL : realloc(buf, ncap);
            if (!nb) {
                fail(err, errlen, path, "out of memory");
                goto done;
            }
            buf = nb;
            cap = ncap;
        }
        n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fail(err, errlen, path, "read error");
        goto done;
    }
    rc = sf_npy_parse(path, buf, len, out, err, errlen);
done:
    free(buf);
    fclose(f);
    return rc;
}

int sf_npy_write(const char *path, const float *data, int rank, const int64_t *dims, char *err,
                 size_t errlen)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t numel = 1;
    for (int i = 0; i < rank; i++) {
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld,%s", (long long)dims[i],
                      i + 1 < rank ? " " : "");
        numel *= (size_t)dims[i];
    }
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    /* pad with spaces so that data starts at a multiple of 64; end with \n */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    unsigned char pre[10] = {0x93,
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)n, f) == (size_t)n;
    for (size_t i = 0; i < pad && ok; i++)
        ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && fwrite(data, sizeof(float), numel, f) == numel;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
