/* emit.c - fills templates/ into a model's sources (DESIGN §2 "emit").
 * All C text lives in the templates; this file decides which section to
 * expand with which values. Output depends only on the graph: same model,
 * same bytes. */
#include "backends/cpu/emit.h"

#include "backends/cpu/kernels.h"
#include "ops/family.h"
#include "core/embedded.h"
#include "backends/cpu/plan.h"
#include "report/report.h"
#include "core/template.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
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
       T_MAIN_C, T_MAKEFILE, T_WEIGHTS_S, T_MODEL_CU, T_CUDA_H, T_COUNT };
static const char *const k_tpl_files[T_COUNT] = {
    "banner.in", "cpu/linear_dense.c.in", "cpu/linear_nm_unrolled.c.in",
    "cpu/linear_nm_compressed.c.in", "cpu/linear_nm24.c.in", "cpu/model.h.in",
    "cpu/model_internal.h.in", "cpu/model.c.in", "cpu/main.c.in", "Makefile.in",
    "cpu/weights.S.in", "cuda/model.cu.in", "cuda/model_cuda.h.in"};
/* The emitter's state; op families see it as sf_step_ctx (ops/family.h). */
typedef struct sf_step_ctx {
    sf_graph *g;
    const sf_blob *blob;
    sf_files *fs;
    sf_tpl tpl[T_COUNT];
    sf_vars v;              /* common variables: MODEL, UPPER, ... */
    int cu;                 /* emitting the CUDA steps (model.cu.in), not the C ones */
    int step;               /* the step being emitted */
    const sf_op_family *fam; /* its op family: the sections it may expand */
    sf_buf *out;            /* where its step goes */
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

/* ---- arena ------------------------------------------------------------------ */

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

static int is_intermediate(const sf_tensor *t) { return t->producer >= 0 && t->output_index < 0; }

/* Arena scratch of a linear step: activation tiles repacked for the kernel. */
static size_t tile_bytes(const sf_graph *g, const sf_node *n)
{
    const sf_linear *L = n->lin;
    size_t T = (size_t)(g->tensors[n->in[0]].dims[0] * L->tokens_per_item);
    size_t tv = (size_t)L->plan.tile_vecs;
    size_t tiles = (T + 16 * tv - 1) / (16 * tv);
    size_t kp = L->plan.kernel == SF_K_DENSE ? (size_t)L->plan.ncols : (size_t)L->in;
    return tiles * tv * kp * 64;
}

/* A conv lowered to a linear also holds its im2col rows and token-major result. */
static size_t conv_cols_bytes(const sf_graph *g, const sf_node *n)
{
    const sf_linear *L = n->lin;
    return round64((size_t)(g->tensors[n->in[0]].dims[0] * L->tokens_per_item * L->in) * 4);
}

static size_t conv_tok_bytes(const sf_graph *g, const sf_node *n)
{
    const sf_linear *L = n->lin;
    return round64((size_t)(g->tensors[n->in[0]].dims[0] * L->tokens_per_item * L->out) * 4);
}

/* A conv on the dense or compressed kernel runs channel-major, one image at
 * a time (the kernels' _chw form): no transposes. The other families take
 * token-major im2col rows. */
static int conv_chw(const sf_node *n)
{
    return n->op == SF_OP_CONV2D && n->lin &&
           (n->lin->plan.kernel == SF_K_DENSE || n->lin->plan.kernel == SF_K_NM_COMPRESSED);
}

/* A 1x1 stride-1 unpadded conv reads its input as the kernel's rows. */
static int conv_no_cols(const sf_node *n)
{
    const sf_attrs *a = &n->at;
    return a->kernel[0] == 1 && a->kernel[1] == 1 && a->stride[0] == 1 && a->stride[1] == 1 &&
           !a->pad[0] && !a->pad[1] && !a->pad[2] && !a->pad[3];
}

/* Pixel vectors per tile of the compressed _chw form: about 16 accumulators. */
static int chw_vectors(const sf_plan *p) { return p->row_block >= 16 ? 1 : 16 / p->row_block; }

typedef struct { size_t size, off; int first, last; size_t *dst; } buffer;

static int by_size(const void *pa, const void *pb)
{
    const buffer *a = pa, *b = pb;
    if (a->size != b->size)
        return a->size < b->size ? 1 : -1;
    return a->first != b->first ? (a->first < b->first ? -1 : 1) : (a->dst < b->dst ? -1 : 1);
}

/* Buffers whose lifetimes (steps) overlap get disjoint bytes: each, largest
 * first, takes the lowest offset that clears every placed buffer it meets. */
static size_t place(buffer *b, int n)
{
    qsort(b, (size_t)n, sizeof *b, by_size);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < i; j++)
                if (b[j].first <= b[i].last && b[i].first <= b[j].last &&
                    off < b[j].off + b[j].size && b[j].off < off + b[i].size) {
                    off = b[j].off + b[j].size;
                    moved = 1;
                }
        }
        b[i].off = off;
        *b[i].dst = off;
        if (off + b[i].size > total)
            total = off + b[i].size;
    }
    return total;
}

