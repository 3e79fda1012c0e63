/* template.h - the template expander. A template is C (or Make, or asm) text
 * cut into named sections by marker lines:
 *
 *     //@@ section_name        (C, asm)        #@@ section_name   (Make)
 *
 * Inside a section, ${name} is replaced by the value of variable `name`;
 * $$ gives a literal $, and so does a $ not followed by { (Make's $(X), $@). An unknown variable or section is an internal error:
 * templates and generator must agree exactly. */
#ifndef SF_TEMPLATE_H
#define SF_TEMPLATE_H

#include "core/sf.h"

#define SF_TPL_MAX_SECTIONS 64
#define SF_TPL_MAX_VARS 160

typedef struct {
    const char *name;          /* e.g. "linear_dense.c.in" */
    int nsections;
    struct { char name[48]; const char *text; size_t len; } sec[SF_TPL_MAX_SECTIONS];
} sf_tpl;

typedef struct {
    int n;
    struct { char key[32]; char val[256]; } v[SF_TPL_MAX_VARS];
} sf_vars;

/* Parses `text` (kept by reference: it must outlive the template). */
sf_status sf_tpl_parse(sf_tpl *t, const char *name, const char *text, size_t len);
/* Appends the expansion of `section` to out. */
sf_status sf_tpl_expand(const sf_tpl *t, const char *section, const sf_vars *vars, sf_buf *out);

void sf_vars_clear(sf_vars *v);
/* Sets (or replaces) a variable; returns -1 when the table or value overflows. */
int sf_vars_set(sf_vars *v, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
