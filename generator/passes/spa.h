/* spa.h - Sparsity Propagation Analysis: the census of every weight and the
 * propagation of zero and unused channels through the graph. */
#ifndef SF_SPA_H
#define SF_SPA_H

#include "ir/graph.h"

/* Census of a weight [out][in] with N:M groups along `in`. */
void sf_census_compute(const float *w, int64_t out, int64_t in, sf_census *c);
/* Census of every linear layer. */
void sf_spa_census(sf_graph *g);
/* Forward: exactly-zero channels; backward: channels some consumer reads.
 * With propagate == 0 every channel counts as nonzero and needed. */
void sf_spa_propagate(sf_graph *g, int propagate);

#endif
