/* passes.h - the passes over the IR between verify and emit, in the order
 * driver.c runs them (docs/ARCHITECTURE.md, "Passes"). Each reads and
 * annotates the graph; none writes text. */
#ifndef SF_PASSES_H
#define SF_PASSES_H

#include "ir/graph.h"

/* fold.c: merges each batch norm into the convolution that feeds it alone. */
sf_status sf_pass_fold_batchnorm(sf_graph *g);

#endif
