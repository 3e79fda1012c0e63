/* driver.h - what `sfgen MODEL -o OUT` and `sfgen inspect MODEL` do, as a
 * library call (main.c only parses the command line). */
#ifndef SF_DRIVER_H
#define SF_DRIVER_H

#include "backends/cpu/plan.h"
#include "frontends/onnx.h"

#include <stdio.h>

typedef struct {
    const char *model;      /* model JSON path */
    const char *outdir;     /* output folder (generation) */
    const char *report;     /* also write report.json here, or NULL */
    int inspect, json;      /* inspect: print the census and plan, write nothing */
    int quiet;              /* no census printout, no progress */
    int force;              /* write into a non-empty folder sfgen did not make */
    const char *gpu_option; /* the --gpu-* option given, if any (needs --target cuda) */
    int propagate;          /* dead-channel propagation (1 unless --no-propagate) */
    int threads;            /* default thread count of the generated program */
    int external_weights;   /* --external-weights: the blob is read at run time */
    sf_plan_opts plan;
    sf_shape_binding shapes[SF_MAX_IO]; /* --shape NAME=D0xD1x... (ONNX inputs) */
    int nshapes;
} sf_gen_opts;

void sf_gen_opts_init(sf_gen_opts *o);
/* Frees what options allocated (--shape names). */
void sf_gen_opts_free(sf_gen_opts *o);
/* One option (name as on the command line, "--threads") and the argument
 * after it (NULL when there is none); *took = 1 when the option used it. */
sf_status sf_gen_option(sf_gen_opts *o, const char *name, const char *value, int *took);
/* A model, and -o unless inspecting. */
sf_status sf_gen_opts_check(const sf_gen_opts *o);

/* Runs one generation or inspection. Inspection writes its report to
 * `inspect_out` when not NULL, else to standard output. */
sf_status sf_generate(const sf_gen_opts *o, FILE *inspect_out);

#endif