sf_status sf_plan_arena(sf_graph *g, sf_arena_plan *ap)
{
    int *step_of = sf_malloc(sizeof(int) * (size_t)(g->nnodes ? g->nnodes : 1));
    int *buf_of = sf_malloc(sizeof(int) * (size_t)g->ntensors); /* tensor -> buffer, -1 */
    buffer *b = sf_malloc(sizeof *b * (size_t)(g->ntensors + g->nnodes + 1));
    if (!step_of || !buf_of || !b) {
        sf_free(step_of);
        sf_free(buf_of);
        sf_free(b);
        return oom();
    }
    for (int oi = 0; oi < g->nsteps; oi++)
        step_of[g->order[oi]] = oi;
    int nb = 0;
    for (int i = 0; i < g->ntensors; i++) {
        sf_tensor *t = &g->tensors[i];
        buf_of[i] = -1;
        if (!is_intermediate(t) || t->dropped)
            continue;
        buf_of[i] = nb;
        buffer *x = &b[nb++];
        x->size = round64((size_t)(t->dims[0] * sf_tensor_inner(t)) * sizeof(float));
        x->first = x->last = step_of[t->producer];
        x->dst = &t->arena_offset;
    }
    for (int oi = 0; oi < g->nsteps; oi++) { /* a tensor lives until its last reader */
        const sf_node *n = &g->nodes[g->order[oi]];
        for (int j = 0; j < n->nin; j++)
            if (buf_of[n->in[j]] >= 0)
                b[buf_of[n->in[j]]].last = oi; /* steps run in order: the last wins */
    }
    for (int oi = 0; oi < g->nsteps; oi++) {
        sf_node *n = &g->nodes[g->order[oi]];
        n->temp_bytes = 0;
        if (conv_chw(n)) /* one image's channel-major im2col rows */
            n->temp_bytes = conv_no_cols(n) ? 0
                          : round64((size_t)(n->lin->tokens_per_item * n->lin->in) * 4);
        else if (n->lin)
            n->temp_bytes = round64(tile_bytes(g, n));
        if (n->lin && n->op == SF_OP_CONV2D && !conv_chw(n))
            n->temp_bytes += conv_cols_bytes(g, n) + conv_tok_bytes(g, n);
        if (!n->temp_bytes)
            continue;
        buffer *x = &b[nb++];
        x->size = n->temp_bytes;
        x->first = x->last = oi;
        x->dst = &n->temp_offset;
    }
    /* the lower bound: the most bytes live at one step */
    size_t peak = 0;
    for (int oi = 0; oi < g->nsteps; oi++) {
        size_t live = 0;
        for (int k = 0; k < nb; k++)
            if (b[k].first <= oi && oi <= b[k].last)
                live += b[k].size;
        peak = live > peak ? live : peak;
    }
    size_t total = place(b, nb);
    ap->total = total > 64 ? total : 64;
    ap->live_peak = peak;
    g->arena_bytes = ap->total;
    g->arena_live_peak = peak;
    sf_free(step_of);
    sf_free(buf_of);
    sf_free(b);
    return SF_OK;
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

/* "d0, d1, ..."; batch != NULL writes that text for dims[0] ("B" in
 * comments, "-1" for the runtime's "batch at run time"). */
void sf_dims_list(const sf_tensor *t, const char *batch, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < t->rank && o < n; i++) {
        if (i == 0 && batch)
            o += (size_t)snprintf(buf + o, n - o, "%s", batch);
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
    TRY(expand(c, t, "end", out));
    if (!conv_chw(n))
        return SF_OK;
    SET("CNV", "%d", chw_vectors(p));
    TRY(expand(c, t, "chw", out));
    if (p->nzero_rows)
        TRY(expand(c, t, "chw_zero_rows", out));
    return expand(c, t, "chw_end", out);
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

/* A prototype in a header: section `begin` (if any), one "proto_param" per
 * graph input and output, then section `end`. */
static sf_status prototype(ectx *c, int t, const char *begin, const char *end, sf_buf *out)
{
    if (begin)
        TRY(expand(c, t, begin, out));
    TRY(expand_io(c, t, "proto_param", "PARAM", "const float *in_", "float *out_", out));
    return expand(c, t, end, out);
}

static sf_status emit_header(ectx *c)
{
    sf_graph *g = c->g;
    sf_buf *out;
    char name[160];
    snprintf(name, sizeof name, "%s.h", g->name);
    TRY(file_begin(c, name, T_MODEL_H, "c", &out));
    TRY(expand(c, T_MODEL_H, "head", out));
    if (g->cache_tokens)
        TRY(expand(c, T_MODEL_H, "cache_defs", out));
    for (int pass = 0; pass < 2; pass++) {
        int cnt = pass ? g->noutputs : g->ninputs;
        for (int i = 0; i < cnt; i++) {
            const sf_tensor *t = &g->tensors[pass ? g->outputs[i] : g->inputs[i]];
            char dims[256];
            sf_dims_list(t, "B", dims, sizeof dims);
            SET("DIR", "%s", pass ? "output" : "input");
            SET("NAME", "%s", t->name);
            SET("SHAPE", "%s", dims);
            SET("FLOATS", "%lld", (long long)sf_tensor_inner(t));
            TRY(expand(c, T_MODEL_H, "io_comment", out));
        }
    }
    TRY(prototype(c, T_MODEL_H, "proto_begin", "proto_end", out));
    if (g->cache_tokens)
        TRY(prototype(c, T_MODEL_H, "cache_proto_begin", "cache_proto_end", out));
    TRY(expand(c, T_MODEL_H, "tail", out));

    snprintf(name, sizeof name, "%s_internal.h", g->name);
    TRY(file_begin(c, name, T_INTERNAL_H, "c", &out));
    TRY(expand(c, T_INTERNAL_H, "head", out));
    for (int oi = 0; oi < g->nsteps; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (!n->lin)
            continue;
        SET("FN", "%s", n->lin->plan.fn);
        TRY(expand(c, T_INTERNAL_H, conv_chw(n) ? "layer_proto_chw" : "layer_proto", out));
    }
    return expand(c, T_INTERNAL_H, "tail", out);
}

/* FLOPs of one batch item: a linear layer's from its plan, others from the
 * op family (one per output element when it gives none). */
static double step_flops(const sf_graph *g, const sf_node *n)
{
    if (n->lin) {
        const sf_plan *p = &n->lin->plan;
        double per_tok = p->kernel == SF_K_DENSE ? (double)p->nrows * p->ncols : (double)p->nnz;
        return 2.0 * per_tok * (double)n->lin->tokens_per_item;
    }
    const sf_op_family *f = sf_op_get(n->op)->family;
    return f->flops ? f->flops(g, n) : (double)sf_tensor_inner(&g->tensors[n->out]);
}

/* The runtime function of an elementwise op with no parameters. */
static const char *unary_enum(const sf_node *n)
{
    return n->op == SF_OP_GELU && n->gelu_tanh ? "SF_UNARY_GELU_TANH" : sf_op_get(n->op)->runtime;
}

/* "(const float *)(void *)(<model>_blob + off)", or NULL for an absent weight. */
void sf_step_const(const ectx *c, const sf_const *k, char *buf, size_t n)
{
    if (!k->n)
        snprintf(buf, n, "NULL");
    else if (c->cu) /* the device copy of the blob */
        snprintf(buf, n, "(const float *)(const void *)(W + %zu)", k->off);
    else
        snprintf(buf, n, "(const float *)(const void *)(%s_blob + %zu)", c->g->name, k->off);
}

int64_t sf_dims_prod(const sf_tensor *t, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= t->dims[i];
    return p;
}

sf_status sf_step_conv_shape(ectx *c, const sf_node *n)
{
    const sf_tensor *x = &c->g->tensors[n->in[0]], *y = &c->g->tensors[n->out];
    const sf_attrs *a = &n->at;
    SET("CONV_SHAPE", "%lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
        "%lld, %lld, %lld", (long long)x->dims[1], (long long)x->dims[2], (long long)x->dims[3],
        (long long)y->dims[1], (long long)y->dims[2], (long long)y->dims[3],
        (long long)a->kernel[0], (long long)a->kernel[1], (long long)a->stride[0],
        (long long)a->stride[1], (long long)a->dilation[0], (long long)a->dilation[1],
        (long long)a->pad[0], (long long)a->pad[1], (long long)(a->groups ? a->groups : 1));
    SET("WINDOW", "%lldx%lld/%lld", (long long)a->kernel[0], (long long)a->kernel[1],
        (long long)a->stride[0]);
    return SF_OK;
}

/* A linear layer, or a convolution lowered to one, on its GPU kernel: the
 * call reads XIN and writes YOUT for TOK tokens (model.cu.in "g_*"). */
static sf_status emit_gpu_linear(ectx *c, const sf_node *n, sf_buf *out)
{
    const sf_linear *L = n->lin;
    const sf_gplan *gp = &L->gplan;
    sf_gpu_dtype dt = c->g->gpu_dtype;
    const char *sec = gp->kernel == SF_G_SP24 ? "g_sp24"
                      : gp->kernel == SF_G_ELL ? "g_ell"
                      : dt == SF_GPU_F32       ? "g_dense_f32"
                                               : "g_dense_half";
    SET("GKERNEL", "%s", gp->name);
    SET("O", "%lld", (long long)L->out);
    SET("K", "%lld", (long long)L->in);
    SET("KP", "%lld", (long long)gp->Kp);
    SET("HALF", "%d", dt == SF_GPU_F16);
    SET("HTYPE", "%s", dt == SF_GPU_F16 ? "__half" : "__nv_bfloat16");
    SET("VTYPE", "%s", dt == SF_GPU_F32 ? "float" : dt == SF_GPU_F16 ? "__half" : "__nv_bfloat16");
    SET("ITYPE", "%s", gp->idx_bytes == 1 ? "uint8_t" : gp->idx_bytes == 2 ? "uint16_t" : "int32_t");
    SET("SLOTS", "%d", gp->slots);
    SET("GN", "%d", gp->group_n);
    SET("GM", "%d", gp->group_m);
    SET("OFFW", "%zu", gp->off_w);
    SET("OFFI", "%zu", gp->off_idx);
    SET("OFFB", "%zu", gp->off_bias);
    return expand(c, T_MODEL_CU, sec, out);
}

/* Device scratch offsets of a lowered convolution: im2col rows, token-major
 * result, half activations; 256-byte aligned. */
static size_t align256(size_t n) { return (n + 255) & ~(size_t)255; }

static sf_status emit_gpu_step(ectx *c, const sf_node *n, sf_buf *out)
{
    sf_graph *g = c->g;
    const sf_linear *L = n->lin;
    const int64_t T = L->plan.tokens;
    char y[96];
    SET("ACT", "SFC_NO_ACT");
    SET("FUSED", "%s", "");
    if (n->op == SF_OP_LINEAR) {
        SET("XH", "0");
        SET("GKERNEL", "%s", L->gplan.name);
        TRY(layer_vars(c, n));
        SET("TOK", "batch * %lld", (long long)L->tokens_per_item);
        const int oi = c->step;
        const sf_node *m = oi + 1 < g->nsteps && g->cuda->fused[oi + 1] ? &g->nodes[g->order[oi + 1]]
                                                                   : NULL;
        if (m) {
            SET("ACT", "%s", unary_enum(m));
            SET("FUSED", " + %s in the epilogue (step %d)", m->op_written, oi + 1);
        }
        TRY(expand(c, T_MODEL_CU, "step_linear_begin", out));
        tensor_expr(g, n->in[0], y, sizeof y);
        SET("XIN", "%s", y);
        tensor_expr(g, m ? m->out : n->out, y, sizeof y);
        SET("YOUT", "%s", y);
        TRY(emit_gpu_linear(c, n, out));
        return expand(c, T_MODEL_CU, "step_linear_end", out);
    }
    size_t cols = align256((size_t)T * (size_t)L->in * 4);
    size_t tok = align256((size_t)T * (size_t)L->out * 4);
    TRY(sf_step_conv_shape(c, n));
    TRY(layer_vars(c, n));
    SET("GKERNEL", "%s", L->gplan.name);
    SET("COLS", "0");
    SET("TOKBUF", "%zu", cols);
    SET("XH", "%zu", cols + tok);
    SET("TOKENS", "%lld", (long long)L->tokens_per_item);
    SET("TOK", "batch * %lld", (long long)L->tokens_per_item);
    TRY(expand(c, T_MODEL_CU, "step_conv_begin", out));
    SET("XIN", "(float *)(void *)(S + 0)");
    SET("YOUT", "(float *)(void *)(S + %zu)", cols);
    TRY(emit_gpu_linear(c, n, out));
    return expand(c, T_MODEL_CU, "step_conv_end", out);
}

/* ---- the step API of the op families (ops/family.h) ------------------------ */

sf_status sf_step_set(ectx *c, const char *key, const char *fmt, ...)
{
    char val[sizeof c->v.v[0].val];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof val || sf_vars_set(&c->v, key, "%s", val))
        return sf_error(SF_EINTERNAL, NULL, "template variable table full or value too long: %s",
                        key);
    return SF_OK;
}

/* A section of the backend's model template that the step's family declares. */
sf_status sf_step_expand(ectx *c, const char *section)
{
    int declared = 0;
    for (const char *const *s = c->fam ? c->fam->sections : NULL; s && *s && !declared; s++)
        declared = strcmp(*s, section) == 0;
    if (!declared)
        return sf_error(SF_EINTERNAL, NULL, "op family %s expands section '%s' it does not "
                        "declare", c->fam ? c->fam->name : "?", section);
    return expand(c, c->cu ? T_MODEL_CU : T_MODEL_C, section, c->out);
}

const sf_graph *sf_step_graph(const ectx *c) { return c->g; }

void sf_step_tensor(const ectx *c, int id, char *buf, size_t n) { tensor_expr(c->g, id, buf, n); }

void sf_c_float(double v, char *buf, size_t n)
{
    if (isinf(v)) {
        snprintf(buf, n, "%sSF_INF", v < 0 ? "-" : "");
        return;
    }
    snprintf(buf, n, "%.9g", (double)(float)v);
    if (!strpbrk(buf, ".eEn")) /* 1 -> 1.0: a float literal needs a point or exponent */
        snprintf(buf + strlen(buf), n - strlen(buf), ".0");
    snprintf(buf + strlen(buf), n - strlen(buf), "f");
}

/* A linear layer, or a convolution lowered to one: the backend's kernels. */
sf_status sf_step_linear(ectx *c, const sf_node *n)
{
    sf_graph *g = c->g;
    sf_buf *out = c->out;
    const sf_tensor *x = &g->tensors[n->in[0]], *to = &g->tensors[n->out];
    const int tpl = T_MODEL_C;
    if (c->cu)
        return emit_gpu_step(c, n, out);
    if (n->op == SF_OP_LINEAR) {
        TRY(layer_vars(c, n));
        SET("KERNEL", "%s", n->lin->plan.variant->name);
        SET("SCRATCH", "%zu", n->temp_offset);
        SET("TOKENS", "%lld", (long long)n->lin->tokens_per_item);
        return expand(c, tpl, "step_linear", out);
    }
    TRY(sf_step_conv_shape(c, n));
    TRY(layer_vars(c, n));
    SET("KERNEL", "%s", n->lin->plan.variant->name);
    SET("COLS", "%zu", n->temp_offset);
    if (conv_chw(n)) {
        SET("XB", "%lld", (long long)sf_tensor_inner(x));
        SET("YB", "%lld", (long long)sf_tensor_inner(to));
        SET("P", "%lld", (long long)n->lin->tokens_per_item);
        return expand(c, tpl, conv_no_cols(n) ? "step_conv_1x1" : "step_conv_chw", out);
    }
    SET("TOK", "%zu", n->temp_offset + conv_cols_bytes(g, n));
    SET("SCRATCH", "%zu", n->temp_offset + conv_cols_bytes(g, n) + conv_tok_bytes(g, n));
    SET("TOKENS", "%lld", (long long)n->lin->tokens_per_item);
    return expand(c, tpl, "step_conv", out);
}

/* One step: its op family's, into the backend's model template. */
static sf_status emit_step(ectx *c, const sf_node *n, sf_buf *out)
{
    c->fam = sf_op_get(n->op)->family;
    c->out = out;
    sf_status st = c->fam->step(c, n);
    c->fam = NULL;
    return st;
}

static sf_status emit_steps(ectx *c, sf_buf *out)
{
    sf_graph *g = c->g;
    for (int oi = 0; oi < g->nsteps; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        char name[128], x[96], y[96];
        clean_text(n->name, name, sizeof name);
        tensor_expr(g, n->in[0], x, sizeof x);
        tensor_expr(g, n->out, y, sizeof y);
        SET("STEP", "%d", oi);
        c->step = oi;
        SET("NODE", "%s", name);
        SET("OPW", "%s", n->op_written);
        SET("X", "%s", x);
        SET("Y", "%s", y);
        if (c->cu && g->cuda->fused[oi]) {
            SET("INTO", "%d", oi - 1);
            TRY(expand(c, T_MODEL_CU, "step_fused", out));
            continue;
        }
        TRY(emit_step(c, n, out));
    }
    return SF_OK;
}

/* A public entry point (<model>_run, <model>_run_cached): `head` opens it,
 * one parameter per graph input and output, `body` checks and opens the
 * input array, then the input and output pointers, and `call` passes them on
 * to <model>_run_arrays. */
static sf_status entry_point(ectx *c, const char *head, const char *body, const char *call,
                             sf_buf *out)
{
    TRY(expand(c, T_MODEL_C, head, out));
    TRY(expand_io(c, T_MODEL_C, "run_param", "PARAM", "const float *in_", "float *out_",
                  out));
    TRY(expand(c, T_MODEL_C, body, out));
    TRY(expand_io(c, T_MODEL_C, "in_ptr", "PTR", "in_", NULL, out));
    TRY(expand(c, T_MODEL_C, "out_begin", out));
    TRY(expand_io(c, T_MODEL_C, "out_ptr", "PTR", NULL, "out_", out));
    return expand(c, T_MODEL_C, call, out);
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
        if (!is_intermediate(t) || t->dropped)
            continue;
        char what[200], dims[160];
        clean_text(t->name, what, 100);
        sf_dims_list(t, NULL, dims, sizeof dims);
        snprintf(what + strlen(what), sizeof what - strlen(what), " [%s]", dims);
        SET("OFF", "%zu", t->arena_offset);
        SET("END", "%zu", t->arena_offset + (size_t)(t->dims[0] * sf_tensor_inner(t)) * 4);
        SET("WHAT", "%s", what);
        TRY(expand(c, T_MODEL_C, "arena_entry", out));
    }
    for (int oi = 0; oi < g->nsteps; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (!n->temp_bytes)
            continue;
        char what[200];
        clean_text(n->name, what, 100);
        snprintf(what + strlen(what), sizeof what - strlen(what), " scratch (%s)",
                 conv_chw(n) ? "one image's im2col rows"
                 : n->op == SF_OP_CONV2D ? "im2col rows, token-major result, tiles"
                                         : "repacked activation tiles");
        SET("OFF", "%zu", n->temp_offset);
        SET("END", "%zu", n->temp_offset + n->temp_bytes);
        SET("WHAT", "%s", what);
        TRY(expand(c, T_MODEL_C, "arena_entry", out));
    }
    SET("PEAK", "%zu", g->arena_live_peak);
    TRY(expand(c, T_MODEL_C, "arena_end", out));

    TRY(expand(c, T_MODEL_C, "names_begin", out));
    for (int oi = 0; oi < g->nsteps; oi++) {
        char nm[128];
        clean_text(g->nodes[g->order[oi]].name, nm, sizeof nm);
        SET("NAME", "%s", nm);
        TRY(expand(c, T_MODEL_C, "name_entry", out));
    }
    TRY(expand(c, T_MODEL_C, "kernels_begin", out));
    for (int oi = 0; oi < g->nsteps; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        SET("KERNEL", "%s", n->lin ? n->lin->plan.variant->name : sf_op_name(n->op));
        TRY(expand(c, T_MODEL_C, "kernel_entry", out));
    }
    TRY(expand(c, T_MODEL_C, "flops_begin", out));
    for (int oi = 0; oi < g->nsteps; oi++) {
        SET("FLOPS", "%.1f", step_flops(g, &g->nodes[g->order[oi]]));
        TRY(expand(c, T_MODEL_C, "flops_entry", out));
    }
    SET("BLOB_VERSION", "%d", SF_BLOB_VERSION);
    SET("BLOB_SIZE", "%zu", c->blob->data.len);
    SET("MASK_HASH", "0x%016llx", (unsigned long long)c->blob->mask_hash);
    TRY(expand(c, T_MODEL_C, "run_begin", out));
    TRY(expand(c, T_MODEL_C, g->cache_tokens ? "run_cache_check" : "run_nocache", out));
    TRY(expand(c, T_MODEL_C, "run_arena", out));
    TRY(emit_steps(c, out));
    TRY(entry_point(c, "run_end", "run_body", "run_call", out));
    if (g->cache_tokens)
        TRY(entry_point(c, "cached_begin", "cached_body", "cached_call", out));
    TRY(expand(c, T_MODEL_C, "strerror", out));
    if (g->cache_tokens)
        TRY(expand(c, T_MODEL_C, "strerror_cache", out));
    return expand(c, T_MODEL_C, "strerror_end", out);
}

