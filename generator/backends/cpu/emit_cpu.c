/* emit_cpu.c - the CPU backend's files: the header, the run function
 * (<model>.c), one source per linear layer on its kernel's template, the
 * program, the Makefile, the weights and the runtime (DESIGN §6). */
#include "backends/backend.h"
#include "backends/cpu/cpu.h"
#include "backends/cpu/kernels.h"
#include "ops/family.h"
#include "report/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The CPU backend's templates (under templates/). */
#define T_DENSE      "cpu/linear_dense.c.in"
#define T_UNROLLED   "cpu/linear_nm_unrolled.c.in"
#define T_COMPRESSED "cpu/linear_nm_compressed.c.in"
#define T_NM24       "cpu/linear_nm24.c.in"
#define T_MODEL_H    "cpu/model.h.in"
#define T_INTERNAL_H "cpu/model_internal.h.in"
#define T_MODEL_C    "cpu/model.c.in"
#define T_MAIN_C     "cpu/main.c.in"
#define T_WEIGHTS_S  "cpu/weights.S.in"
#define T_MAKEFILE   "Makefile.in"

sf_status sf_cpu_layer_vars(sf_emitter *c, const sf_node *n)
{
    const sf_linear *L = n->lin;
    const sf_plan *p = sf_cpu_plan(c->g, L);
    char name[128];
    sf_clean_text(n->name, name, sizeof name);
    int R = p->row_block;
    SET("FN", "%s", p->fn);
    SET("NODE", "%s", name);
    SET("OPW", "%s", n->op_written);
    SET("K", "%lld", (long long)L->in);
    SET("O", "%lld", (long long)L->out);
    SET("R", "%d", R);
    SET("TB", "%d", p->tile_vecs);
    SET("NRB", "%d", (p->nrows + R - 1) / R);
    SET("NROWS", "%d", p->nrows);
    SET("NCOLS", "%d", p->ncols);
    SET("NZERO", "%d", p->nzero_rows);
    SET("NNZ", "%zu", p->nnz);
    SET("M", "%d", p->m);
    SET("PATTERN", "%d:%d", p->n, p->m);
    SET("OFF_W", "%zu", p->off_w);
    SET("OFF_ROWS", "%zu", p->off_rows);
    SET("OFF_ROWPTR", "%zu", p->off_rowptr);
    SET("OFF_COL", "%zu", p->off_col);
    SET("OFF_ZERO", "%zu", p->off_zero_rows);
    SET("IDX_T", "%s", p->col_u16 ? "uint16_t" : "int32_t");
    if (p->kernel == SF_K_NM24) { /* chunks of 32 inputs; masks of the last */
        int64_t chunks = (L->in + 31) / 32, full = L->in / 32, rem = L->in - 32 * full;
        SET("CHUNKS", "%lld", (long long)chunks);
        SET("FULL", "%lld", (long long)full);
        SET("SLOTS", "%lld", (long long)(16 * chunks));
        SET("NROWS2", "%d", (p->nrows + 1) / 2 * 2);
        SET("PAIR_BYTES", "%lld", (long long)((chunks + 7) / 8 * 64 + chunks * 128));
        SET("MASK_LO", "0x%llx", rem >= 16 ? 0xffffULL : (1ULL << rem) - 1);
        SET("MASK_HI", "0x%llx", rem > 16 ? (1ULL << (rem - 16)) - 1 : 0ULL);
    }
    if (p->ncols == L->in)
        SET("COLS_EXPR", "NULL");
    else
        SET("COLS_EXPR", "(const int32_t *)(%s_blob + %zu)", c->g->name, p->off_cols);
    return SF_OK;
}

typedef struct {
    sf_emitter *c;
    sf_buf *out;
    int k0, open;
    sf_status st;
} unroll_ctx;

static void u_group(void *ctx, int k0, int k1)
{
    unroll_ctx *u = ctx;
    sf_emitter *c = u->c;
    if (u->st)
        return;
    if (u->open)
        u->st = sf_emit_expand(c, T_UNROLLED, "group_end", u->out);
    u->k0 = k0;
    u->open = 1;
    if (!u->st && (sf_vars_set(&c->v, "K0", "%d", k0) || sf_vars_set(&c->v, "K1", "%d", k1 - 1)))
        u->st = sf_oom();
    if (!u->st)
        u->st = sf_emit_expand(c, T_UNROLLED, "group_begin", u->out);
}

