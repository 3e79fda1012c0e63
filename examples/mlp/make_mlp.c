/* make_mlp.c - weights, input and checks for the SparseFlow example MLP.
 *
 *   make_mlp OUTDIR              write OUTDIR/mlp.safetensors and OUTDIR/x.npy
 *   make_mlp --compare A B       max relative difference of two f32 .npy files;
 *                                exit 1 when it is above 1e-4
 *   make_mlp --show FILE         shape, first row and its argmax of an f32 .npy
 *
 * The model (examples/mlp/mlp.json):
 *   x [64, 784] -> fc1 784->1024 (2:4) -> gelu -> fc2 1024->1024 (1:4) -> relu
 *   -> fc3 1024->10 (dense) -> logits
 *
 * Everything is made from one fixed-seed PCG32 stream with integer and
 * correctly rounded (+ - * / sqrt) arithmetic only, and written byte by byte
 * in little-endian order, so the files are identical on every run and host.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 64
#define IN 784
#define HID 1024
#define NCLASS 10
#define CMP_TOL 1e-4

/* ---- deterministic numbers ---------------------------------------------- */

typedef struct {
    uint64_t state, inc;
} pcg32;

static uint32_t pcg32_next(pcg32 *r)
{
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xs = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xs >> rot) | (xs << ((32u - rot) & 31u));
}

static void pcg32_seed(pcg32 *r, uint64_t seed, uint64_t seq)
{
    r->state = 0;
    r->inc = seq << 1 | 1u;
    pcg32_next(r);
    r->state += seed;
    pcg32_next(r);
}

/* Uniform in [0, 1), 24 bits: exact in a float. */
static double uniform(pcg32 *r)
{
    return (double)(pcg32_next(r) >> 8) * (1.0 / 16777216.0);
}

/* Approximately N(0, 1): the sum of four uniforms has variance 1/3. */
static double normalish(pcg32 *r)
{
    double s = uniform(r) + uniform(r) + uniform(r) + uniform(r);
    return (s - 2.0) * 1.7320508075688772;
}

/* ---- weights -------------------------------------------------------------- */

/* Keep the n largest |w| in each group of m along the input (last) axis;
 * ties go to the lower index. */
static void prune_nm(float *w, int rows, int cols, int n, int m)
{
    for (int r = 0; r < rows; r++)
        for (int g = 0; g + m <= cols; g += m) {
            float *p = w + (size_t)r * (size_t)cols + (size_t)g;
            int keep[32] = {0};
            for (int k = 0; k < n; k++) {
                int best = -1;
                for (int j = 0; j < m; j++)
                    if (!keep[j] && (best < 0 || fabsf(p[j]) > fabsf(p[best])))
                        best = j;
                keep[best] = 1;
            }
            for (int j = 0; j < m; j++)
                if (!keep[j])
                    p[j] = 0.0f;
        }
}

typedef struct {
    const char *name;
    int rows, cols;   /* cols == 0: a vector of `rows` */
    int n, m;         /* N:M pattern; n == 0: dense */
    float *data;
} tensor;

static size_t numel(const tensor *t)
{
    return (size_t)t->rows * (size_t)(t->cols ? t->cols : 1);
}

static int fill_linear(pcg32 *r, tensor *w, tensor *b)
{
    w->data = malloc(numel(w) * sizeof(float));
    b->data = malloc(numel(b) * sizeof(float));
    if (!w->data || !b->data)
        return -1;
    double scale = 1.0 / sqrt((double)w->cols);
    for (size_t i = 0; i < numel(w); i++)
        w->data[i] = (float)(normalish(r) * scale);
    for (size_t i = 0; i < numel(b); i++)
        b->data[i] = (float)(normalish(r) * 0.1 * scale);
    if (w->n)
        prune_nm(w->data, w->rows, w->cols, w->n, w->m);
    return 0;
}

/* ---- little-endian output ------------------------------------------------- */

static int put_u32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    return fwrite(b, 1, 4, f) == 4 ? 0 : -1;
}

static int put_f32s(FILE *f, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        if (put_u32(f, u))
            return -1;
    }
    return 0;
}

static int close_file(FILE *f, const char *path, int failed)
{
    if (fclose(f) != 0 || failed) {
        fprintf(stderr, "make_mlp: %s: write error\n", path);
        return -1;
    }
    return 0;
}

