/* core.c - diagnostics, the allocation hook, the arena, buffers. */
#include "core/sf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- diagnostics ------------------------------------------------------- */

static _Thread_local sf_ctx t_default;
static _Thread_local sf_ctx *t_cur;

static sf_ctx *cur(void)
{
    return t_cur ? t_cur : &t_default;
}

sf_ctx *sf_ctx_enter(sf_ctx *c)
{
    sf_ctx *prev = t_cur;
    t_cur = c;
    return prev;
}

void sf_diag_set_sink(sf_diag_sink sink, void *ctx)
{
    cur()->sink = sink;
    cur()->sink_ctx = ctx;
    cur()->errors = 0;
}

int sf_error_count(void)
{
    return cur()->errors;
}

static void diag_emit(const char *kind, const char *where, const char *fmt, va_list ap)
{
    char msg[1024];
    char line[1400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (where && *where)
        snprintf(line, sizeof line, "sfgen: %s: %s: %s", kind, where, msg);
    else
        snprintf(line, sizeof line, "sfgen: %s: %s", kind, msg);
    sf_ctx *c = cur();
    if (kind[0] == 'e')
        memcpy(c->last, line, strlen(line) + 1);
    if (c->sink)
        c->sink(line, c->sink_ctx);
    else
        fprintf(stderr, "%s\n", line);
}

sf_status sf_error(sf_status st, const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_emit("error", where, fmt, ap);
    va_end(ap);
    cur()->errors++;
    return st;
}

void sf_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_emit("warning", NULL, fmt, ap);
    va_end(ap);
}

/* ---- memory -------------------------------------------------------------- */

void sf_set_alloc_hook(sf_alloc_hook hook, void *ctx)
{
    cur()->hook = hook;
    cur()->hook_ctx = ctx;
}

void *sf_malloc(size_t size)
{
    sf_ctx *c = cur();
    if (c->hook && !c->hook(size, c->hook_ctx))
        return NULL;
    return malloc(size ? size : 1);
}

void *sf_realloc(void *p, size_t size)
{
    sf_ctx *c = cur();
    if (c->hook && !c->hook(size, c->hook_ctx))
        return NULL;
    return realloc(p, size ? size : 1);
}

void sf_free(void *p)
{
    free(p);
}

int sf_mul_size(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

int sf_add_size(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return -1;
    *out = a + b;
    return 0;
}

/* ---- arena ----------------------------------------------------------------
 * A list of blocks; big requests get a block of their own. */

struct sf_arena_block {
    sf_arena_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK ((size_t)1 << 20)

void sf_arena_init(sf_arena *a)
{
    a->head = NULL;
    a->used_total = 0;
}

void *sf_arena_alloc(sf_arena *a, size_t size)
{
    size_t need = (size + 15) & ~(size_t)15;
    if (need < size)
        return NULL;
    sf_arena_block *b = a->head;
    if (!b || b->size - b->used < need) {
        size_t bsize = need > ARENA_CHUNK / 4 ? need : ARENA_CHUNK;
        size_t total;
        if (sf_add_size(sizeof(sf_arena_block), bsize, &total))
            return NULL;
        sf_arena_block *nb = sf_malloc(total);
        if (!nb)
            return NULL;
        nb->size = bsize;
        nb->used = 0;
        if (b && need > ARENA_CHUNK / 4) {
            /* keep filling the current small block: insert after it */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->used_total += need;
    memset(p, 0, size);
    return p;
}

void *sf_arena_array(sf_arena *a, size_t n, size_t elem)
{
    size_t bytes;
    if (sf_mul_size(n, elem, &bytes))
        return NULL;
    return sf_arena_alloc(a, bytes);
}

char *sf_arena_strdup(sf_arena *a, const char *s)
{
    size_t n = strlen(s);
    char *p = sf_arena_alloc(a, n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

void sf_arena_free(sf_arena *a)
{
    sf_arena_block *b = a->head;
    while (b) {
        sf_arena_block *n = b->next;
        sf_free(b);
        b = n;
    }
    a->head = NULL;
    a->used_total = 0;
}

/* ---- buffers --------------------------------------------------------------- */

void sf_buf_init(sf_buf *b)
{
    memset(b, 0, sizeof *b);
}

void sf_buf_free(sf_buf *b)
{
    sf_free(b->data);
    sf_buf_init(b);
}

static int buf_reserve(sf_buf *b, size_t extra)
{
    size_t need;
    if (b->failed || sf_add_size(b->len, extra + 1, &need)) {
        b->failed = 1;
        return -1;
    }
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = sf_realloc(b->data, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int sf_buf_append(sf_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return 0;
}

int sf_buf_printf(sf_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int sf_buf_pad(sf_buf *b, size_t align)
{
    static const char zeros[64];
    while (b->len % align) {
        size_t n = align - b->len % align;
        if (n > sizeof zeros)
            n = sizeof zeros;
        if (sf_buf_append(b, zeros, n))
            return -1;
    }
    return 0;
}

/* ---- helpers ----------------------------------------------------------------- */

int sf_is_c_identifier(const char *s)
{
    if (!s || !*s || strlen(s) > 64)
        return 0;
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return 0;
    for (const char *p = s + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
              (*p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

uint64_t sf_hash_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- name index ---------------------------------------------------------------- */

int sf_index_init(sf_index *ix, size_t n, sf_arena *a)
{
    size_t cap = 16;
    while (cap < 2 * n) { /* at most half full: probes stay short */
        if (cap > SIZE_MAX / 4 / sizeof *ix->slot)
            return -1;
        cap *= 2;
    }
    ix->slot = a ? sf_arena_array(a, cap, sizeof *ix->slot) : sf_malloc(cap * sizeof *ix->slot);
    ix->mask = cap - 1;
    ix->heap = !a;
    if (!ix->slot)
        return -1;
    if (!a)
        memset(ix->slot, 0, cap * sizeof *ix->slot);
    return 0;
}

static size_t index_probe(const sf_index *ix, const char *key)
{
    size_t i = (size_t)sf_hash_fnv1a(SF_FNV_SEED, key, strlen(key)) & ix->mask;
    while (ix->slot[i].key && strcmp(ix->slot[i].key, key) != 0)
        i = (i + 1) & ix->mask;
    return i;
}

int sf_index_add(sf_index *ix, const char *key, int val)
{
    size_t i = index_probe(ix, key);
    if (ix->slot[i].key)
        return ix->slot[i].val;
    ix->slot[i].key = key;
    ix->slot[i].val = val;
    return -1;
}

int sf_index_find(const sf_index *ix, const char *key)
{
    if (!ix->slot)
        return -1;
    size_t i = index_probe(ix, key);
    return ix->slot[i].key ? ix->slot[i].val : -1;
}

void sf_index_free(sf_index *ix)
{
    if (ix->heap)
        sf_free(ix->slot);
    ix->slot = NULL;
    ix->heap = 0;
}
