/* blob.c - the weights blob (emit/blob.h): the header, then each backend's
 * sections in backend order, then the hashes that tie the generated code to
 * it (docs/FORMATS.md). */
#include "emit/blob.h"

#include "backends/backend.h"

#include <string.h>

sf_status sf_pack_graph(sf_graph *g, sf_blob *blob)
{
    sf_buf *b = &blob->data;
    sf_buf_init(b);
    blob->mask_hash = SF_FNV_SEED;
    unsigned char header[SF_BLOB_HEADER_BYTES] = {0};
    if (sf_buf_append(b, header, sizeof header))
        return sf_error(SF_EINTERNAL, NULL, "out of memory");
    const sf_backend *bk[SF_MAX_BACKENDS];
    int nb = sf_backends_of(g, bk);
    for (int i = 0; i < nb; i++)
        TRY(bk[i]->pack(g, blob));
    if (sf_buf_pad(b, 64))
        return sf_error(SF_EINTERNAL, NULL, "out of memory");
    blob->value_hash =
        sf_hash_fnv1a(SF_FNV_SEED, b->data + SF_BLOB_HEADER_BYTES, b->len - SF_BLOB_HEADER_BYTES);
    sf_blob_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, SF_BLOB_MAGIC, 4);
    h.version = SF_BLOB_VERSION;
    h.size = b->len;
    h.mask_hash = blob->mask_hash;
    h.value_hash = blob->value_hash;
    strncpy(h.model, g->name, sizeof h.model - 1);
    memcpy(b->data, &h, sizeof h);
    return SF_OK;
}

void sf_blob_free(sf_blob *b)
{
    sf_buf_free(&b->data);
}
