/* emit.c - fills templates/ into a model's sources (DESIGN §2 "emit").
 * All C text lives in the templates; this file decides which section to
 * expand with which values. Output depends only on the graph: same model,
 * same bytes. */
#include "emit.h"

#include "kernels.h"
#include "embedded.h"
#include "plan.h"
#include "report.h"
#include "template.h"

#include <stdio.h>
#include <string.h>

static sf_status oom(void) { return sf_error(SF_EINTERNAL, NULL, "out of memory"); }

/* ---- files ------------------------------------------------------------------ */

void sf_files_init(sf_files *fs) { fs->n = 0; }

void sf_files_free(sf_files *fs)
{
    for (int i = 0; i < fs->n; i++)
        sf_buf_free(&fs->f[i].buf);
    fs->n = 0;
}

sf_buf *sf_files_add(sf_files *fs, const char *name)
{
    if (fs->n == SF_MAX_FILES || strlen(name) >= sizeof fs->f[0].name)
        return NULL;
    snprintf(fs->f[fs->n].name, sizeof fs->f[0].name, "%s", name);
    sf_buf_init(&fs->f[fs->n].buf);
    return &fs->f[fs->n++].buf;
}

/* ---- context ------------------------------------------------------------------ */

enum { T_BANNER, T_DENSE, T_UNROLLED, T_COMPRESSED, T_NM24, T_MODEL_H, T_INTERNAL_H, T_MODEL_C,
       T_MAIN_C, T_MAKEFILE, T_WEIGHTS_S, T_COUNT };
static const char *const k_tpl_files[T_COUNT] = {
    "banner.in", "linear_dense.c.in", "linear_nm_unrolled.c.in", "linear_nm_compressed.c.in",
    "linear_nm24.c.in", "model.h.in", "model_internal.h.in", "model.c.in", "main.c.in", "Makefile.in",
    "weights.S.in"};
static const char *const k_runtime_files[] = {"sf_runtime.h", "sf_ops.h", "sf_ops.c",
                                              "sf_npy.h", "sf_npy.c"};

typedef struct {
    sf_graph *g;
    const sf_blob *blob;
    sf_files *fs;
    sf_tpl tpl[T_COUNT];
    sf_vars v;              /* common variables: MODEL, UPPER, ... */
    sf_arena_plan ap;
} ectx;

/* Text safe inside a C comment or string literal. */
static void clean_text(const char *s, char *out, size_t n)
{
    size_t j = 0;
    for (; *s && j + 1 < n; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '.' || c == '-' || c == ':';
        out[j++] = ok ? c : '_';
    }
    out[j] = 0;
}

static sf_status expand(ectx *c, int t, const char *section, sf_buf *out)
{
    return sf_tpl_expand(&c->tpl[t], section, &c->v, out);
}

/* Starts a file with the banner for its template. */
static sf_status file_begin(ectx *c, const char *name, int t, const char *banner, sf_buf **out)
{
    *out = sf_files_add(c->fs, name);
    if (!*out)
        return sf_error(SF_EINTERNAL, NULL, "too many output files");
    if (sf_vars_set(&c->v, "TEMPLATE", "%s", k_tpl_files[t]))
        return oom();
    return expand(c, T_BANNER, banner, *out);
}

#define SET(key, ...)                                   \
    do {                                                \
        if (sf_vars_set(&c->v, key, __VA_ARGS__))       \
            return sf_error(SF_EINTERNAL, NULL, "template variable table full or value too long: " key); \
    } while (0)
#define TRY(x)                   \
    do {                         \
        sf_status s_ = (x);      \
        if (s_)                  \
            return s_;           \
    } while (0)

/* ---- arena ------------------------------------------------------------------ */

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

static int is_intermediate(const sf_tensor *t) { return t->producer >= 0 && t->output_index < 0; }

static int64_t tokens_per_item(const sf_tensor *t)
{
    int64_t n = 1;
    for (int i = 1; i < t->rank - 1; i++)
        n *= t->dims[i];
    return n;
}

