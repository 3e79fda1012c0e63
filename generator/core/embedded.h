/* embedded.h - templates and runtime files compiled into sfgen (by embed.c
 * at build time), so the binary works from any folder. */
#ifndef SF_EMBEDDED_H
#define SF_EMBEDDED_H

#include <stddef.h>

typedef struct {
    const char *path;          /* e.g. "templates/model.c.in" */
    const unsigned char *data; /* NUL-terminated */
    size_t len;
} sf_embedded_file;

extern const sf_embedded_file sf_embedded_files[]; /* ends with a NULL path */

const sf_embedded_file *sf_embedded_find(const char *path);

#endif
