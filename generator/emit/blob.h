/* blob.h - the weights blob: a 64-byte header (runtime/sf_format.h), then
 * each backend's sections in backend order, 64-byte aligned
 * (docs/FORMATS.md). */
#ifndef SF_BLOB_H
#define SF_BLOB_H

#include "ir/graph.h"
#include "sf_format.h"

typedef struct {
    sf_buf data;        /* the whole blob */
    uint64_t mask_hash; /* layout + masks: the code is valid for any blob with it */
    uint64_t value_hash;
} sf_blob;

/* Packs the graph with every backend it is generated for: the header, each
 * backend's sections, the hashes. */
sf_status sf_pack_graph(sf_graph *g, sf_blob *b);
void sf_blob_free(sf_blob *b);

#endif