static void u_load(void *ctx, int k)
{
    unroll_ctx *u = ctx;
    sf_emitter *c = u->c;
    if (u->st)
        return;
    if (sf_vars_set(&c->v, "J", "%d", k - u->k0) || sf_vars_set(&c->v, "KX", "%d", k))
        u->st = sf_oom();
    else
        u->st = sf_emit_expand(c, T_UNROLLED, "load", u->out);
}

static void u_fma(void *ctx, int r, int k, float w, size_t widx)
{
    (void)w;
    unroll_ctx *u = ctx;
    sf_emitter *c = u->c;
    if (u->st)
        return;
    if (sf_vars_set(&c->v, "R", "%d", r) || sf_vars_set(&c->v, "J", "%d", k - u->k0) ||
        sf_vars_set(&c->v, "W", "%zu", widx))
        u->st = sf_oom();
    else
        u->st = sf_emit_expand(c, T_UNROLLED, "fma", u->out);
}

static sf_status emit_unrolled(sf_emitter *c, const sf_node *n, sf_buf *out)
{
    const sf_linear *L = n->lin;
    const sf_plan *p = sf_cpu_plan(c->g, L);
    int R = p->row_block, nrb = (p->nrows + R - 1) / R;
    TRY(sf_emit_expand(c, T_UNROLLED, "head", out));
    static const sf_walk_visitor vis = {u_group, u_load, u_fma};
    size_t *woff = sf_malloc(sizeof(size_t) * (size_t)(nrb ? nrb : 1));
    if (!woff)
        return sf_oom();
    size_t acc = 0;
    sf_status st = SF_OK;
    for (int rb = 0; rb < nrb && !st; rb++) {
        int r0 = rb * R, r1 = r0 + R < p->nrows ? r0 + R : p->nrows;
        if (sf_vars_set(&c->v, "RB", "%d", rb) ||
            sf_vars_set(&c->v, "ROWS", "%d..%d", p->rows[r0], p->rows[r1 - 1])) {
            st = sf_oom();
            break;
        }
        if ((st = sf_emit_expand(c, T_UNROLLED, "block_begin", out)))
            break;
        for (int r = 0; r < r1 - r0 && !st; r++) {
            if (sf_vars_set(&c->v, "R", "%d", r))
                st = sf_oom();
            else
                st = sf_emit_expand(c, T_UNROLLED, "acc", out);
        }
        unroll_ctx u = {c, out, 0, 0, SF_OK};
        woff[rb] = acc;
        if (!st)
            acc += sf_plan_walk_unrolled(L, p, rb, &vis, &u);
        st = st ? st : u.st;
        if (!st && u.open)
            st = sf_emit_expand(c, T_UNROLLED, "group_end", out);
        char rowlist[SF_ROW_BLOCK_UNROLLED_MAX * 12] = "";
        for (int r = 0, len = 0; r < r1 - r0; r++)
            len += snprintf(rowlist + len, sizeof rowlist - (size_t)len, "%s%d", r ? ", " : "",
                            p->rows[r0 + r]);
        if (!st && (sf_vars_set(&c->v, "NR", "%d", r1 - r0) ||
                    sf_vars_set(&c->v, "ROWLIST", "%s", rowlist)))
            st = sf_oom();
        if (!st)
            st = sf_emit_expand(c, T_UNROLLED, "store_begin", out);
        for (int r = 0; r < r1 - r0 && !st; r++) {
            if (sf_vars_set(&c->v, "R", "%d", r))
                st = sf_oom();
            else
                st = sf_emit_expand(c, T_UNROLLED, "store", out);
        }
        if (!st)
            st = sf_emit_expand(c, T_UNROLLED, "store_end", out);
        if (!st)
            st = sf_emit_expand(c, T_UNROLLED, "block_end", out);
    }
    if (!st)
        st = sf_emit_expand(c, T_UNROLLED, "table_begin", out);
    for (int rb = 0; rb < nrb && !st; rb++) {
        if (sf_vars_set(&c->v, "RB", "%d", rb))
            st = sf_oom();
        else
            st = sf_emit_expand(c, T_UNROLLED, "table_entry", out);
    }
    if (!st)
        st = sf_emit_expand(c, T_UNROLLED, "table_mid", out);
    for (int rb = 0; rb < nrb && !st; rb++) {
        if (sf_vars_set(&c->v, "WOFF", "%zu", woff[rb]))
            st = sf_oom();
        else
            st = sf_emit_expand(c, T_UNROLLED, "woff_entry", out);
    }
    sf_free(woff);
    TRY(st);
    return sf_emit_expand(c, T_UNROLLED, "entry", out);
}

