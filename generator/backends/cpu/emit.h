/* emit.h - fills the templates into the files of a generated model folder
 * (in memory; output.c writes them). */
#ifndef SF_EMIT_H
#define SF_EMIT_H

#include "ir/graph.h"
#include "backends/cpu/pack.h"

#define SF_MAX_FILES 4096

typedef struct {
    int n;
    struct { char name[128]; sf_buf buf; } f[SF_MAX_FILES];
} sf_files;

void sf_files_init(sf_files *fs);
void sf_files_free(sf_files *fs);
/* A new empty file; NULL when the table is full. */
sf_buf *sf_files_add(sf_files *fs, const char *name);

/* Arena layout of the generated run function (bytes, max batch). */
typedef struct {
    size_t total;                       /* <NAME>_ARENA_BYTES */
    size_t live_peak;                   /* most bytes live at one step: the lower bound */
} sf_arena_plan;
/* Places every intermediate tensor and step scratch by liveness; sets
 * tensor arena_offset, node temp_offset and g->arena_bytes. */
sf_status sf_plan_arena(sf_graph *g, sf_arena_plan *ap);

/* Generates every source file, the Makefile, the runtime copies and the
 * blob into fs. default_threads: the program's thread count when --threads is not given
 * (0: OpenMP's default). */
sf_status sf_emit(sf_graph *g, const sf_blob *blob, sf_files *fs, int default_threads);

#endif
