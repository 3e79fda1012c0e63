/* backend.c - which backends a graph is generated for. */
#include "backends/backend.h"

int sf_backends_of(const sf_graph *g, const sf_backend **out)
{
    int n = 0;
    out[n++] = &sf_backend_cpu;
    if (g->target_cuda)
        out[n++] = &sf_backend_cuda;
    return n;
}