static int write_safetensors(const char *path, const tensor *t, int nt)
{
    char hdr[2048];
    size_t len = 0, off = 0;
    len += (size_t)snprintf(hdr + len, sizeof hdr - len, "{");
    for (int i = 0; i < nt; i++) {
        size_t bytes = numel(&t[i]) * 4;
        char shape[64];
        if (t[i].cols)
            snprintf(shape, sizeof shape, "[%d,%d]", t[i].rows, t[i].cols);
        else
            snprintf(shape, sizeof shape, "[%d]", t[i].rows);
        len += (size_t)snprintf(hdr + len, sizeof hdr - len,
                                "%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,"
                                "\"data_offsets\":[%zu,%zu]}",
                                i ? "," : "", t[i].name, shape, off, off + bytes);
        off += bytes;
    }
    len += (size_t)snprintf(hdr + len, sizeof hdr - len, "}");
    while (len % 8 && len + 1 < sizeof hdr)
        hdr[len++] = ' ';
    if (len % 8)
        return -1;

    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "make_mlp: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int bad = put_u32(f, (uint32_t)len) || put_u32(f, 0) || fwrite(hdr, 1, len, f) != len;
    for (int i = 0; i < nt && !bad; i++)
        bad = put_f32s(f, t[i].data, numel(&t[i]));
    return close_file(f, path, bad);
}

static int write_npy(const char *path, const float *x, int rows, int cols)
{
    char hdr[128];
    int n = snprintf(hdr, sizeof hdr,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols);
    size_t len = (size_t)n;
    /* magic (6) + version (2) + length (2) + header ending in '\n': a multiple of 64 */
    while ((10 + len + 1) % 64)
        hdr[len++] = ' ';
    hdr[len++] = '\n';

    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "make_mlp: %s: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)len,
                             (unsigned char)(len >> 8)};
    int bad = fwrite(pre, 1, 10, f) != 10 || fwrite(hdr, 1, len, f) != len ||
              put_f32s(f, x, (size_t)rows * (size_t)cols);
    return close_file(f, path, bad);
}

static int make_files(const char *dir)
{
    tensor t[6] = {
        {"fc1.weight", HID, IN, 2, 4, NULL},  {"fc1.bias", HID, 0, 0, 0, NULL},
        {"fc2.weight", HID, HID, 1, 4, NULL}, {"fc2.bias", HID, 0, 0, 0, NULL},
        {"fc3.weight", NCLASS, HID, 0, 0, NULL}, {"fc3.bias", NCLASS, 0, 0, 0, NULL},
    };
    pcg32 r;
    pcg32_seed(&r, 20240601u, 54u);
    int rc = 0;
    for (int i = 0; i < 6 && !rc; i += 2)
        rc = fill_linear(&r, &t[i], &t[i + 1]);

    float *x = malloc((size_t)BATCH * IN * sizeof(float));
    if (!x || rc) {
        fprintf(stderr, "make_mlp: out of memory\n");
        rc = -1;
        goto done;
    }
    pcg32 rx;
    pcg32_seed(&rx, 7u, 11u);
    for (size_t i = 0; i < (size_t)BATCH * IN; i++)   /* "pixels" in [0, 1) */
        x[i] = (float)uniform(&rx);

    char path[4096];
    snprintf(path, sizeof path, "%s/mlp.safetensors", dir);
    if ((rc = write_safetensors(path, t, 6)) == 0) {
        printf("wrote %s (fc1 2:4, fc2 1:4, fc3 dense; F32)\n", path);
        snprintf(path, sizeof path, "%s/x.npy", dir);
        if ((rc = write_npy(path, x, BATCH, IN)) == 0)
            printf("wrote %s [%d, %d]\n", path, BATCH, IN);
    }
done:
    free(x);
    for (int i = 0; i < 6; i++)
        free(t[i].data);
    return rc ? 1 : 0;
}

/* ---- reading .npy (what sfgen programs and numpy write) ------------------ */

typedef struct {
    int rank;
    long dims[8];
    size_t n;
    float *data;
} npy;