void sf_plan_arena(sf_graph *g, sf_arena_plan *ap)
{
    size_t off = 0;
    for (int i = 0; i < g->ntensors; i++) {
        sf_tensor *t = &g->tensors[i];
        if (!is_intermediate(t))
            continue;
        t->arena_offset = off;
        off += round64((size_t)(t->dims[0] * sf_tensor_inner(t)) * sizeof(float));
    }
    size_t scratch = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const sf_node *n = &g->nodes[i];
        if (!n->lin)
            continue;
        const sf_tensor *in = &g->tensors[n->in[0]];
        size_t T = (size_t)(in->dims[0] * tokens_per_item(in));
        size_t tv = (size_t)n->lin->plan.tile_vecs;
        size_t tiles = (T + 16 * tv - 1) / (16 * tv);
        size_t kp = n->lin->plan.kernel == SF_K_DENSE ? (size_t)n->lin->plan.ncols
                                                      : (size_t)n->lin->in;
        size_t bytes = tiles * tv * kp * 64;
        if (bytes > scratch)
            scratch = bytes;
    }
    ap->scratch_off = off;
    ap->scratch_bytes = scratch;
    ap->total = off + scratch > 64 ? off + scratch : 64;
}

static void tensor_expr(const sf_graph *g, int id, char *buf, size_t n)
{
    const sf_tensor *t = &g->tensors[id];
    if (t->input_index >= 0)
        snprintf(buf, n, "in[%d]", t->input_index);
    else if (t->output_index >= 0)
        snprintf(buf, n, "out[%d]", t->output_index);
    else
        snprintf(buf, n, "(float *)(void *)(A + %zu)", t->arena_offset);
}

static void dims_list(const sf_tensor *t, int batch_symbolic, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < t->rank && o < n; i++) {
        if (i == 0 && batch_symbolic)
            o += (size_t)snprintf(buf + o, n - o, "B");
        else
            o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
    }
}

/* ---- layers --------------------------------------------------------------- */

