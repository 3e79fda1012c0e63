/* test_util.c - see test_util.h. */
#define _XOPEN_SOURCE 700
#include "test_util.h"

#include <dirent.h>
#include <stdarg.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "passes/spa.h"

/* ---- safetensors images ---------------------------------------------------- */

static void app(char **s, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void app(char **s, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (*len + (size_t)n + 1 > *cap) {
        while (*len + (size_t)n + 1 > *cap)
            *cap = *cap ? *cap * 2 : 256;
        *s = realloc(*s, *cap);
        if (!*s)
            abort();
    }
    va_start(ap, fmt);
    vsnprintf(*s + *len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *len += (size_t)n;
}

static unsigned char *image(const char *hdr, size_t hlen, const void *data, size_t dlen,
                            size_t *size)
{
    *size = 8 + hlen + dlen;
    unsigned char *img = malloc(*size ? *size : 1);
    if (!img)
        abort();
    uint64_t h = hlen;
    for (int i = 0; i < 8; i++)
        img[i] = (unsigned char)(h >> (8 * i));
    memcpy(img + 8, hdr, hlen);
    if (dlen)
        memcpy(img + 8 + hlen, data, dlen);
    return img;
}

unsigned char *tu_st_image(const tu_tensor *t, int n, size_t *size)
{
    char *h = NULL;
    size_t hl = 0, hc = 0, off = 0, total = 0;
    for (int i = 0; i < n; i++)
        total += t[i].nbytes;
    unsigned char *data = malloc(total ? total : 1);
    if (!data)
        abort();
    app(&h, &hl, &hc, "{");
    for (int i = 0; i < n; i++) {
        app(&h, &hl, &hc, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "", t[i].name,
            t[i].dtype);
        for (int d = 0; d < t[i].rank; d++)
            app(&h, &hl, &hc, "%s%lld", d ? "," : "", (long long)t[i].dims[d]);
        app(&h, &hl, &hc, "],\"data_offsets\":[%zu,%zu]}", off, off + t[i].nbytes);
        if (t[i].nbytes)
            memcpy(data + off, t[i].data, t[i].nbytes);
        off += t[i].nbytes;
    }
    app(&h, &hl, &hc, "}");
    unsigned char *img = image(h, hl, data, total, size);
    free(h);
    free(data);
    return img;
}

char *tu_json(const char *s)
{
    char *c = strdup(s);
    if (!c)
        abort();
    for (char *p = c; *p; p++)
        if (*p == '\'')
            *p = '"';
    return c;
}

unsigned char *tu_st_raw(const char *header, const void *data, size_t dlen, size_t *size)
{
    char *h = tu_json(header);
    unsigned char *img = image(h, strlen(h), data, dlen, size);
    free(h);
    return img;
}

/* ---- diagnostics ---------------------------------------------------------------- */

static char g_diag[65536];
static size_t g_diag_len;
static int g_diag_lines;

static void sink(const char *line, void *ctx)
{
    (void)ctx;
    size_t n = strlen(line);
    if (g_diag_len + n + 2 < sizeof g_diag) {
        memcpy(g_diag + g_diag_len, line, n);
        g_diag_len += n;
        g_diag[g_diag_len++] = '\n';
        g_diag[g_diag_len] = 0;
    }
    g_diag_lines++;
}

void tu_diag_capture(void)
{
    g_diag_len = 0;
    g_diag[0] = 0;
    g_diag_lines = 0;
    sf_diag_set_sink(sink, NULL);
}

const char *tu_diag(void)
{
    return g_diag;
}
int tu_diag_lines(void)
{
    return g_diag_lines;
}
void tu_diag_release(void)
{
    sf_diag_set_sink(NULL, NULL);
}

/* ---- in-memory models ------------------------------------------------------------- */

sf_status tu_model_build(tu_model *m, const char *json, const tu_tensor *t, int nt)
{
    memset(m, 0, sizeof *m);
    sf_arena_init(&m->tmp);
    sf_arena_init(&m->g.arena);
    m->img = tu_st_image(t, nt, &m->img_size);
    char *text = tu_json(json);
    sf_status s = sf_load_json_text(&m->tmp, TU_MODEL_PATH, text, strlen(text), &m->d);
    free(text);
    if (!s)
        s = sf_parse_safetensors(&m->tmp, "/nonexistent/models/w.safetensors", m->img, m->img_size,
                                 &m->st);
    if (!s) {
        sf_weights w = sf_safetensors_weights(&m->st);
        s = sf_graph_build(&m->d, &w, &m->g);
    }
    return s;
}

sf_status tu_model_plan(tu_model *m, int propagate, const sf_plan_opts *opts)
{
    sf_spa_census(&m->g);
    sf_spa_propagate(&m->g, propagate);
    return sf_plan_graph(&m->g, opts);
}

void tu_model_free(tu_model *m)
{
    sf_graph_free(&m->g);
    sf_arena_free(&m->tmp);
    free(m->img);
    m->img = NULL;
}

int tu_node(const sf_graph *g, const char *name)
{
    for (int i = 0; i < g->nnodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return i;
    return -1;
}

int tu_tensor_id(const sf_graph *g, const char *name)
{
    for (int i = 0; i < g->ntensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return i;
    return -1;
}

const sf_tensor *tu_t(const sf_graph *g, const char *name)
{
    int i = tu_tensor_id(g, name);
    return i < 0 ? NULL : &g->tensors[i];
}

sf_linear *tu_lin(const sf_graph *g, const char *node)
{
    int i = tu_node(g, node);
    return i < 0 ? NULL : g->nodes[i].lin;
}

sf_plan *tu_plan(const sf_graph *g, const char *node)
{
    return sf_cpu_plan(g, tu_lin(g, node));
}

/* ---- files ------------------------------------------------------------------------ */

void tu_mkdtemp(char *buf, size_t n)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, n, "%s/sfunit-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(buf))
        abort();
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tu_rmrf(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = NULL;
    size_t n = 0, cap = 0;
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (n + r + 1 > cap) {
            cap = (n + r + 1) * 2;
            s = realloc(s, cap);
            if (!s)
                abort();
        }
        memcpy(s + n, chunk, r);
        n += r;
    }
    fclose(f);
    if (!s && !(s = malloc(1)))
        abort();
    s[n] = 0;
    if (len)
        *len = n;
    return s;
}

void tu_write_model(const char *dir, const char *json, const char *weights_name, const tu_tensor *t,
                    int nt, char *out, size_t n)
{
    char *text = tu_json(json);
    size_t size;
    unsigned char *img = tu_st_image(t, nt, &size);
    if (tu_write_file(dir, "model.json", text, strlen(text)) ||
        tu_write_file(dir, weights_name, img, size))
        abort();
    free(text);
    free(img);
    snprintf(out, n, "%s/model.json", dir);
}

int tu_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

uint32_t tu_rng(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Exactly n nonzeros (of values +-1..8) in every group of m along `in`
 * (a shorter tail group gets min(n, its length)). */
void tu_nm_fill(float *w, int out, int in, int n, int m, uint32_t seed)
{
    memset(w, 0, sizeof *w * (size_t)(out * in));
    for (int r = 0; r < out; r++)
        for (int k0 = 0; k0 < in; k0 += m) {
            int len = in - k0 < m ? in - k0 : m, need = n < len ? n : len;
            while (need) {
                int k = k0 + (int)(tu_rng(&seed) % (uint32_t)len);
                if (w[r * in + k] == 0.0f) {
                    float v = (float)(1 + tu_rng(&seed) % 8);
                    w[r * in + k] = tu_rng(&seed) & 1 ? v : -v;
                    need--;
                }
            }
        }
}
