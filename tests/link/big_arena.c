/* big_arena.c - links the library of a model whose arena is far above
 * --static-arena (the conv2d with padding 20000 of run_link.py): the program
 * must start (no static arena in .bss), and a NULL arena is refused. */
#include "padbig.h"

#include <stdio.h>

_Static_assert(PADBIG_STATIC_ARENA == 0, "no static arena above --static-arena");

int main(void)
{
    static float x[PADBIG_MAX_BATCH * PADBIG_x_FLOATS], y[PADBIG_MAX_BATCH * PADBIG_y_FLOATS];
    int rc = padbig_run(x, y, 1, NULL);
    printf("padbig_run with a NULL arena: %d (%s)\n", rc, padbig_strerror(rc));
    return rc == PADBIG_EARENA ? 0 : 1;
}
