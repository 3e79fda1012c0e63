/* sf_npy.c - reads and writes .npy version 1-3 files holding '<f4' arrays. */
#define _POSIX_C_SOURCE 200809L
#include "sf_npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NPY_MAX_HEADER 65536
#define NPY_MAX_NUMEL  ((size_t)1 << 40)

static int fail(char *err, size_t n, const char *path, const char *msg)
{
    snprintf(err, n, "%s: %s", path, msg);
    return -1;
}

/* The header dict, a Python literal of a fixed small grammar (docs/CLI.md,
 * "The generated program"):
 *
 *   dict  := '{' [ entry { ',' entry } [ ',' ] ] '}'   then blanks to the end
 *   entry := key ':' value     key: 'descr' | 'fortran_order' | 'shape', each once
 *   descr: a quoted string; fortran_order: True | False (whole words);
 *   shape: '(' ')' | '(' int ',' ')' | '(' int { ',' int } [ ',' ] ')'
 *
 * with blanks between tokens. Anything else, an unknown key included, is
 * rejected, as numpy's own reader does. */
typedef struct {
    const char *s;
    size_t n, i;
    char *err;
    size_t errlen;
    const char *path;
} hdr_p;

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_blanks(hdr_p *p)
{
    while (p->i < p->n && is_blank(p->s[p->i]))
        p->i++;
}

static int syntax(hdr_p *p, const char *what)
{
    char m[160];
    snprintf(m, sizeof m, "header is not a valid .npy dict: %s at offset %zu", what, p->i);
    return fail(p->err, p->errlen, p->path, m);
}

/* Consumes `c` after blanks. */
static int expect(hdr_p *p, char c)
{
    skip_blanks(p);
    if (p->i < p->n && p->s[p->i] == c) {
        p->i++;
        return 1;
    }
    return 0;
}

/* A quoted string without escapes; *s and *len point into the header. */
static int quoted(hdr_p *p, const char **s, size_t *len)
{
    skip_blanks(p);
    if (p->i >= p->n || (p->s[p->i] != '\'' && p->s[p->i] != '"'))
        return syntax(p, "expected a quoted string");
    char q = p->s[p->i++];
    size_t b = p->i;
    while (p->i < p->n && p->s[p->i] != q) {
        if (p->s[p->i] == '\\' || p->s[p->i] == '\n')
            return syntax(p, "escapes and line breaks are not allowed in strings");
        p->i++;
    }
    if (p->i >= p->n)
        return syntax(p, "unterminated string");
    *s = p->s + b;
    *len = p->i - b;
    p->i++;
    return 0;
}

static int is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* True or False as a whole word. */
static int boolean(hdr_p *p, int *v)
{
    skip_blanks(p);
    size_t b = p->i;
    while (p->i < p->n && is_word(p->s[p->i]))
        p->i++;
    size_t len = p->i - b;
    if (len == 4 && !memcmp(p->s + b, "True", 4))
        *v = 1;
    else if (len == 5 && !memcmp(p->s + b, "False", 5))
        *v = 0;
    else {
        p->i = b;
        return syntax(p, "fortran_order is not True or False");
    }
    return 0;
}

/* A decimal integer 0..2^31-1 without sign, leading zeros or suffix. */
static int integer(hdr_p *p, int64_t *v)
{
    skip_blanks(p);
    size_t b = p->i;
    int64_t x = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        x = x * 10 + (p->s[p->i] - '0');
        if (x > 2147483647LL)
            return syntax(p, "shape dimension too large");
        p->i++;
    }
    if (p->i == b || (p->i - b > 1 && p->s[b] == '0') || (p->i < p->n && is_word(p->s[p->i]))) {
        p->i = b;
        return syntax(p, "expected a shape dimension (a non-negative integer)");
    }
    *v = x;
    return 0;
}

static int shape(hdr_p *p, sf_npy *out)
{
    if (!expect(p, '('))
        return syntax(p, "shape is not a tuple");
    if (expect(p, ')'))
        return 0; /* () : a scalar */
    for (;;) {
        if (out->rank >= SF_NPY_MAX_RANK)
            return fail(p->err, p->errlen, p->path, "bad shape in header: rank above 8");
        if (integer(p, &out->dims[out->rank]))
            return -1;
        out->rank++;
        if (expect(p, ')')) {
            if (out->rank == 1) /* (8) is an int, not a tuple */
                return syntax(p, "a one-dimension shape needs a trailing comma");
            return 0;
        }
        if (!expect(p, ','))
            return syntax(p, "expected ',' or ')' in shape");
        if (expect(p, ')'))
            return 0;
    }
}

