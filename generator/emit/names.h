/* names.h - the output folder's names must not clash (docs/CLI.md, "Model
 * names"): the model's name is part of file names, make targets and C
 * symbols, next to the runtime's fixed ones. */
#ifndef SF_NAMES_H
#define SF_NAMES_H

#include "emit/emitter.h"

/* SF_EINPUT, naming the model's field 'name', when the model's name makes two
 * generated files, make targets or symbols the same; checked on the files
 * actually emitted (`fs`, its Makefile included). */
sf_status sf_emit_check_names(const sf_graph *g, const sf_files *fs);

#endif