static int read_npy(const char *path, npy *a)
{
    memset(a, 0, sizeof *a);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "make_mlp: %s: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned char pre[12];
    char hdr[4096];
    size_t hlen = 0;
    int ok = fread(pre, 1, 10, f) == 10 && memcmp(pre, "\x93NUMPY", 6) == 0;
    if (ok && pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (ok && (pre[6] == 2 || pre[6] == 3) && fread(pre + 10, 1, 2, f) == 2) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
               (size_t)pre[11] << 24;
    } else {
        ok = 0;
    }
    ok = ok && hlen < sizeof hdr && fread(hdr, 1, hlen, f) == hlen;
    if (ok) {
        hdr[hlen] = 0;
        const char *s = strstr(hdr, "'shape':");
        ok = strstr(hdr, "'<f4'") && strstr(hdr, "'fortran_order': False") && s &&
             (s = strchr(s, '('));
        a->n = 1;
        while (ok && *++s != ')') {
            if (*s == ' ' || *s == ',')
                continue;
            char *end;
            long v = strtol(s, &end, 10);
            if (end == s || v < 0 || a->rank >= 8) {
                ok = 0;
                break;
            }
            a->dims[a->rank++] = v;
            a->n *= (size_t)v;
            s = end - 1;
        }
    }
    if (ok && (a->data = malloc((a->n ? a->n : 1) * sizeof(float))) != NULL) {
        for (size_t i = 0; ok && i < a->n; i++) {
            unsigned char b[4];
            ok = fread(b, 1, 4, f) == 4;
            uint32_t u = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                         (uint32_t)b[3] << 24;
            memcpy(&a->data[i], &u, 4);
        }
    } else {
        ok = 0;
    }
    fclose(f);
    if (!ok) {
        fprintf(stderr, "make_mlp: %s: not a C-order '<f4' .npy file (or truncated)\n", path);
        free(a->data);
        a->data = NULL;
        return -1;
    }
    return 0;
}

/* max |a - b| / max |b|: the largest error relative to the output's scale
 * (per-element ratios blow up where b is near zero). */
static int compare(const char *pa, const char *pb)
{
    npy a, b;
    if (read_npy(pa, &a))
        return 2;
    if (read_npy(pb, &b)) {
        free(a.data);
        return 2;
    }
    int rc = 0;
    int same = a.rank == b.rank && a.n == b.n;
    for (int d = 0; same && d < a.rank; d++)
        same = a.dims[d] == b.dims[d];
    if (!same) {
        fprintf(stderr, "make_mlp: %s and %s have different shapes\n", pa, pb);
        rc = 1;
    } else {
        double maxdiff = 0.0, maxref = 0.0;
        int finite = 1;
        for (size_t i = 0; i < a.n; i++) {
            double d = fabs((double)a.data[i] - (double)b.data[i]);
            finite = finite && isfinite(a.data[i]) && isfinite(b.data[i]);
            if (d > maxdiff)
                maxdiff = d;
            if (fabs((double)b.data[i]) > maxref)
                maxref = fabs((double)b.data[i]);
        }
        double rel = maxref > 0 ? maxdiff / maxref : maxdiff;
        rc = !finite || !(rel <= CMP_TOL);
        printf("max |a-b| = %.3g, relative to max |b| (%.3g): %.3g -> %s (tolerance %g)\n",
               maxdiff, maxref, rel, rc ? "MISMATCH" : "match", CMP_TOL);
    }
    free(a.data);
    free(b.data);
    return rc;
}

static int show(const char *path)
{
    npy a;
    if (read_npy(path, &a))
        return 2;
    printf("%s: shape (", path);
    for (int d = 0; d < a.rank; d++)
        printf("%s%ld", d ? ", " : "", a.dims[d]);
    size_t row = a.rank > 1 ? a.n / (size_t)(a.dims[0] ? a.dims[0] : 1) : a.n;
    printf("), row 0:\n ");
    size_t best = 0;
    for (size_t j = 0; j < row; j++) {
        if (j < 16)
            printf(" %.5f", (double)a.data[j]);
        if (a.data[j] > a.data[best])
            best = j;
    }
    printf("%s\n  argmax: %zu\n", row > 16 ? " ..." : "", best);
    free(a.data);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--compare") == 0)
        return compare(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "--show") == 0)
        return show(argv[2]);
    if (argc == 2 && argv[1][0] != '-')
        return make_files(argv[1]);
    fprintf(stderr, "usage: make_mlp OUTDIR | make_mlp --compare A.npy B.npy | "
                    "make_mlp --show FILE.npy\n");
    return 2;
}