static sf_status layer_vars(ectx *c, const sf_node *n)
{
    const sf_linear *L = n->lin;
    const sf_plan *p = &L->plan;
    char name[128];
    clean_text(n->name, name, sizeof name);
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
    if (p->kernel == SF_K_NM24) {   /* chunks of 32 inputs; masks of the last */
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
    ectx *c;
    sf_buf *out;
    int k0, open;
    sf_status st;
} unroll_ctx;

static void u_group(void *ctx, int k0, int k1)
{
    unroll_ctx *u = ctx;
    ectx *c = u->c;
    if (u->st)
        return;
    if (u->open)
        u->st = expand(c, T_UNROLLED, "group_end", u->out);
    u->k0 = k0;
    u->open = 1;
    if (!u->st && (sf_vars_set(&c->v, "K0", "%d", k0) || sf_vars_set(&c->v, "K1", "%d", k1 - 1)))
        u->st = oom();
    if (!u->st)
        u->st = expand(c, T_UNROLLED, "group_begin", u->out);
}

static void u_load(void *ctx, int k)
{
    unroll_ctx *u = ctx;
    ectx *c = u->c;
    if (u->st)
        return;
    if (sf_vars_set(&c->v, "J", "%d", k - u->k0) || sf_vars_set(&c->v, "KX", "%d", k))
        u->st = oom();
    else
        u->st = expand(c, T_UNROLLED, "load", u->out);
}

static void u_fma(void *ctx, int r, int k, float w, size_t widx)
{
    (void)w;
    unroll_ctx *u = ctx;
    ectx *c = u->c;
    if (u->st)
        return;
    if (sf_vars_set(&c->v, "R", "%d", r) || sf_vars_set(&c->v, "J", "%d", k - u->k0) ||
        sf_vars_set(&c->v, "W", "%zu", widx))
        u->st = oom();
    else
        u->st = expand(c, T_UNROLLED, "fma", u->out);
}

static sf_status emit_unrolled(ectx *c, const sf_node *n, sf_buf *out)
{
    const sf_linear *L = n->lin;
    const sf_plan *p = &L->plan;
    int R = p->row_block, nrb = (p->nrows + R - 1) / R;
    TRY(expand(c, T_UNROLLED, "head", out));
    static const sf_walk_visitor vis = {u_group, u_load, u_fma};
    size_t *woff = sf_malloc(sizeof(size_t) * (size_t)(nrb ? nrb : 1));
    if (!woff)
        return oom();
    size_t acc = 0;
    sf_status st = SF_OK;
    for (int rb = 0; rb < nrb && !st; rb++) {
        int r0 = rb * R, r1 = r0 + R < p->nrows ? r0 + R : p->nrows;
        if (sf_vars_set(&c->v, "RB", "%d", rb) ||
            sf_vars_set(&c->v, "ROWS", "%d..%d", p->rows[r0], p->rows[r1 - 1])) {
            st = oom();
            break;
        }
        if ((st = expand(c, T_UNROLLED, "block_begin", out)))
            break;
        for (int r = 0; r < r1 - r0 && !st; r++) {
            if (sf_vars_set(&c->v, "R", "%d", r))
                st = oom();
            else
                st = expand(c, T_UNROLLED, "acc", out);
        }
        unroll_ctx u = {c, out, 0, 0, SF_OK};
        woff[rb] = acc;
        if (!st)
            acc += sf_plan_walk_unrolled(L, rb, &vis, &u);
        st = st ? st : u.st;
        if (!st && u.open)
            st = expand(c, T_UNROLLED, "group_end", out);
        char rowlist[SF_ROW_BLOCK_UNROLLED_MAX * 12] = "";
        for (int r = 0, len = 0; r < r1 - r0; r++)
            len += snprintf(rowlist + len, sizeof rowlist - (size_t)len, "%s%d", r ? ", " : "",
                            p->rows[r0 + r]);
        if (!st && (sf_vars_set(&c->v, "NR", "%d", r1 - r0) ||
                    sf_vars_set(&c->v, "ROWLIST", "%s", rowlist)))
            st = oom();
        if (!st)
            st = expand(c, T_UNROLLED, "store_begin", out);
        for (int r = 0; r < r1 - r0 && !st; r++) {
            if (sf_vars_set(&c->v, "R", "%d", r))
                st = oom();
            else
                st = expand(c, T_UNROLLED, "store", out);
        }
        if (!st)
            st = expand(c, T_UNROLLED, "store_end", out);
        if (!st)
            st = expand(c, T_UNROLLED, "block_end", out);
    }
    if (!st)
        st = expand(c, T_UNROLLED, "table_begin", out);
    for (int rb = 0; rb < nrb && !st; rb++) {
        if (sf_vars_set(&c->v, "RB", "%d", rb))
            st = oom();
        else
            st = expand(c, T_UNROLLED, "table_entry", out);
    }
    if (!st)
        st = expand(c, T_UNROLLED, "table_mid", out);
    for (int rb = 0; rb < nrb && !st; rb++) {
        if (sf_vars_set(&c->v, "WOFF", "%zu", woff[rb]))
            st = oom();
        else
            st = expand(c, T_UNROLLED, "woff_entry", out);
    }
    sf_free(woff);
    TRY(st);
    return expand(c, T_UNROLLED, "entry", out);
}

static sf_status emit_layer(ectx *c, const sf_node *n)
{
    const sf_plan *p = &n->lin->plan;
    char fname[128];
    snprintf(fname, sizeof fname, "%s.c", p->fn);
    TRY(layer_vars(c, n));  /* the unrolled emitter reuses R, RB, ... below */
    int t = p->kernel == SF_K_DENSE ? T_DENSE
          : p->kernel == SF_K_NM_UNROLLED ? T_UNROLLED
          : p->kernel == SF_K_NM24 ? T_NM24 : T_COMPRESSED;
    sf_buf *out;
    TRY(file_begin(c, fname, t, "c", &out));
    if (t == T_UNROLLED)
        TRY(emit_unrolled(c, n, out));
    else
        TRY(expand(c, t, "body", out));
    if (p->nzero_rows)
        TRY(expand(c, t, "zero_rows", out));
    return expand(c, t, "end", out);
}

/* ---- model files ----------------------------------------------------------- */

/* Expands `section` once per graph input and then once per output, with
 * variable `key` set to pre_in / pre_out followed by the tensor's name; a
 * NULL prefix skips that side. */
static sf_status expand_io(ectx *c, int t, const char *section, const char *key,
                           const char *pre_in, const char *pre_out, sf_buf *out)
{
    const sf_graph *g = c->g;
    for (int pass = 0; pass < 2; pass++) {
        const char *pre = pass ? pre_out : pre_in;
        int cnt = pass ? g->noutputs : g->ninputs;
        for (int i = 0; pre && i < cnt; i++) {
            const sf_tensor *tn = &g->tensors[pass ? g->outputs[i] : g->inputs[i]];
            if (sf_vars_set(&c->v, key, "%s%s", pre, tn->name))
                return oom();
            TRY(expand(c, t, section, out));
        }
    }
    return SF_OK;
}

static sf_status emit_header(ectx *c)
{
    sf_graph *g = c->g;
    sf_buf *out;
    char name[160];
    snprintf(name, sizeof name, "%s.h", g->name);
    TRY(file_begin(c, name, T_MODEL_H, "c", &out));
    TRY(expand(c, T_MODEL_H, "head", out));
    for (int pass = 0; pass < 2; pass++) {
        int cnt = pass ? g->noutputs : g->ninputs;
        for (int i = 0; i < cnt; i++) {
            const sf_tensor *t = &g->tensors[pass ? g->outputs[i] : g->inputs[i]];
            char dims[256];
            dims_list(t, 1, dims, sizeof dims);
            SET("DIR", "%s", pass ? "output" : "input");
            SET("NAME", "%s", t->name);
            SET("SHAPE", "%s", dims);
            TRY(expand(c, T_MODEL_H, "io_comment", out));
        }
    }
    TRY(expand(c, T_MODEL_H, "proto_begin", out));
    TRY(expand_io(c, T_MODEL_H, "proto_param", "PARAM", "const float *in_", "float *out_",
                  out));
    TRY(expand(c, T_MODEL_H, "proto_end", out));

    snprintf(name, sizeof name, "%s_internal.h", g->name);
    TRY(file_begin(c, name, T_INTERNAL_H, "c", &out));
    TRY(expand(c, T_INTERNAL_H, "head", out));
    for (int oi = 0; oi < g->nnodes; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (!n->lin)
            continue;
        SET("FN", "%s", n->lin->plan.fn);
        TRY(expand(c, T_INTERNAL_H, "layer_proto", out));
    }
    return expand(c, T_INTERNAL_H, "tail", out);
}

static double step_flops(const sf_graph *g, const sf_node *n)
{
    const sf_tensor *out = &g->tensors[n->out];
    if (n->lin) {
        const sf_plan *p = &n->lin->plan;
        double per_tok = p->kernel == SF_K_DENSE ? (double)p->nrows * p->ncols : (double)p->nnz;
        return 2.0 * per_tok * (double)tokens_per_item(&g->tensors[n->in[0]]);
    }
    return (double)sf_tensor_inner(out);
}

static const char *unary_enum(const sf_node *n)
{
    switch (n->op) {
    case SF_OP_RELU: return "SF_UNARY_RELU";
    case SF_OP_GELU: return n->gelu_tanh ? "SF_UNARY_GELU_TANH" : "SF_UNARY_GELU";
    case SF_OP_SILU: return "SF_UNARY_SILU";
    case SF_OP_SIGMOID: return "SF_UNARY_SIGMOID";
    default: return "SF_UNARY_TANH";
    }
}

static sf_status emit_steps(ectx *c, sf_buf *out)
{
    sf_graph *g = c->g;
    for (int oi = 0; oi < g->nnodes; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        char name[128], x[96], y[96];
        clean_text(n->name, name, sizeof name);
        tensor_expr(g, n->in[0], x, sizeof x);
        tensor_expr(g, n->out, y, sizeof y);
        SET("STEP", "%d", oi);
        SET("NODE", "%s", name);
        SET("OPW", "%s", n->op_written);
        SET("X", "%s", x);
        SET("Y", "%s", y);
        const sf_tensor *to = &g->tensors[n->out];
        if (n->lin) {
            TRY(layer_vars(c, n));
            SET("KERNEL", "%s", n->lin->plan.variant->name);
            SET("SCRATCH", "%zu", c->ap.scratch_off);
            SET("TOKENS", "%lld", (long long)tokens_per_item(&g->tensors[n->in[0]]));
            TRY(expand(c, T_MODEL_C, "step_linear", out));
        } else if (n->nin == 1) {
            SET("UOP", "%s", unary_enum(n));
            SET("INNER", "%lld", (long long)sf_tensor_inner(to));
            TRY(expand(c, T_MODEL_C, "step_unary", out));
        } else {
            const sf_tensor *a = &g->tensors[n->in[0]], *b = &g->tensors[n->in[1]];
            char ad[256], bd[256], yd[256], bexpr[96];
            dims_list(a, 0, ad, sizeof ad);
            dims_list(b, 0, bd, sizeof bd);
            dims_list(to, 0, yd, sizeof yd);
            tensor_expr(g, n->in[1], bexpr, sizeof bexpr);
            SET("A", "%s", x);
            SET("B", "%s", bexpr);
            SET("ADIMS", "%s", ad);
            SET("BDIMS", "%s", bd);
            SET("YDIMS", "%s", yd);
            dims_list(a, 1, ad, sizeof ad);
            dims_list(b, 1, bd, sizeof bd);
            SET("ASHAPE", "%s", ad);
            SET("BSHAPE", "%s", bd);
            SET("RANK", "%d", to->rank);
            SET("BOP", "%s", n->op == SF_OP_ADD ? "SF_BINARY_ADD" : "SF_BINARY_MUL");
            TRY(expand(c, T_MODEL_C, "step_binary", out));
        }
    }
    return SF_OK;
}

static sf_status emit_model_c(ectx *c)
{
    sf_graph *g = c->g;
    sf_buf *out;
    char name[160];
    snprintf(name, sizeof name, "%s.c", g->name);
    TRY(file_begin(c, name, T_MODEL_C, "c", &out));
    TRY(expand(c, T_MODEL_C, "head", out));
    for (int i = 0; i < g->ntensors; i++) {
        const sf_tensor *t = &g->tensors[i];
        if (!is_intermediate(t))
            continue;
        char what[200], dims[160];
        clean_text(t->name, what, 100);
        dims_list(t, 0, dims, sizeof dims);
        snprintf(what + strlen(what), sizeof what - strlen(what), " [%s]", dims);
        SET("OFF", "%zu", t->arena_offset);
        SET("END", "%zu", t->arena_offset + (size_t)(t->dims[0] * sf_tensor_inner(t)) * 4);
        SET("WHAT", "%s", what);
        TRY(expand(c, T_MODEL_C, "arena_entry", out));
    }
    SET("OFF", "%zu", c->ap.scratch_off);
    SET("END", "%zu", c->ap.scratch_off + c->ap.scratch_bytes);
    SET("WHAT", "scratch: activation tiles repacked for the linear layers");
    TRY(expand(c, T_MODEL_C, "arena_entry", out));
    TRY(expand(c, T_MODEL_C, "arena_end", out));

    TRY(expand(c, T_MODEL_C, "names_begin", out));
    for (int oi = 0; oi < g->nnodes; oi++) {
        char nm[128];
        clean_text(g->nodes[g->order[oi]].name, nm, sizeof nm);
        SET("NAME", "%s", nm);
        TRY(expand(c, T_MODEL_C, "name_entry", out));
    }
    TRY(expand(c, T_MODEL_C, "kernels_begin", out));
    for (int oi = 0; oi < g->nnodes; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        SET("KERNEL", "%s", n->lin ? n->lin->plan.variant->name : sf_op_name(n->op));
        TRY(expand(c, T_MODEL_C, "kernel_entry", out));
    }
    TRY(expand(c, T_MODEL_C, "flops_begin", out));
    for (int oi = 0; oi < g->nnodes; oi++) {
        SET("FLOPS", "%.1f", step_flops(g, &g->nodes[g->order[oi]]));
        TRY(expand(c, T_MODEL_C, "flops_entry", out));
    }
    SET("BLOB_VERSION", "%d", SF_BLOB_VERSION);
    SET("BLOB_SIZE", "%zu", c->blob->data.len);
    SET("MASK_HASH", "0x%016llx", (unsigned long long)c->blob->mask_hash);
    TRY(expand(c, T_MODEL_C, "run_begin", out));
    TRY(emit_steps(c, out));
    TRY(expand(c, T_MODEL_C, "run_end", out));
    TRY(expand_io(c, T_MODEL_C, "run_param", "PARAM", "const float *in_", "float *out_",
                  out));
    TRY(expand(c, T_MODEL_C, "run_body", out));
    TRY(expand_io(c, T_MODEL_C, "in_ptr", "PTR", "in_", NULL, out));
    TRY(expand(c, T_MODEL_C, "out_begin", out));
    TRY(expand_io(c, T_MODEL_C, "out_ptr", "PTR", NULL, "out_", out));
    return expand(c, T_MODEL_C, "tail", out);
}

static sf_status emit_main(ectx *c)
{
    sf_graph *g = c->g;
    sf_buf *out;
    char name[160];
    snprintf(name, sizeof name, "%s_main.c", g->name);
    TRY(file_begin(c, name, T_MAIN_C, "c", &out));
    TRY(expand(c, T_MAIN_C, "head", out));
    for (int pass = 0; pass < 2; pass++) {
        if (pass)
            TRY(expand(c, T_MAIN_C, "outputs_begin", out));
        int cnt = pass ? g->noutputs : g->ninputs;
        for (int i = 0; i < cnt; i++) {
            const sf_tensor *t = &g->tensors[pass ? g->outputs[i] : g->inputs[i]];
            char dims[256];
            dims_list(t, 0, dims, sizeof dims);
            SET("NAME", "%s", t->name);
            SET("RANK", "%d", t->rank);
            SET("DIMS", "%s", dims);
            TRY(expand(c, T_MAIN_C, "io_entry", out));
        }
    }
    return expand(c, T_MAIN_C, "main", out);
}

static sf_status emit_build(ectx *c)
{
    sf_graph *g = c->g;
    sf_buf *out;
    char name[160];
    TRY(file_begin(c, "Makefile", T_MAKEFILE, "make", &out));
    TRY(expand(c, T_MAKEFILE, "head", out));
    for (int oi = 0; oi < g->nnodes; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (!n->lin)
            continue;
        SET("SRC", "%s.c", n->lin->plan.fn);
        TRY(expand(c, T_MAKEFILE, "src", out));
    }
    TRY(expand(c, T_MAKEFILE, "rules", out));

    snprintf(name, sizeof name, "%s_weights.S", g->name);
    TRY(file_begin(c, name, T_WEIGHTS_S, "c", &out));
    TRY(expand(c, T_WEIGHTS_S, "body", out));

    snprintf(name, sizeof name, "%s.weights", g->name);
    out = sf_files_add(c->fs, name);
    if (!out || sf_buf_append(out, c->blob->data.data, c->blob->data.len))
        return oom();

    for (size_t i = 0; i < sizeof k_runtime_files / sizeof k_runtime_files[0]; i++) {
        char path[160];
        snprintf(path, sizeof path, "runtime/%s", k_runtime_files[i]);
        const sf_embedded_file *f = sf_embedded_find(path);
        if (!f)
            return sf_error(SF_EINTERNAL, NULL, "runtime file %s not embedded", path);
        out = sf_files_add(c->fs, k_runtime_files[i]);
        if (!out || sf_buf_append(out, f->data, f->len))
            return oom();
    }
    out = sf_files_add(c->fs, "report.json");
    if (!out)
        return oom();
    return sf_report_json(g, c->blob, out);
}

sf_status sf_emit(sf_graph *g, const sf_blob *blob, sf_files *fs, int default_threads)
{
    ectx *c = sf_malloc(sizeof *c);
    if (!c)
        return oom();
    memset(c, 0, sizeof *c);
    c->g = g;
    c->blob = blob;
    c->fs = fs;
    sf_status st = SF_OK;
    for (int t = 0; t < T_COUNT && !st; t++) {
        char path[160];
        snprintf(path, sizeof path, "templates/%s", k_tpl_files[t]);
        const sf_embedded_file *f = sf_embedded_find(path);
        if (!f)
            st = sf_error(SF_EINTERNAL, NULL, "template %s not embedded", path);
        else
            st = sf_tpl_parse(&c->tpl[t], k_tpl_files[t], (const char *)f->data, f->len);
    }
    if (!st) {
        char upper[80], src[128];
        size_t i = 0;
        for (; g->name[i] && i < sizeof upper - 1; i++)
            upper[i] = (char)(g->name[i] >= 'a' && g->name[i] <= 'z' ? g->name[i] - 32
                                                                       : g->name[i]);
        upper[i] = 0;
        clean_text(g->model_base, src, sizeof src);
        sf_plan_arena(g, &c->ap);
        if (sf_vars_set(&c->v, "MODEL", "%s", g->name) ||
            sf_vars_set(&c->v, "UPPER", "%s", upper) ||
            sf_vars_set(&c->v, "VERSION", "%s", SF_VERSION) ||
            sf_vars_set(&c->v, "SOURCE", "%s", src) ||
            sf_vars_set(&c->v, "ARENA_BYTES", "%zu", c->ap.total) ||
            sf_vars_set(&c->v, "MAX_BATCH", "%lld", (long long)g->tensors[g->inputs[0]].dims[0]) ||
            sf_vars_set(&c->v, "NIN", "%d", g->ninputs) ||
            sf_vars_set(&c->v, "NOUT", "%d", g->noutputs) ||
            sf_vars_set(&c->v, "NSTEPS", "%d", g->nnodes) ||
            sf_vars_set(&c->v, "DEFAULT_THREADS", "%d", default_threads))
            st = oom();
    }
    if (!st)
        st = emit_header(c);
    if (!st)
        st = emit_model_c(c);
    for (int oi = 0; oi < g->nnodes && !st; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (n->lin)
            st = emit_layer(c, n);
    }
    if (!st)
        st = emit_main(c);
    if (!st)
        st = emit_build(c);
    sf_free(c);
    return st;
}