static sf_status emit_layer(sf_emitter *c, const sf_node *n)
{
    const sf_plan *p = sf_cpu_plan(c->g, n->lin);
    char fname[128];
    snprintf(fname, sizeof fname, "%s.c", p->fn);
    TRY(sf_cpu_layer_vars(c, n)); /* the unrolled emitter reuses R, RB, ... below */
    const char *t = p->kernel == SF_K_DENSE         ? T_DENSE
                    : p->kernel == SF_K_NM_UNROLLED ? T_UNROLLED
                    : p->kernel == SF_K_NM24        ? T_NM24
                                                    : T_COMPRESSED;
    sf_buf *out;
    TRY(sf_emit_file(c, fname, t, "c", &out));
    if (p->kernel == SF_K_NM_UNROLLED)
        TRY(emit_unrolled(c, n, out));
    else
        TRY(sf_emit_expand(c, t, "body", out));
    if (p->nzero_rows)
        TRY(sf_emit_expand(c, t, "zero_rows", out));
    TRY(sf_emit_expand(c, t, "end", out));
    if (!sf_cpu_conv_chw(c->g, n))
        return SF_OK;
    SET("CNV", "%d", sf_cpu_chw_vectors(p));
    TRY(sf_emit_expand(c, t, "chw", out));
    if (p->nzero_rows)
        TRY(sf_emit_expand(c, t, "chw_zero_rows", out));
    return sf_emit_expand(c, t, "chw_end", out);
}

/* ---- model files ----------------------------------------------------------- */

/* List LAYERS: each linear layer's function, source file and whether it
 * also has the channel-major (_chw) form. */
static sf_status layers(sf_emitter *c)
{
    const sf_graph *g = c->g;
    if (sf_vars_list(&c->v, "LAYERS"))
        return sf_oom();
    for (int oi = 0; oi < g->nsteps; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (n->lin &&
            (sf_vars_item(&c->v, "LAYERS") ||
             sf_vars_item_set(&c->v, "LAYERS", "FN", "%s", sf_cpu_plan(c->g, n->lin)->fn) ||
             sf_vars_item_set(&c->v, "LAYERS", "SRC", "%s.c", sf_cpu_plan(c->g, n->lin)->fn) ||
             sf_vars_item_set(&c->v, "LAYERS", "CHW", "%d", sf_cpu_conv_chw(c->g, n))))
            return sf_oom();
    }
    return SF_OK;
}

/* <model>.h (the public API) and <model>_internal.h. */
static sf_status emit_header(sf_emitter *c)
{
    TRY(sf_emit_whole(c, ".h", T_MODEL_H));
    return sf_emit_whole(c, "_internal.h", T_INTERNAL_H);
}

/* <model>.c: the run functions (cpu/model.c.in, section "file"). */
static sf_status emit_model_c(sf_emitter *c)
{
    TRY(sf_emit_steps(c));
    return sf_emit_whole(c, ".c", T_MODEL_C);
}

/* <model>_main.c: the model's description for the runtime's program. */
static sf_status emit_main(sf_emitter *c)
{
    return sf_emit_whole(c, "_main.c", T_MAIN_C);
}

