/* verify.h - what verify.c shares with the op families (generator/ops/),
 * whose shape rules check attributes, weights and shapes. Internal to the
 * verify stage. */
#ifndef SF_VERIFY_H
#define SF_VERIFY_H

#include "ir/graph.h"

typedef struct {
    const sf_desc *d;
    const sf_weights *weights;
    sf_graph *g;
    char w[800];
} sf_vctx;

/* "file: node 'x' (nodes[3]): field 'f'", in a buffer of c's. */
const char *sf_v_where(sf_vctx *c, const sf_desc_node *n, const char *field);
void sf_v_shape_str(const int64_t *dims, int rank, char *buf, size_t n);
/* A weight tensor of the given rank (rank < 0: any), checked. */
sf_status sf_v_weight(sf_vctx *c, const sf_desc_node *n, const char *field, const char *tname,
                      int rank, const sf_st_tensor **out);

#endif
