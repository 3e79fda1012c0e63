/* pack.h - the weights blob: a 64-byte header, then each layer's sections in
 * the format its kernel reads, 64-byte aligned (docs/FORMATS.md). */
#ifndef SF_PACK_H
#define SF_PACK_H

#include "ir/graph.h"

#define SF_BLOB_VERSION 1
#define SF_BLOB_HEADER_BYTES 64

typedef struct {
    sf_buf data;            /* the whole blob */
    uint64_t mask_hash;     /* layout + masks: the code is valid for any blob with it */
    uint64_t value_hash;
} sf_blob;

/* Fills every linear's plan offsets and builds the blob. */
sf_status sf_pack_graph(sf_graph *g, sf_blob *b);
void sf_blob_free(sf_blob *b);
/* Appends one linear layer's GPU sections (pack_cuda.c) and sets their
 * offsets in gp; colmask: the columns the plan keeps (sf_plan_col_mask).
 * -1 when memory runs out. */
int sf_pack_cuda_layer(const sf_linear *L, const unsigned char *colmask, sf_gpu_dtype dt,
                       sf_buf *b, sf_gplan *gp);

#endif