static sf_status emit_build(sf_emitter *c)
{
    sf_graph *g = c->g;
    sf_buf *out;
    char name[160];
    SET("TARGET_CUDA", "%d", g->target_cuda);
    TRY(sf_emit_file(c, "Makefile", T_MAKEFILE, "make", &out));
    TRY(sf_emit_expand(c, T_MAKEFILE, "file", out));

    if (!g->external_weights) { /* else <model>_load_weights reads the blob */
        snprintf(name, sizeof name, "%s_weights.S", g->name);
        TRY(sf_emit_file(c, name, T_WEIGHTS_S, "c", &out));
        TRY(sf_emit_expand(c, T_WEIGHTS_S, "body", out));
    }

    snprintf(name, sizeof name, "%s.weights", g->name);
    out = sf_files_add(c->fs, name);
    if (!out || sf_buf_append(out, c->blob->data.data, c->blob->data.len))
        return sf_oom();

    TRY(sf_emit_runtime(c, NULL)); /* sf_format.h */
    TRY(sf_emit_runtime(c, "cpu"));
    out = sf_files_add(c->fs, "report.json");
    if (!out)
        return sf_oom();
    return sf_report_json(g, c->blob, out);
}

/* A linear layer, or a convolution lowered to one, on its CPU kernel. */
static sf_status linear_step(sf_emitter *c, const sf_node *n)
{
    sf_graph *g = c->g;
    sf_buf *out = c->out;
    const sf_tensor *x = &g->tensors[n->in[0]], *to = &g->tensors[n->out];
    const char *tpl = T_MODEL_C;
    const char *scratch = sf_emit_scratch(c, n);
    if (n->op == SF_OP_LINEAR) {
        TRY(sf_cpu_layer_vars(c, n));
        SET("KERNEL", "%s", sf_cpu_plan(c->g, n->lin)->variant->name);
        SET("SCRATCH", "%s", scratch ? scratch : "NULL");
        SET("TOKENS", "%lld", (long long)n->lin->tokens_per_item);
        return sf_emit_expand(c, tpl, "step_linear", out);
    }
    TRY(sf_step_conv_shape(c, n));
    TRY(sf_cpu_layer_vars(c, n));
    SET("KERNEL", "%s", sf_cpu_plan(c->g, n->lin)->variant->name);
    SET("COLS", "%s", scratch ? scratch : "NULL");
    if (sf_cpu_conv_chw(c->g, n)) {
        SET("XB", "%lld", (long long)sf_tensor_inner(x));
        SET("YB", "%lld", (long long)sf_tensor_inner(to));
        SET("P", "%lld", (long long)n->lin->tokens_per_item);
        return sf_emit_expand(c, tpl, sf_cpu_conv_no_cols(n) ? "step_conv_1x1" : "step_conv_chw",
                              out);
    }
    SET("TOK", "(%s + %zu)", scratch, sf_cpu_conv_cols_bytes(g, n));
    SET("SCRATCH", "(%s + %zu)", scratch,
        sf_cpu_conv_cols_bytes(g, n) + sf_cpu_conv_tok_bytes(g, n));
    SET("TOKENS", "%lld", (long long)n->lin->tokens_per_item);
    return sf_emit_expand(c, tpl, "step_conv", out);
}

/* A weight in the blob linked into the library. */
static void const_expr(const sf_emitter *c, size_t off, char *buf, size_t n)
{
    snprintf(buf, n, "(const float *)(const void *)(%s_blob + %zu)", c->g->name, off);
}

static const char *kernel_name(const sf_emitter *c, int oi)
{
    const sf_node *n = &c->g->nodes[c->g->order[oi]];
    return n->lin ? sf_cpu_plan(c->g, n->lin)->variant->name : sf_op_name(n->op);
}

static const char *scratch_what(const sf_graph *g, const sf_node *n)
{
    return sf_cpu_conv_chw(g, n)   ? "one image's im2col rows"
           : n->op == SF_OP_CONV2D ? "im2col rows, token-major result, tiles"
                                   : "repacked activation tiles";
}

static sf_status emit(sf_emitter *c)
{
    const sf_graph *g = c->g;
    TRY(layers(c));
    TRY(emit_header(c));
    TRY(emit_model_c(c));
    for (int oi = 0; oi < g->nsteps; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (n->lin)
            TRY(emit_layer(c, n));
    }
    TRY(emit_main(c));
    return emit_build(c);
}

const sf_backend sf_backend_cpu = {
    .name = "cpu",
    .model_template = T_MODEL_C,
    .plan = sf_plan_graph,
    .pack = sf_pack_cpu,
    .emit = emit,
    .linear_step = linear_step,
    .kernel_name = kernel_name,
    .scratch_what = scratch_what,
    .const_expr = const_expr,
};