/* Parses the header text h[0..n) into out (rank, dims, numel). */
static int parse_dict(const char *path, const char *h, size_t n, sf_npy *out, char *err,
                      size_t errlen)
{
    static const char *const keys[3] = {"descr", "fortran_order", "shape"};
    hdr_p p = {h, n, 0, err, errlen, path};
    int seen[3] = {0, 0, 0}, fortran = 0;
    const char *descr = NULL;
    size_t descr_len = 0;
    if (!expect(&p, '{'))
        return syntax(&p, "expected '{'");
    while (!expect(&p, '}')) {
        const char *k;
        size_t klen;
        if (quoted(&p, &k, &klen))
            return -1;
        int which = -1;
        for (int j = 0; j < 3; j++)
            if (strlen(keys[j]) == klen && !memcmp(keys[j], k, klen))
                which = j;
        if (which < 0) {
            char m[160];
            snprintf(m, sizeof m,
                     "header key '%.*s' is not one of 'descr', 'fortran_order', 'shape'",
                     klen > 32 ? 32 : (int)klen, k);
            return fail(err, errlen, path, m);
        }
        if (seen[which]) {
            char m[96];
            snprintf(m, sizeof m, "header key '%s' appears twice", keys[which]);
            return fail(err, errlen, path, m);
        }
        seen[which] = 1;
        if (!expect(&p, ':'))
            return syntax(&p, "expected ':'");
        if (which == 0   ? quoted(&p, &descr, &descr_len)
            : which == 1 ? boolean(&p, &fortran)
                         : shape(&p, out))
            return -1;
        if (expect(&p, '}'))
            break;
        if (!expect(&p, ','))
            return syntax(&p, "expected ',' or '}'");
    }
    skip_blanks(&p);
    if (p.i != p.n)
        return syntax(&p, "text after the dict");
    for (int j = 0; j < 3; j++)
        if (!seen[j]) {
            char m[64];
            snprintf(m, sizeof m, "header has no '%s'", keys[j]);
            return fail(err, errlen, path, m);
        }
    if (descr_len != 3 || memcmp(descr, "<f4", 3) != 0) {
        char m[160];
        snprintf(m, sizeof m, "dtype '%.*s' is not supported: expected float32 ('<f4')",
                 descr_len > 16 ? 16 : (int)descr_len, descr);
        return fail(err, errlen, path, m);
    }
    if (fortran)
        return fail(err, errlen, path, "fortran_order arrays are not supported: save in C order");
    size_t numel = 1;
    for (int d = 0; d < out->rank; d++) {
        size_t v = (size_t)out->dims[d];
        if (v && numel > NPY_MAX_NUMEL / v)
            return fail(err, errlen, path, "array too large");
        numel *= v;
    }
    out->numel = numel;
    return 0;
}

/* The fixed part: magic, version, header length. Needs len >= 12 or the whole
 * file. Sets *start and *hlen (the header text's offset and length). */
static int preamble(const char *path, const unsigned char *buf, size_t len, size_t *start,
                    size_t *hlen, char *err, size_t errlen)
{
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return fail(err, errlen, path, "not a .npy file (bad magic)");
    if (buf[6] == 1) {
        *hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        *start = 10;
    } else if (buf[6] == 2 || buf[6] == 3) {
        if (len < 12)
            return fail(err, errlen, path, "truncated header");
        *hlen =
            (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        *start = 12;
    } else {
        return fail(err, errlen, path, "unsupported .npy version");
    }
    if (*hlen > NPY_MAX_HEADER)
        return fail(err, errlen, path, "header too large");
    return 0;
}

/* Data bytes present vs. declared. */
static int check_size(const char *path, size_t have, size_t numel, char *err, size_t errlen)
{
    if (have / sizeof(float) < numel)
        return fail(err, errlen, path, "file is shorter than its shape says (truncated)");
    if (have != numel * sizeof(float))
        return fail(err, errlen, path, "file is longer than its shape says");
    return 0;
}

int sf_npy_parse(const char *path, const unsigned char *buf, size_t len, sf_npy *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t pos, hlen;
    if (preamble(path, buf, len, &pos, &hlen, err, errlen))
        return -1;
    if (len - pos < hlen)
        return fail(err, errlen, path, "truncated header");
    if (parse_dict(path, (const char *)buf + pos, hlen, out, err, errlen) ||
        check_size(path, len - pos - hlen, out->numel, err, errlen))
        return -1;
    out->data = malloc(out->numel ? out->numel * sizeof(float) : 1);
    if (!out->data)
        return fail(err, errlen, path, "out of memory");
    if (out->numel)
        memcpy(out->data, buf + pos + hlen, out->numel * sizeof(float));
    return 0;
}

/* Reads exactly n bytes (fewer only at end of file); -1 on an error. */
static long long read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long long)got;
}

