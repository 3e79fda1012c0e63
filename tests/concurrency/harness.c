/* harness.c - the generated library under load. Built against the model in
 * run_concurrent.py (name "conc": input x [B, 64], output y [B, 16]):
 *  - every error code: batch out of range, NULL pointers, misaligned arena;
 *  - conc_run allocates nothing: malloc/calloc/realloc are interposed and any
 *    call made by the calling thread while conc_run runs fails the test;
 *  - THREADS pthreads run the model ITERS times each with separate arenas on
 *    different inputs and batches; every result must equal, bit for bit, the
 *    single-threaded result for the same input.
 * Prints "N passed, N failed"; exit 1 on any failure. */
#define _GNU_SOURCE
#include "conc.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K       64
#define O       16
#define THREADS 6
#define ITERS   200
#define NCASES  12
#define REGIONS 5 /* conc's steps (3 linear layers, gelu, relu): one parallel region each */

/* ---- allocation watch -------------------------------------------------- */

/* Every allocator of the C library is interposed. While g_watch is set (one
 * conc_run in flight, no other thread of ours running) each call, from any
 * thread, is counted. In the OpenMP build each allocation must come from
 * libgomp (its caller's address lies in libgomp) and each free must release a
 * block libgomp allocated (g_track, from the start of main on): libgomp ends a
 * region with a tail call to free, so the caller of free is not telling. */
static atomic_int g_watch, g_track, g_allocs, g_frees, g_foreign;
static const char *g_first_foreign;
#define MAX_BLOCKS 4096
static void *g_gomp_block[MAX_BLOCKS]; /* live blocks libgomp allocated in conc_run */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *object_of(void *addr);

static void note_alloc(void *p, void *caller)
{
    if (!p || !atomic_load(&g_track))
        return;
    int gomp = strstr(object_of(caller), "libgomp") != NULL;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; gomp && i < MAX_BLOCKS; i++)
        if (!g_gomp_block[i]) {
            g_gomp_block[i] = p;
            break;
        }
    if (atomic_load(&g_watch)) {
        atomic_fetch_add(&g_allocs, 1);
        if (!gomp && !atomic_fetch_add(&g_foreign, 1))
            g_first_foreign = "an allocation outside libgomp";
    }
    pthread_mutex_unlock(&g_lock);
}

static void note_free(void *p)
{
    if (!atomic_load(&g_track))
        return;
    int gomp = 0;
    pthread_mutex_lock(&g_lock);
    for (int i = 0; i < MAX_BLOCKS && !gomp; i++)
        if (g_gomp_block[i] == p) {
            g_gomp_block[i] = NULL;
            gomp = 1;
        }
    if (atomic_load(&g_watch)) {
        atomic_fetch_add(&g_frees, 1);
        if (!gomp && !atomic_fetch_add(&g_foreign, 1))
            g_first_foreign = "a free of a block libgomp did not allocate";
    }
    pthread_mutex_unlock(&g_lock);
}

/* dlsym may allocate while the real functions are looked up: serve those
 * requests from a static buffer (never freed) */
static _Alignas(64) unsigned char boot_buf[1 << 14];
static size_t boot_used;
static int resolving;

static void *boot_alloc(size_t n)
{
    void *p = boot_buf + boot_used;
    boot_used += (n + 63) & ~(size_t)63;
    return boot_used <= sizeof boot_buf ? p : NULL;
}

static int from_boot(const void *p)
{
    return (const unsigned char *)p >= boot_buf &&
           (const unsigned char *)p < boot_buf + sizeof boot_buf;
}

#define REAL(name)                                        \
    static __typeof__(name) *real_##name;                 \
    if (!real_##name) {                                   \
        resolving++;                                      \
        *(void **)&real_##name = dlsym(RTLD_NEXT, #name); \
        resolving--;                                      \
    }

void *malloc(size_t n)
{
    if (resolving)
        return boot_alloc(n);
    REAL(malloc);
    void *p = real_malloc(n);
    note_alloc(p, __builtin_return_address(0));
    return p;
}

void *calloc(size_t n, size_t m)
{
    if (resolving) {
        void *p = boot_alloc(n * m);
        if (p)
            memset(p, 0, n * m);
        return p;
    }
    REAL(calloc);
    void *p = real_calloc(n, m);
    note_alloc(p, __builtin_return_address(0));
    return p;
}

void *realloc(void *old, size_t n)
{
    REAL(realloc);
    if (old)
        note_free(old);
    void *p = real_realloc(old, n);
    note_alloc(p, __builtin_return_address(0));
    return p;
}

void free(void *p)
{
    if (!p || from_boot(p))
        return;
    REAL(free);
    note_free(p);
    real_free(p);
}

void *memalign(size_t a, size_t n)
{
    REAL(memalign);
    void *p = real_memalign(a, n);
    note_alloc(p, __builtin_return_address(0));
    return p;
}

int posix_memalign(void **out, size_t a, size_t n)
{
    REAL(posix_memalign);
    int rc = real_posix_memalign(out, a, n);
    note_alloc(rc ? NULL : *out, __builtin_return_address(0));
    return rc;
}

void *aligned_alloc(size_t a, size_t n)
{
    REAL(aligned_alloc);
    void *p = real_aligned_alloc(a, n);
    note_alloc(p, __builtin_return_address(0));
    return p;
}

void *valloc(size_t n)
{
    REAL(valloc);
    void *p = real_valloc(n);
    note_alloc(p, __builtin_return_address(0));
    return p;
}

void *pvalloc(size_t n)
{
    REAL(pvalloc);
    void *p = real_pvalloc(n);
    note_alloc(p, __builtin_return_address(0));
    return p;
}

