/* output.h - writes a generated folder atomically: everything goes to a
 * temporary sibling folder first; a new folder is renamed into place, an
 * existing one only gets the files whose content changed. On failure
 * nothing is left behind. */
#ifndef SF_OUTPUT_H
#define SF_OUTPUT_H

#include "emit/emitter.h"

sf_status sf_output_write(const char *outdir, const sf_files *fs);

#endif