/* Opens without blocking (a FIFO would wait for a writer), then accepts a
 * regular file only, and reads no more than its header declares
 * (docs/CLI.md). */
int sf_npy_read(const char *path, sf_npy *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    unsigned char pre[12];
    char *hdr = NULL;
    size_t pos, hlen;
    long long got;
    int rc = -1;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(err, errlen, path, "not a regular file");
        goto done;
    }
    size_t size = (size_t)st.st_size;
    /* 10 bytes, 2 more for versions 2 and 3: then the header text starts */
    if ((got = read_full(fd, pre, size < 10 ? size : 10)) < 0)
        goto read_error;
    if (got == 10 && (pre[6] == 2 || pre[6] == 3)) {
        long long more = read_full(fd, pre + 10, size < 12 ? size - 10 : 2);
        if (more < 0)
            goto read_error;
        got += more;
    }
    if (preamble(path, pre, (size_t)got, &pos, &hlen, err, errlen))
        goto done;
    if (size < pos + hlen) {
        fail(err, errlen, path, "truncated header");
        goto done;
    }
    if (!(hdr = malloc(hlen + 1))) {
        fail(err, errlen, path, "out of memory");
        goto done;
    }
    if ((got = read_full(fd, hdr, hlen)) < 0)
        goto read_error;
    if ((size_t)got != hlen) {
        fail(err, errlen, path, "truncated header");
        goto done;
    }
    if (parse_dict(path, hdr, hlen, out, err, errlen) ||
        check_size(path, size - pos - hlen, out->numel, err, errlen))
        goto done;
    size_t bytes = out->numel * sizeof(float);
    if (!(out->data = malloc(bytes ? bytes : 1))) {
        fail(err, errlen, path, "out of memory");
        goto done;
    }
    unsigned char extra;
    if ((got = read_full(fd, out->data, bytes)) < 0)
        goto read_error;
    if ((size_t)got != bytes) { /* shrank since fstat */
        fail(err, errlen, path, "file is shorter than its shape says (truncated)");
        goto done;
    }
    if ((got = read_full(fd, &extra, 1)) != 0) { /* grew since fstat */
        if (got < 0)
            goto read_error;
        fail(err, errlen, path, "file is longer than its shape says");
        goto done;
    }
    rc = 0;
    goto done;
read_error:
    snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
done:
    if (rc) {
        free(out->data);
        out->data = NULL;
    }
    free(hdr);
    close(fd);
    return rc;
}

/* A new file beside `path` (same folder, so rename() can replace path):
 * "<path>.tmp<pid>-<k>", created exclusively with the usual 0666 & ~umask. */
static int create_temp(const char *path, char *tmp, size_t tmplen)
{
    static unsigned counter;
    for (int tries = 0; tries < 100; tries++) {
        int n = snprintf(tmp, tmplen, "%s.tmp%ld-%u", path, (long)getpid(), counter++);
        if (n < 0 || (size_t)n >= tmplen) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

static int write_all(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const char *)buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += (size_t)w;
    }
    return 0;
}

int sf_npy_write_temp(const char *path, const float *data, int rank, const int64_t *dims, char *tmp,
                      size_t tmplen, char *err, size_t errlen)
{
    char head[320];
    int n = snprintf(head + 10, sizeof head - 10,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t numel = 1;
    for (int i = 0; i < rank; i++) {
        n += snprintf(head + 10 + n, sizeof head - 10 - (size_t)n, "%lld,%s", (long long)dims[i],
                      i + 1 < rank ? " " : "");
        numel *= (size_t)dims[i];
    }
    n += snprintf(head + 10 + n, sizeof head - 10 - (size_t)n, "), }");
    /* pad with spaces so that data starts at a multiple of 64; end with \n */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    head[8] = (char)(hlen & 0xff);
    head[9] = (char)(hlen >> 8);
    memset(head + 10 + n, ' ', pad);
    head[10 + hlen - 1] = '\n';
    int fd = create_temp(path, tmp, tmplen);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        tmp[0] = 0;
        return -1;
    }
    int ok = write_all(fd, head, 10 + hlen) == 0 && write_all(fd, data, numel * sizeof(float)) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(e));
        unlink(tmp);
        tmp[0] = 0;
        return -1;
    }
    return 0;
}

int sf_npy_write(const char *path, const float *data, int rank, const int64_t *dims, char *err,
                 size_t errlen)
{
    char tmp[4096 + 64];
    if (sf_npy_write_temp(path, data, rank, dims, tmp, sizeof tmp, err, errlen))
        return -1;
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot replace: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
