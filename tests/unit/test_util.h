/* test_util.h - helpers shared by the unit-test suites: safetensors images
 * built from arrays, in-memory models, captured diagnostics, temp folders. */
#ifndef SF_TEST_UTIL_H
#define SF_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ir/graph.h"
#include "backends/cpu/plan.h"

/* One tensor of a safetensors image. `data` holds nbytes raw little-endian
 * bytes (a float array for F32, uint16 bit patterns for F16/BF16). */
typedef struct {
    const char *name;
    const char *dtype; /* "F32", "F16", "BF16", or anything for error tests */
    int rank;
    int64_t dims[SF_MAX_RANK];
    const void *data;
    size_t nbytes;
} tu_tensor;

/* A safetensors file image (malloc'd; free()) holding the tensors back to
 * back in the given order. */
unsigned char *tu_st_image(const tu_tensor *t, int n, size_t *size);
/* An image with the header text given verbatim (single quotes become double
 * quotes) followed by `dlen` data bytes. */
unsigned char *tu_st_raw(const char *header, const void *data, size_t dlen, size_t *size);

/* A copy of `s` with every ' replaced by " (JSON written inside C strings).
 * malloc'd; free(). */
char *tu_json(const char *s);

/* ---- captured diagnostics ------------------------------------------------ */
void tu_diag_capture(void); /* start capturing sfgen's messages */
const char *tu_diag(void);  /* everything captured so far, one per line */
int tu_diag_lines(void);
void tu_diag_release(void); /* back to stderr */
/* Asserts (Check) that the captured messages contain `s`. */
#define TU_ASSERT_DIAG(s) \
    ck_assert_msg(strstr(tu_diag(), (s)) != NULL, "messages lack \"%s\":\n%s", (s), tu_diag())

/* ---- in-memory models -------------------------------------------------------- */
typedef struct {
    sf_arena tmp; /* desc and the safetensors image live here */
    unsigned char *img;
    size_t img_size;
    sf_desc d;
    sf_safetensors st;
    sf_graph g;
} tu_model;

#define TU_MODEL_PATH "/nonexistent/models/m.json"

/* Loads `json` (single quotes allowed) as TU_MODEL_PATH, the tensors as its
 * weights, and builds the graph. Always call tu_model_free afterwards. */
sf_status tu_model_build(tu_model *m, const char *json, const tu_tensor *t, int nt);
/* Census, propagation (propagate as given) and plan. */
sf_status tu_model_plan(tu_model *m, int propagate, const sf_plan_opts *opts);
void tu_model_free(tu_model *m);

/* Node and tensor lookup by name (-1 / NULL when absent). */
int tu_node(const sf_graph *g, const char *name);
int tu_tensor_id(const sf_graph *g, const char *name);
const sf_tensor *tu_t(const sf_graph *g, const char *name);
sf_linear *tu_lin(const sf_graph *g, const char *node);
/* The CPU plan of a linear node (after planning). */
sf_plan *tu_plan(const sf_graph *g, const char *node);

/* ---- files -------------------------------------------------------------------- */
/* mkdtemp under $TMPDIR (or /tmp); the path is written to buf (>= 256). */
void tu_mkdtemp(char *buf, size_t n);
void tu_rmrf(const char *path);
int tu_write_file(const char *dir, const char *name, const void *data, size_t len);
/* malloc'd contents (NUL-terminated) or NULL. */
char *tu_read_file(const char *path, size_t *len);
/* Writes model.json (json: single quotes allowed) and the tensors as
 * `weights_name` into dir; the model path is written to out. */
void tu_write_model(const char *dir, const char *json, const char *weights_name, const tu_tensor *t,
                    int nt, char *out, size_t n);
/* Number of directory entries (without . and ..); -1 if it cannot be read. */
int tu_count_entries(const char *dir);

/* Deterministic LCG for test data. */
uint32_t tu_rng(uint32_t *s);
/* Exactly n nonzeros (of values +-1..8) in every group of m along `in`
 * (a shorter tail group gets min(n, its length)). */
void tu_nm_fill(float *w, int out, int in, int n, int m, uint32_t seed);

#endif