/* The shared object a caller's address lies in ("?" when unknown). */
static const char *object_of(void *addr)
{
    Dl_info di;
    if (!dladdr(addr, &di) || !di.dli_fname)
        return "?";
    const char *slash = strrchr(di.dli_fname, '/');
    return slash ? slash + 1 : di.dli_fname;
}

/* ---- checks -------------------------------------------------------------- */

static int passed, failed;

static void check(int ok, const char *what)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s\n", what);
    }
}

static float inputs[NCASES][CONC_MAX_BATCH * K];
static float expect[NCASES][CONC_MAX_BATCH * O];
static int batch_of(int c)
{
    return 1 + (c * 7) % CONC_MAX_BATCH;
}

typedef struct {
    int id, mismatches, errors;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    void *arena = aligned_alloc(64, CONC_ARENA_BYTES);
    float *y = malloc(sizeof(float) * CONC_MAX_BATCH * O);
    if (!arena || !y) {
        w->errors++;
        return NULL;
    }
    for (int it = 0; it < ITERS; it++) {
        int c = (w->id * 5 + it) % NCASES, b = batch_of(c);
        memset(y, 0xff, sizeof(float) * (size_t)(b * O));
        if (conc_run(inputs[c], y, b, arena) != CONC_OK)
            w->errors++;
        else if (memcmp(y, expect[c], sizeof(float) * (size_t)(b * O)) != 0)
            w->mismatches++;
    }
    free(y);
    free(arena);
    return NULL;
}

int main(int argc, char **argv)
{
    /* --no-openmp: the library was built with OPENMP=0 */
    int no_openmp = argc > 1 && strcmp(argv[1], "--no-openmp") == 0;
    atomic_store(&g_track, 1); /* libgomp's blocks, from its first allocation on */
    unsigned s = 7;
    for (int c = 0; c < NCASES; c++)
        for (int i = 0; i < CONC_MAX_BATCH * K; i++) {
            s = s * 1664525u + 1013904223u;
            inputs[c][i] = (float)(s >> 8) / 8388608.0f - 1.0f;
        }
    void *arena = aligned_alloc(64, CONC_ARENA_BYTES + 64);
    float y[CONC_MAX_BATCH * O];

    /* documented error codes */
    check(conc_run(inputs[0], y, 0, arena) == CONC_EBATCH, "batch 0 -> CONC_EBATCH");
    check(conc_run(inputs[0], y, CONC_MAX_BATCH + 1, arena) == CONC_EBATCH,
          "batch max+1 -> CONC_EBATCH");
    check(conc_run(inputs[0], y, -3, arena) == CONC_EBATCH, "batch -3 -> CONC_EBATCH");
    check(conc_run(NULL, y, 1, arena) == CONC_ENULL, "NULL input -> CONC_ENULL");
    check(conc_run(inputs[0], NULL, 1, arena) == CONC_ENULL, "NULL output -> CONC_ENULL");
    check(conc_run(inputs[0], y, 1, (unsigned char *)arena + 8) == CONC_EALIGN,
          "misaligned arena -> CONC_EALIGN");
    check(strcmp(conc_strerror(CONC_EBATCH), "ok") != 0 && conc_strerror(12345) != NULL,
          "conc_strerror texts");
    check(conc_run(inputs[0], y, 1, NULL) == CONC_OK, "NULL arena uses the static one");

    /* reference results, single-threaded; then what conc_run allocates */
    for (int c = 0; c < NCASES; c++)
        check(conc_run(inputs[c], expect[c], batch_of(c), arena) == CONC_OK, "reference run");
    int lo = 1 << 30, hi = 0;
    for (int c = 0; c < NCASES; c++) {
        atomic_store(&g_allocs, 0);
        atomic_store(&g_frees, 0);
        atomic_store(&g_foreign, 0);
        atomic_store(&g_watch, 1);
        int rc = conc_run(inputs[c], y, batch_of(c), arena);
        atomic_store(&g_watch, 0);
        int na = atomic_load(&g_allocs), nf = atomic_load(&g_frees);
        char what[200];
        if (no_openmp) {
            snprintf(what, sizeof what,
                     "batch %d: no allocator call inside conc_run, from any thread (%d "
                     "allocations, %d frees)",
                     batch_of(c), na, nf);
            check(rc == CONC_OK && na + nf == 0, what);
        } else {
            int foreign = atomic_load(&g_foreign);
            snprintf(what, sizeof what,
                     "batch %d: inside conc_run only libgomp allocates and frees (%d "
                     "allocations, %d frees; %d otherwise%s%s)",
                     batch_of(c), na, nf, foreign, foreign ? ", the first " : "",
                     foreign ? g_first_foreign : "");
            check(rc == CONC_OK && foreign == 0, what);
            snprintf(what, sizeof what,
                     "batch %d: libgomp frees inside conc_run what it allocates there (%d, %d)",
                     batch_of(c), na, nf);
            check(na == nf, what);
            snprintf(what, sizeof what,
                     "batch %d: at most one libgomp allocation per parallel region (%d for %d)",
                     batch_of(c), na, REGIONS);
            check(na <= REGIONS, what);
            lo = na < lo ? na : lo;
            hi = na > hi ? na : hi;
        }
        check(memcmp(y, expect[c], sizeof(float) * (size_t)(batch_of(c) * O)) == 0,
              "repeat run is bit-identical");
    }
    atomic_store(&g_track, 0);
    if (!no_openmp)
        printf("libgomp: %d to %d allocations (each freed) per conc_run\n", lo, hi);

    /* many threads, separate arenas */
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){i, 0, 0};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        char what[96];
        snprintf(what, sizeof what, "thread %d: %d runs bit-identical (%d differ, %d errors)", i,
                 ITERS, w[i].mismatches, w[i].errors);
        check(w[i].mismatches == 0 && w[i].errors == 0, what);
    }
    free(arena);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
