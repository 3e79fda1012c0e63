/* report.h - what SPA found and what plan chose, per layer: text for people,
 * JSON for tools (DESIGN §2 "report"). */
#ifndef SF_REPORT_H
#define SF_REPORT_H

#include <stdio.h>

#include "ir/graph.h"
#include "emit/blob.h"

void sf_report_text(const sf_graph *g, FILE *f);
/* blob may be NULL (inspect: nothing packed). */
sf_status sf_report_json(const sf_graph *g, const sf_blob *blob, sf_buf *out);

#endif
