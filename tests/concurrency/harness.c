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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K 64
#define O 16
#define THREADS 6
#define ITERS 200
#define NCASES 12

/* ---- allocation watch -------------------------------------------------- */

static __thread int t_watch;        /* set while this thread is inside conc_run */
static __thread int t_allocs;

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);

/* calloc is used by dlsym itself: serve it from a static buffer until the
 * real one is known */
static unsigned char boot_buf[4096];
static size_t boot_used;

void *malloc(size_t n)
{
    if (!real_malloc)
        real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    t_allocs += t_watch;
    return real_malloc(n);
}

void *calloc(size_t n, size_t m)
{
    if (!real_calloc) {
        static int resolving;
        if (resolving) {
            void *p = boot_buf + boot_used;
            boot_used += (n * m + 15) & ~(size_t)15;
            return boot_used <= sizeof boot_buf ? p : NULL;
        }
        resolving = 1;
        real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
        resolving = 0;
    }
    t_allocs += t_watch;
    return real_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
    if (!real_realloc)
        real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    t_allocs += t_watch;
    return real_realloc(p, n);
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
static int batch_of(int c) { return 1 + (c * 7) % CONC_MAX_BATCH; }

typedef struct { int id, mismatches, errors; } worker;

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

int main(void)
{
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

    /* reference results, single-threaded; then no allocation in conc_run */
    for (int c = 0; c < NCASES; c++)
        check(conc_run(inputs[c], expect[c], batch_of(c), arena) == CONC_OK, "reference run");
    for (int c = 0; c < NCASES; c++) {
        t_allocs = 0;
        t_watch = 1;
        int rc = conc_run(inputs[c], y, batch_of(c), arena);
        t_watch = 0;
        char what[96];
        snprintf(what, sizeof what, "batch %d: no allocation inside conc_run (%d seen)",
                 batch_of(c), t_allocs);
        check(rc == CONC_OK && t_allocs == 0, what);
        check(memcmp(y, expect[c], sizeof(float) * (size_t)(batch_of(c) * O)) == 0,
              "repeat run is bit-identical");
    }

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
        snprintf(what, sizeof what, "thread %d: %d runs bit-identical (%d differ, %d errors)",
                 i, ITERS, w[i].mismatches, w[i].errors);
        check(w[i].mismatches == 0 && w[i].errors == 0, what);
    }
    free(arena);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
