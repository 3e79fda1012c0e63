/* template.h - the template expander. A template is C (or Make, or asm) text
 * cut into named sections by marker lines:
 *
 *     //@@ section_name        (C, asm)        #@@ section_name   (Make)
 *
 * Inside a section, ${name} is replaced by the value of variable `name`;
 * $$ gives a literal $, and so does a $ not followed by { (Make's $(X), $@).
 * Lines holding only a directive (leading blanks allowed) shape the text:
 *
 *     $for T in INPUTS     the lines up to the matching $endfor, once per
 *     ...                  item of list INPUTS; ${T.NAME} is the item's NAME
 *     $endfor              (loops nest; inner names hide outer ones)
 *     $if COND             the lines up to $else or $endif when COND holds:
 *     $else                a variable, or an item's key (T.NAME), whose
 *     $endif               value is not empty and not 0; $if !COND negates
 *
 * An unknown variable, list, key or section, or an unbalanced directive, is
 * an internal error: templates and generator must agree exactly. */
#ifndef SF_TEMPLATE_H
#define SF_TEMPLATE_H

#include "core/sf.h"

#define SF_TPL_MAX_SECTIONS 64
#define SF_TPL_MAX_VARS     160

typedef struct {
    const char *name; /* e.g. "linear_dense.c.in" */
    int nsections;
    struct {
        char name[48];
        const char *text;
        size_t len;
    } sec[SF_TPL_MAX_SECTIONS];
} sf_tpl;

/* A list variable: items of key/value pairs (values of any length). */
typedef struct {
    char *key, *val;
} sf_kv;
typedef struct {
    sf_kv *kv;
    int n, cap;
} sf_titem;
typedef struct {
    char name[32];
    sf_titem *items;
    int n, cap;
} sf_tlist;

typedef struct {
    int n;
    struct {
        char key[32];
        char val[256];
    } v[SF_TPL_MAX_VARS];
    sf_tlist *lists;
    int nlists, lists_cap; /* heap: sf_vars_clear frees them */
} sf_vars;

/* Parses `text` (kept by reference: it must outlive the template). */
sf_status sf_tpl_parse(sf_tpl *t, const char *name, const char *text, size_t len);
/* Appends the expansion of `section` to out. */
sf_status sf_tpl_expand(const sf_tpl *t, const char *section, const sf_vars *vars, sf_buf *out);

/* Empties the table and frees its lists. */
void sf_vars_clear(sf_vars *v);
/* Sets (or replaces) a variable; returns -1 when the table or value overflows. */
int sf_vars_set(sf_vars *v, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Creates list `name`, or empties it; -1 when out of memory. */
int sf_vars_list(sf_vars *v, const char *name);
/* Appends an empty item to list `name`; -1 when there is no such list or
 * memory runs out. */
int sf_vars_item(sf_vars *v, const char *name);
/* Sets `key` of the last item of list `name`; -1 on failure. */
int sf_vars_item_set(sf_vars *v, const char *name, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
