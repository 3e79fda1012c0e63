/* pack.h - the CPU backend's sections of the weights blob (emit/blob.h):
 * per layer, in the layout its kernel reads (docs/FORMATS.md). */
#ifndef SF_PACK_H
#define SF_PACK_H

#include "emit/blob.h"

sf_status sf_pack_cpu(sf_graph *g, sf_blob *blob);

#endif