/* Copies a backend's runtime (every file embedded from runtime/<dir>/),
 * verbatim, into the output folder. */
static sf_status copy_runtime(ectx *c, const char *dir)
{
    char prefix[64];
    int n = 0;
    snprintf(prefix, sizeof prefix, "runtime/%s/", dir);
    for (const sf_embedded_file *f = sf_embedded_files; f->path; f++) {
        if (strncmp(f->path, prefix, strlen(prefix)) != 0)
            continue;
        sf_buf *out = sf_files_add(c->fs, f->path + strlen(prefix));
        if (!out || sf_buf_append(out, f->data, f->len))
            return oom();
        n++;
    }
    return n ? SF_OK : sf_error(SF_EINTERNAL, NULL, "no runtime files embedded for %s", dir);
}

/* A CUDA entry point (model.cu.in "entry_*"): ENTRY names it, HOST, CACHED
 * and CACHE_LEN are what it passes on. */
static sf_status cuda_entry(ectx *c, const char *entry, int host, int cached, sf_buf *out)
{
    SET("ENTRY", "%s", entry);
    SET("HOST", "%d", host);
    SET("CACHED", "%d", cached);
    SET("CACHE_LEN", "%s", cached ? "cache_len" : "0");
    SET("EXTRA_PARAM", "%s", cached ? ", int cache_len" : "");
    TRY(expand(c, T_MODEL_CU, "entry_head", out));
    TRY(expand_io(c, T_MODEL_CU, "run_param", "PARAM", "const float *in_", "float *out_", out));
    TRY(expand(c, T_MODEL_CU, "entry_body", out));
    TRY(expand_io(c, T_MODEL_CU, "in_ptr", "PTR", "in_", NULL, out));
    TRY(expand(c, T_MODEL_CU, "out_begin", out));
    TRY(expand_io(c, T_MODEL_CU, "out_ptr", "PTR", NULL, "out_", out));
    return expand(c, T_MODEL_CU, "entry_call", out);
}

