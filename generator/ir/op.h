/* op.h - the op table (ir/ops.def) as descriptors, and what an op family
 * (generator/ops/) provides: attributes and output shape at verify time,
 * FLOPs for reports and profiles, and the step each backend emits. */
#ifndef SF_OP_H
#define SF_OP_H

#include "ir/verify.h"

/* A backend's emitter as an op family's step sees it (emit/emitter.c). */
typedef struct sf_step_ctx sf_step_ctx;

typedef struct {
    const char *name;
    /* Attributes, weights and the output shape (node->out); inputs are
     * resolved and shaped. Messages name the node and the field. */
    sf_status (*shape)(sf_vctx *c, const sf_desc_node *n, sf_node *node);
    /* Floating-point operations of one batch item; NULL: one per output element. */
    double (*flops)(const sf_graph *g, const sf_node *n);
    /* The step in the run function: sets template variables and expands
     * sections of the backend's model template (each listed in `sections`). */
    sf_status (*step)(sf_step_ctx *c, const sf_node *n);
    const char *const *sections; /* NULL-terminated (empty: the backend's own step) */
} sf_op_family;

typedef enum { SF_P_NONE = 0, SF_P_W = 1, SF_P_WB = 3 } sf_op_params;
typedef enum { SF_Z_NONE, SF_Z_KEEP, SF_Z_CHAN, SF_Z_BOTH, SF_Z_EITHER, SF_Z_OWN } sf_zero_rule;

typedef struct {
    const char *name;
    const sf_op_family *family;
    int in_min, in_max;
    sf_op_params params;
    sf_zero_rule zero;
    const char *runtime;      /* elementwise: the runtime's function enum */
    const char *const *attrs; /* NULL-terminated, or NULL */
} sf_op_def;

extern const sf_op_def sf_op_table[SF_OP_COUNT];

static inline const sf_op_def *sf_op_get(sf_op op)
{
    return &sf_op_table[op];
}
/* The op a model names (aliases included); -1 when unknown. */
int sf_op_lookup(const char *name);
/* "linear, matmul, relu, ..." for messages. */
void sf_op_list(char *buf, size_t n);
/* Whether any op takes attribute `key`; returns the table's copy of it. */
const char *sf_op_attr_key(const char *key);
/* SPA: output channel c depends only on channel c of each input (broadcast). */
int sf_op_channelwise(sf_op op);
/* Whether the op reads a constant's tensor (dims[0] 1, not the batch) as an
 * input: the broadcasting ops (binary, where, expand). */
int sf_op_takes_const(sf_op op);

/* The families (generator/ops/<family>.c). */
#define SF_FAMILY(f) extern const sf_op_family sf_family_##f;
SF_FAMILY(linear)
SF_FAMILY(unary)
SF_FAMILY(binary)
SF_FAMILY(where)
SF_FAMILY(reduce)
SF_FAMILY(conv)
SF_FAMILY(batchnorm)
SF_FAMILY(pool)
SF_FAMILY(layout)
SF_FAMILY(norm)
SF_FAMILY(matmul)
SF_FAMILY(embedding)
SF_FAMILY(attention)
SF_FAMILY(constant)
SF_FAMILY(expand)
#undef SF_FAMILY

#endif
