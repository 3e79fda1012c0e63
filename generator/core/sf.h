/* sf.h - core types shared by every stage of sfgen: status codes,
 * diagnostics, the allocation hook, the arena and a growable text buffer. */
#ifndef SF_H
#define SF_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* sf_status, sf_diag_sink and sf_alloc_hook are the public API's. */
#include "sparseflow.h"

#define SF_VERSION SPARSEFLOW_VERSION

/* ---- context --------------------------------------------------------------
 * Diagnostics and the allocation hook belong to the caller's context: a
 * session of the public API (api.c) while one of its calls runs on this
 * thread, else this thread's default context (the CLI, tests). Nothing is
 * shared between threads. */
typedef struct {
    sf_diag_sink sink;
    void *sink_ctx;
    sf_alloc_hook hook;
    void *hook_ctx;
    int errors;
    char last[1400]; /* the last error line */
} sf_ctx;
/* Makes `c` this thread's context (NULL: the default one); returns the previous. */
sf_ctx *sf_ctx_enter(sf_ctx *c);

/* ---- diagnostics --------------------------------------------------------
 * Every error names file, node and field. Messages are printed to stderr as
 * they are raised ("sfgen: error: ..."); tests may capture them instead. */
void sf_diag_set_sink(sf_diag_sink sink, void *ctx); /* NULL: stderr */
/* `where` is the "file: node 'x' (nodes[3]): field 'y'" prefix, may be NULL. */
sf_status sf_error(sf_status st, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sf_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int sf_error_count(void);

/* ---- memory -------------------------------------------------------------
 * The one place sfgen obtains memory. Tests install a hook that fails the
 * k-th allocation to check every failure path. */
void sf_set_alloc_hook(sf_alloc_hook hook, void *ctx);
void *sf_malloc(size_t size);           /* NULL on failure (hooked) */
void *sf_realloc(void *p, size_t size); /* NULL on failure (hooked) */
void sf_free(void *p);

/* Arena: owns a graph's memory; freed in one call. */
typedef struct sf_arena_block sf_arena_block;
typedef struct {
    sf_arena_block *head;
    size_t used_total;
} sf_arena;
void sf_arena_init(sf_arena *a);
void *sf_arena_alloc(sf_arena *a, size_t size);           /* zeroed, 16-aligned */
void *sf_arena_array(sf_arena *a, size_t n, size_t elem); /* overflow-checked */
char *sf_arena_strdup(sf_arena *a, const char *s);
void sf_arena_free(sf_arena *a);

/* Growable byte buffer for emitted text and the weights blob. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} sf_buf;
void sf_buf_init(sf_buf *b);
void sf_buf_free(sf_buf *b);
int sf_buf_append(sf_buf *b, const void *p, size_t n); /* 0 ok, -1 oom */
int sf_buf_printf(sf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sf_buf_pad(sf_buf *b, size_t align); /* zero-pad */

/* Checked size arithmetic: return -1 on overflow. */
int sf_mul_size(size_t a, size_t b, size_t *out);
int sf_add_size(size_t a, size_t b, size_t *out);

/* ---- name index ------------------------------------------------------------
 * Open addressing over borrowed strings (they must outlive the index), so
 * duplicate checks and look-ups by name stay linear in the number of names
 * (docs/FORMATS.md, "Limits"). */
typedef struct {
    const char *key;
    int val;
} sf_index_slot;
typedef struct {
    sf_index_slot *slot;
    size_t mask; /* capacity - 1, a power of two */
    int heap;    /* slots from sf_malloc (sf_index_free frees them) */
} sf_index;
/* Room for `n` keys, from arena `a` or, when `a` is NULL, from sf_malloc.
 * 0 ok, -1 out of memory. */
int sf_index_init(sf_index *ix, size_t n, sf_arena *a);
/* Adds key -> val (val >= 0) unless the key is there: returns the value
 * already stored, or -1 when added. The caller adds at most `n` keys. */
int sf_index_add(sf_index *ix, const char *key, int val);
int sf_index_find(const sf_index *ix, const char *key); /* value, or -1 */
void sf_index_free(sf_index *ix);

/* ---- files ---------------------------------------------------------------
 * Reads the whole of `path` into `a` (NUL-terminated; *size excludes the
 * NUL) when it is a regular file of at most `max` bytes. A FIFO, a device
 * or a folder is refused without blocking: stat first, open with
 * O_NONBLOCK, fstat the descriptor. Errors name `base` and `what` ("model
 * file", "weights file"). */
sf_status sf_read_regular_file(sf_arena *a, const char *path, const char *base, const char *what,
                               size_t max, unsigned char **data, size_t *size);
/* The same check alone: a read-only descriptor of `path` when it is a
 * regular file, else -1 with errno set (EINVAL: it exists but is not a
 * regular file; *mode, when not NULL, then holds its type). */
int sf_open_regular(const char *path, unsigned *mode);

/* Small helpers. */
int sf_is_c_identifier(const char *s);
uint64_t sf_hash_fnv1a(uint64_t h, const void *p, size_t n);
#define SF_FNV_SEED 1469598103934665603ULL

/* Returns a failed status to the caller (stages that chain calls). */
#define TRY(x)              \
    do {                    \
        sf_status s_ = (x); \
        if (s_)             \
            return s_;      \
    } while (0)

#endif