/* --target cuda: <model>.cu, <model>_cuda.h and the CUDA runtime. The CUDA
 * plan (plan_cuda.c) chose the fusions and sized the device scratch. */
static sf_status emit_cuda(ectx *c)
{
    sf_graph *g = c->g;
    sf_buf steps, *out;
    char name[160];
    sf_buf_init(&steps);
    if (!g->cuda)
        return sf_error(SF_EINTERNAL, NULL, "the CUDA plan did not run");
    c->cu = 1;
    sf_status st = emit_steps(c, &steps);
    c->cu = 0;
    if (!st && (sf_vars_set(&c->v, "CUDA_SCRATCH", "%zu", g->cuda->scratch) ||
                sf_vars_set(&c->v, "GPU_DTYPE", "%s", sf_gpu_dtype_name(g->gpu_dtype)) ||
                sf_vars_set(&c->v, "CUDA_CACHE_BYTES", "%zu", g->cache_floats * sizeof(float))))
        st = oom();
    snprintf(name, sizeof name, "%s.cu", g->name);
    if (!st)
        st = file_begin(c, name, T_MODEL_CU, "c", &out);
    if (!st)
        st = expand(c, T_MODEL_CU, "head", out);
    for (int oi = 0; oi < g->nsteps && !st; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (sf_vars_set(&c->v, "KERNEL", "%s%s", n->lin ? n->lin->gplan.name : sf_op_name(n->op),
                        g->cuda->fused[oi] ? " (fused)" : ""))
            st = oom();
        else
            st = expand(c, T_MODEL_CU, "kernel_entry", out);
    }
    if (!st)
        st = expand(c, T_MODEL_CU, "run_begin", out);
    if (!st && sf_buf_append(out, steps.data, steps.len))
        st = oom();
    sf_buf_free(&steps);
    TRY(st);
    TRY(expand(c, T_MODEL_CU, "run_end", out));
    for (int pass = 0; pass < 2; pass++) {
        int cnt = pass ? g->noutputs : g->ninputs;
        if (pass)
            TRY(expand(c, T_MODEL_CU, "out_floats_begin", out));
        for (int i = 0; i < cnt; i++) {
            SET("FLOATS", "%lld",
                (long long)sf_tensor_inner(&g->tensors[pass ? g->outputs[i] : g->inputs[i]]));
            TRY(expand(c, T_MODEL_CU, pass ? "out_floats" : "in_floats", out));
        }
    }
    TRY(expand(c, T_MODEL_CU, "api", out));
    if (g->cache_tokens)
        TRY(expand(c, T_MODEL_CU, "api_cache_check", out));
    TRY(expand(c, T_MODEL_CU, "api_run", out));
    TRY(cuda_entry(c, "run", 0, 0, out));
    TRY(cuda_entry(c, "run_host", 1, 0, out));
    if (g->cache_tokens)
        TRY(cuda_entry(c, "run_cached", 0, 1, out));

    snprintf(name, sizeof name, "%s_cuda.h", g->name);
    TRY(file_begin(c, name, T_CUDA_H, "c", &out));
    TRY(prototype(c, T_CUDA_H, "head", "proto_run_end", out));
    TRY(prototype(c, T_CUDA_H, NULL, "proto_host_end", out));
    if (g->cache_tokens)
        TRY(prototype(c, T_CUDA_H, "cache_proto", "cache_proto_end", out));
    TRY(expand(c, T_CUDA_H, "tail", out));

    return copy_runtime(c, "cuda");
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
            sf_dims_list(t, NULL, dims, sizeof dims);
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
    for (int oi = 0; oi < g->nsteps; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (!n->lin)
            continue;
        SET("SRC", "%s.c", n->lin->plan.fn);
        TRY(expand(c, T_MAKEFILE, "src", out));
    }
    TRY(expand(c, T_MAKEFILE, "rules", out));
    if (g->target_cuda)
        TRY(expand(c, T_MAKEFILE, "cuda", out));

    snprintf(name, sizeof name, "%s_weights.S", g->name);
    TRY(file_begin(c, name, T_WEIGHTS_S, "c", &out));
    TRY(expand(c, T_WEIGHTS_S, "body", out));

    snprintf(name, sizeof name, "%s.weights", g->name);
    out = sf_files_add(c->fs, name);
    if (!out || sf_buf_append(out, c->blob->data.data, c->blob->data.len))
        return oom();

    TRY(copy_runtime(c, "cpu"));
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
    char upper[80], src[128];
    if (!st) {
        size_t i = 0;
        for (; g->name[i] && i < sizeof upper - 1; i++)
            upper[i] = (char)(g->name[i] >= 'a' && g->name[i] <= 'z' ? g->name[i] - 32
                                                                       : g->name[i]);
        upper[i] = 0;
        clean_text(g->model_base, src, sizeof src);
        if (!g->arena_bytes)
            st = sf_error(SF_EINTERNAL, NULL, "the arena was not planned");
    }
    if (!st) {
        if (sf_vars_set(&c->v, "MODEL", "%s", g->name) ||
            sf_vars_set(&c->v, "UPPER", "%s", upper) ||
            sf_vars_set(&c->v, "VERSION", "%s", SF_VERSION) ||
            sf_vars_set(&c->v, "SOURCE", "%s", src) ||
            sf_vars_set(&c->v, "ARENA_BYTES", "%zu", g->arena_bytes) ||
            sf_vars_set(&c->v, "MAX_BATCH", "%lld", (long long)g->tensors[g->inputs[0]].dims[0]) ||
            sf_vars_set(&c->v, "NIN", "%d", g->ninputs) ||
            sf_vars_set(&c->v, "NOUT", "%d", g->noutputs) ||
            sf_vars_set(&c->v, "NSTEPS", "%d", g->nsteps) ||
            sf_vars_set(&c->v, "DEFAULT_THREADS", "%d", default_threads) ||
            sf_vars_set(&c->v, "CACHE_TOKENS", "%lld", (long long)g->cache_tokens) ||
            sf_vars_set(&c->v, "CACHE_STEP", "%lld", (long long)g->cache_step) ||
            sf_vars_set(&c->v, "CACHE_LAST", "%lld", (long long)(g->cache_tokens - g->cache_step)) ||
            sf_vars_set(&c->v, "CACHE_BYTES", "%zu", g->cache_floats * sizeof(float)) ||
            sf_vars_set(&c->v, "CACHE_LAYOUT", "0x%016llx", (unsigned long long)g->cache_layout))
            st = oom();
    }
    if (!st)
        st = emit_header(c);
    if (!st)
        st = emit_model_c(c);
    for (int oi = 0; oi < g->nsteps && !st; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (n->lin)
            st = emit_layer(c, n);
    }
    if (!st)
        st = emit_main(c);
    if (!st && g->target_cuda)
        st = emit_cuda(c);
    if (!st)
        st = emit_build(c);
    sf_free(c);
    return st;
}
