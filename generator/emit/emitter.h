/* emitter.h - what the backends share to write a model's files: the output
 * file set, the templates (parsed on first use), the template variables,
 * tensor expressions and the loop over the steps, which calls each op
 * family's step (ops/family.h) into the backend's model template. */
#ifndef SF_EMITTER_H
#define SF_EMITTER_H

#include "core/template.h"
#include "emit/blob.h"
#include "ir/op.h"

#define SF_MAX_FILES 4096

typedef struct {
    int n;
    struct {
        char name[128];
        sf_buf buf;
    } f[SF_MAX_FILES];
} sf_files;

void sf_files_init(sf_files *fs);
void sf_files_free(sf_files *fs);
/* A new empty file; NULL when the table is full. */
sf_buf *sf_files_add(sf_files *fs, const char *name);

struct sf_backend;
#define SF_MAX_TEMPLATES 24

/* The emitter's state; op families see it as sf_step_ctx (ops/family.h). */
typedef struct sf_step_ctx {
    sf_graph *g;
    const sf_blob *blob;
    sf_files *fs;
    sf_vars v;                        /* template variables: MODEL, UPPER, ... */
    const struct sf_backend *backend; /* the backend writing now */
    int default_threads;              /* the program's thread count (0: OpenMP's) */
    const unsigned char *fused;       /* [nsteps] or NULL: steps the backend folded into
                                       the one before (section "step_fused") */
    int step;                         /* the step being written */
    const sf_op_family *fam;          /* its op family: the sections it may expand */
    sf_buf *out;                      /* where the step goes */
    sf_buf step_code;                 /* each step's code, before it joins list STEPS */
    char **tvar, **svar;              /* C names of arena tensors [ntensors], scratch [nnodes] */
    const struct sf_backend *const *backends; /* all of them; [0] is the CPU one */
    int ntpl;
    struct {
        const char *path;
        sf_tpl t;
    } tpl[SF_MAX_TEMPLATES];
} sf_emitter;

/* Writes every file of the model for each backend it is generated for
 * (sf_backends_of): the common variables, then each backend's files.
 * default_threads: the program's thread count (0: OpenMP's default). */
sf_status sf_emit(sf_graph *g, const sf_blob *blob, sf_files *fs, int default_threads);

/* Expands `section` of template `tpl` (a path under templates/). */
sf_status sf_emit_expand(sf_emitter *e, const char *tpl, const char *section, sf_buf *out);
/* Starts file `name` with the banner (section `banner` of banner.in) naming `tpl`. */
sf_status sf_emit_file(sf_emitter *e, const char *name, const char *tpl, const char *banner,
                       sf_buf **out);
/* File <model><suffix>: the banner, then section "file" of template `tpl`. */
sf_status sf_emit_whole(sf_emitter *e, const char *suffix, const char *tpl);
/* List STEPS: per step in order its NAME, KERNEL, FLOPS and CODE (the op
 * family's step in the backend's model template, without the last newline). */
sf_status sf_emit_steps(sf_emitter *e);
/* Copies runtime/<dir>/ (every embedded file) into the output folder. */
sf_status sf_emit_runtime(sf_emitter *e, const char *dir);

/* The C expression of a tensor in a run function: in[i], out[i], or the
 * name of its arena buffer (list BUFFERS). */
void sf_emit_tensor(const sf_emitter *e, int id, char *buf, size_t n);
/* The name of a step's scratch buffer, NULL when it has none. */
const char *sf_emit_scratch(const sf_emitter *e, const sf_node *n);
/* Text safe inside a C comment or string literal. */
void sf_clean_text(const char *s, char *out, size_t n);
/* FLOPs of one batch item of a step. */
double sf_step_flops(const sf_graph *g, const sf_node *n);
/* The runtime function of an elementwise op without parameters (gelu's form). */
const char *sf_unary_runtime(const sf_node *n);
sf_status sf_oom(void);

/* Sets a variable of e->v or returns an internal error naming it. */
#define SET(key, ...)                                                                \
    do {                                                                             \
        if (sf_vars_set(&c->v, key, __VA_ARGS__))                                    \
            return sf_error(SF_EINTERNAL, NULL,                                      \
                            "template variable table full or value too long: " key); \
    } while (0)

#endif
