/* sparseflow.h - the SparseFlow compiler as a C library (libsparseflow.a,
 * libsparseflow.so); `sfgen` is a command line over it (docs/ARCHITECTURE.md).
 *
 * A session owns what one caller's work needs: the options (the same as
 * sfgen's, docs/CLI.md), the allocation hook and where diagnostics go. Every
 * call takes its session and returns a status; nothing exits or prints
 * unless told to. Sessions are independent: different threads may each use
 * their own at the same time (one session is used by one thread at a time).
 *
 *     sf_session *s = sf_session_new();
 *     sf_session_option(s, "--target", "cuda");
 *     if (sf_session_generate(s, "model.json", "out/") != SF_OK)
 *         fprintf(stderr, "%s\n", sf_session_last_error(s));
 *     sf_session_free(s);
 */
#ifndef SPARSEFLOW_H
#define SPARSEFLOW_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPARSEFLOW_VERSION "0.1.0"

/* Status codes; they double as sfgen's exit codes (docs/CLI.md). */
typedef enum {
    SF_OK = 0,
    SF_EINPUT = 1,   /* invalid model, weights or other user input */
    SF_EUSAGE = 2,   /* a bad option */
    SF_EINTERNAL = 3 /* a bug, out of memory, or an I/O failure */
} sf_status;

/* Receives each diagnostic as one line ("sfgen: error: FILE: node ...: msg"). */
typedef void (*sf_diag_sink)(const char *line, void *ctx);
/* Asked before each allocation; returning NULL makes it fail (tests). */
typedef void *(*sf_alloc_hook)(size_t size, void *ctx);

typedef struct sf_session sf_session;

/* A session with sfgen's default options, quiet (no census printout, no
 * progress); NULL when out of memory. */
sf_session *sf_session_new(void);
void sf_session_free(sf_session *s);

/* Diagnostics go to `sink` (NULL: standard error). */
void sf_session_set_sink(sf_session *s, sf_diag_sink sink, void *ctx);
void sf_session_set_alloc_hook(sf_session *s, sf_alloc_hook hook, void *ctx);

/* One command-line option with its value (NULL for a flag), e.g.
 * ("--target", "cuda"), ("--threads", "4"), ("--dense", NULL),
 * ("--quiet", NULL), ("--verbose", NULL). SF_EUSAGE for an unknown option
 * or a bad value. */
sf_status sf_session_option(sf_session *s, const char *name, const char *value);

/* Errors raised in this session so far, and the last one's line ("" if none). */
int sf_session_errors(const sf_session *s);
const char *sf_session_last_error(const sf_session *s);

/* Loads, verifies and plans `model` and returns the report: the census and
 * plan as text (json == 0) or the JSON report (json != 0). Writes no file.
 * *text is allocated; release it with sf_text_free. */
sf_status sf_session_inspect(sf_session *s, const char *model, int json, char **text);
void sf_text_free(char *text);

/* Generates the output folder for `model` (replaced atomically; nothing is
 * left half-written on failure). An existing folder must be empty or hold
 * sfgen's marker file `.sfgen`, unless the option ("--force", NULL) is set
 * (docs/CLI.md, "The output folder"). */
sf_status sf_session_generate(sf_session *s, const char *model, const char *outdir);

#ifdef __cplusplus
}
#endif

#endif
