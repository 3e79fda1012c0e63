/* driver.h - what `sfgen MODEL -o OUT` and `sfgen inspect MODEL` do, as a
 * library call (main.c only parses the command line). */
#ifndef SF_DRIVER_H
#define SF_DRIVER_H

#include "backends/cpu/plan.h"

typedef struct {
    const char *model;      /* model JSON path */
    const char *outdir;     /* output folder (generation) */
    const char *report;     /* also write report.json here, or NULL */
    int inspect, json;      /* inspect: print the census and plan, write nothing */
    int quiet;              /* no census printout, no progress */
    int propagate;          /* dead-channel propagation (1 unless --no-propagate) */
    int threads;            /* default thread count of the generated program */
    sf_plan_opts plan;
} sf_gen_opts;

sf_status sf_generate(const sf_gen_opts *o);

#endif
