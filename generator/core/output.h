/* output.h - writes a generated folder atomically: everything goes to a
 * temporary sibling folder first; a new folder is renamed into place, an
 * existing one only gets the files whose content changed. On failure
 * nothing is left behind. */
#ifndef SF_OUTPUT_H
#define SF_OUTPUT_H

#include "emit/emitter.h"

/* Written into every output folder: an existing non-empty folder without it
 * is not sfgen's, and is not written into unless forced (docs/CLI.md). */
#define SF_OUTPUT_MARKER ".sfgen"

typedef struct {
    int force;                 /* write into a non-empty folder without the marker */
    const char *report;        /* also write report_data to this file, or NULL */
    const sf_buf *report_data; /* staged and committed before the folder */
} sf_output_opts;

sf_status sf_output_write_opts(const char *outdir, const sf_files *fs, const sf_output_opts *o);
/* The same with no report and no force. */
sf_status sf_output_write(const char *outdir, const sf_files *fs);

#endif
