/* emitter.c - fills templates/ into a model's files (DESIGN §2 "emit"). All
 * C text lives in the templates; the backends decide which section to expand
 * with which values, and the op families write the steps. Output depends only
 * on the graph: same model, same bytes. */
#include "emit/emitter.h"

#include "backends/backend.h"
#include "core/embedded.h"
#include "ops/family.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- files ------------------------------------------------------------------ */

void sf_files_init(sf_files *fs)
{
    fs->n = 0;
}

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

/* ---- templates --------------------------------------------------------------- */

/* templates/<path>, parsed on first use. */
static sf_status template(sf_emitter *e, const char *path, const sf_tpl **t)
{
    for (int i = 0; i < e->ntpl; i++)
        if (strcmp(e->tpl[i].path, path) == 0) {
            *t = &e->tpl[i].t;
            return SF_OK;
        }
    char full[160];
    snprintf(full, sizeof full, "templates/%s", path);
    const sf_embedded_file *f = sf_embedded_find(full);
    if (!f)
        return sf_error(SF_EINTERNAL, NULL, "template %s not embedded", full);
    if (e->ntpl == SF_MAX_TEMPLATES)
        return sf_error(SF_EINTERNAL, NULL, "too many templates");
    e->tpl[e->ntpl].path = path;
    TRY(sf_tpl_parse(&e->tpl[e->ntpl].t, path, (const char *)f->data, f->len));
    *t = &e->tpl[e->ntpl++].t;
    return SF_OK;
}

sf_status sf_emit_expand(sf_emitter *e, const char *tpl, const char *section, sf_buf *out)
{
    const sf_tpl *t = NULL;
    TRY(template(e, tpl, &t));
    return sf_tpl_expand(t, section, &e->v, out);
}

sf_status sf_emit_file(sf_emitter *e, const char *name, const char *tpl, const char *banner,
                       sf_buf **out)
{
    *out = sf_files_add(e->fs, name);
    if (!*out)
        return sf_error(SF_EINTERNAL, NULL, "too many output files");
    if (sf_vars_set(&e->v, "TEMPLATE", "%s", tpl))
        return sf_oom();
    return sf_emit_expand(e, "banner.in", banner, *out);
}

sf_status sf_emit_whole(sf_emitter *e, const char *suffix, const char *tpl)
{
    char name[160];
    sf_buf *out;
    snprintf(name, sizeof name, "%s%s", e->g->name, suffix);
    TRY(sf_emit_file(e, name, tpl, "c", &out));
    return sf_emit_expand(e, tpl, "file", out);
}

/* Text safe inside a C comment or string literal. */
void sf_clean_text(const char *s, char *out, size_t n)
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

void sf_emit_tensor(const sf_emitter *e, int id, char *buf, size_t n)
{
    const sf_tensor *t = &e->g->tensors[id];
    if (t->is_const) { /* its values in the backend's copy of the blob (ops/constant.c) */
        const sf_node *k = &e->g->nodes[t->producer];
        if (e->backend)
            e->backend->const_expr(e, k->cst[0].off, buf, n);
        else
            snprintf(buf, n, "NULL");
    } else if (t->input_index >= 0)
        snprintf(buf, n, "in[%d]", t->input_index);
    else if (t->output_index >= 0)
        snprintf(buf, n, "out[%d]", t->output_index);
    else
        snprintf(buf, n, "%s", e->tvar[id]);
}

const char *sf_emit_scratch(const sf_emitter *e, const sf_node *n)
{
    return e->svar[n - e->g->nodes];
}

/* "<prefix><name, cleaned>", made unique among `taken` by the index. */
static char *var_name(const char *prefix, const char *name, int index, char **taken, int ntaken)
{
    char clean[80], v[112];
    sf_clean_text(name, clean, sizeof clean);
    for (char *p = clean; *p; p++)
        if (*p == '.' || *p == '-' || *p == ':')
            *p = '_';
    snprintf(v, sizeof v, "%s%s", prefix, clean);
    for (int i = 0; i < ntaken; i++)
        if (taken[i] && strcmp(taken[i], v) == 0) {
            snprintf(v, sizeof v, "%s%s_%d", prefix, clean, index);
            break;
        }
    size_t len = strlen(v) + 1;
    char *s = sf_malloc(len);
    if (s)
        memcpy(s, v, len);
    return s;
}

/* Rows of the smallest embedding table that reads tensor `tid` as indices,
 * directly or through ops that only move values; 0 if none does. The
 * program's --bench draws random indices below it (docs/CLI.md). */
static int64_t index_rows(const sf_graph *g, int tid, int depth)
{
    int64_t best = 0;
    for (int oi = 0; oi < g->nsteps && depth < 64; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        int64_t r = 0;
        if (n->op == SF_OP_EMBEDDING && n->in[0] == tid) {
            const sf_tensor *o = &g->tensors[n->out];
            r = n->cst[0].n / o->dims[o->rank - 1];
        } else if (n->op == SF_OP_RESHAPE || n->op == SF_OP_FLATTEN || n->op == SF_OP_TRANSPOSE ||
                   n->op == SF_OP_SLICE || n->op == SF_OP_CONCAT) {
            for (int k = 0; k < n->nin && !r; k++)
                if (n->in[k] == tid)
                    r = index_rows(g, n->out, depth + 1);
        }
        if (r > 0 && (!best || r < best))
            best = r;
    }
    return best;
}

/* The arena's buffers: each intermediate tensor (t_<name>) and each step's
 * scratch (s_<node>), named for the run functions (list BUFFERS), and the
 * graph's inputs and outputs (INPUTS, OUTPUTS). */
static sf_status name_buffers(sf_emitter *c)
{
    sf_graph *g = c->g;
    size_t tb = sizeof *c->tvar * (size_t)g->ntensors;
    size_t sb = sizeof *c->svar * (size_t)(g->nnodes ? g->nnodes : 1);
    if ((c->tvar = sf_malloc(tb)))
        memset(c->tvar, 0, tb);
    if ((c->svar = sf_malloc(sb)))
        memset(c->svar, 0, sb);
    char **all = sf_malloc(sizeof *all * (size_t)(g->ntensors + g->nnodes + 1));
    if (!c->tvar || !c->svar || !all) {
        sf_free(all);
        return sf_oom();
    }
    int nall = 0;
    sf_status st = SF_OK;
    if (sf_vars_list(&c->v, "BUFFERS") || sf_vars_list(&c->v, "INPUTS") ||
        sf_vars_list(&c->v, "OUTPUTS"))
        st = sf_oom();
    for (int i = 0; i < g->ntensors && !st; i++) {
        const sf_tensor *t = &g->tensors[i];
        if (t->producer < 0 || t->output_index >= 0 || t->dropped || t->is_const)
            continue;
        char what[200], dims[160];
        sf_clean_text(t->name, what, 100);
        sf_dims_list(t, NULL, dims, sizeof dims);
        snprintf(what + strlen(what), sizeof what - strlen(what), " [%s]", dims);
        size_t end = t->arena_offset + (size_t)(t->dims[0] * sf_tensor_inner(t)) * 4;
        c->tvar[i] = all[nall] = var_name("t_", t->name, i, all, nall);
        nall++;
        if (!c->tvar[i] || sf_vars_item(&c->v, "BUFFERS") ||
            sf_vars_item_set(&c->v, "BUFFERS", "VAR", "%s", c->tvar[i]) ||
            sf_vars_item_set(&c->v, "BUFFERS", "TYPE", "float") ||
            sf_vars_item_set(&c->v, "BUFFERS", "OFF", "%zu", t->arena_offset) ||
            sf_vars_item_set(&c->v, "BUFFERS", "END", "%zu", end) ||
            sf_vars_item_set(&c->v, "BUFFERS", "WHAT", "%s", what))
            st = sf_oom();
    }
    for (int oi = 0; oi < g->nsteps && !st; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (!n->temp_bytes)
            continue;
        int k = g->order[oi];
        char what[200];
        sf_clean_text(n->name, what, 100);
        snprintf(what + strlen(what), sizeof what - strlen(what), " scratch (%s)",
                 c->backends[0]->scratch_what(g, n));
        c->svar[k] = all[nall] = var_name("s_", n->name, k, all, nall);
        nall++;
        if (!c->svar[k] || sf_vars_item(&c->v, "BUFFERS") ||
            sf_vars_item_set(&c->v, "BUFFERS", "VAR", "%s", c->svar[k]) ||
            sf_vars_item_set(&c->v, "BUFFERS", "TYPE", "unsigned char") ||
            sf_vars_item_set(&c->v, "BUFFERS", "OFF", "%zu", n->temp_offset) ||
            sf_vars_item_set(&c->v, "BUFFERS", "END", "%zu", n->temp_offset + n->temp_bytes) ||
            sf_vars_item_set(&c->v, "BUFFERS", "WHAT", "%s", what))
            st = sf_oom();
    }
    for (int pass = 0; pass < 2 && !st; pass++) {
        const char *list = pass ? "OUTPUTS" : "INPUTS";
        int cnt = pass ? g->noutputs : g->ninputs;
        for (int i = 0; i < cnt && !st; i++) {
            const sf_tensor *t = &g->tensors[pass ? g->outputs[i] : g->inputs[i]];
            char shape[256], dims[256];
            sf_dims_list(t, "B", shape, sizeof shape);
            sf_dims_list(t, NULL, dims, sizeof dims);
            if (sf_vars_item(&c->v, list) || sf_vars_item_set(&c->v, list, "NAME", "%s", t->name) ||
                sf_vars_item_set(&c->v, list, "RANK", "%d", t->rank) ||
                sf_vars_item_set(&c->v, list, "SHAPE", "%s", shape) ||
                sf_vars_item_set(&c->v, list, "DIMS", "%s", dims) ||
                sf_vars_item_set(&c->v, list, "FLOATS", "%lld", (long long)sf_tensor_inner(t)) ||
                sf_vars_item_set(&c->v, list, "INDEX_ROWS", "%lld",
                                 pass ? 0LL : (long long)index_rows(g, g->inputs[i], 0)))
                st = sf_oom();
        }
    }
    sf_free(all); /* the names themselves stay in tvar and svar */
    return st;
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

/* t's dims right-aligned to `rank` (leading 1s), as a broadcasting operand
 * sees them; batch != NULL writes that text for a batched tensor's dims[0]
 * (a constant's is 1). */
void sf_dims_aligned(const sf_tensor *t, int rank, const char *batch, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < rank && o < n; i++) {
        int k = i - (rank - t->rank);
        const char *sep = i ? ", " : "";
        if (k < 0)
            o += (size_t)snprintf(buf + o, n - o, "%s1", sep);
        else if (k == 0 && batch && !t->is_const)
            o += (size_t)snprintf(buf + o, n - o, "%s%s", sep, batch);
        else
            o += (size_t)snprintf(buf + o, n - o, "%s%lld", sep, (long long)t->dims[k]);
    }
}

int64_t sf_dims_prod(const sf_tensor *t, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= t->dims[i];
    return p;
}

/* ---- steps ------------------------------------------------------------------ */

/* FLOPs of one batch item: a linear layer's from its plan, others from the
 * op family (one per output element when it gives none). */
double sf_step_flops(const sf_graph *g, const sf_node *n)
{
    if (n->lin) {
        const sf_plan *p = sf_cpu_plan(g, n->lin);
        double per_tok = p->kernel == SF_K_DENSE ? (double)p->nrows * p->ncols : (double)p->nnz;
        return 2.0 * per_tok * (double)n->lin->tokens_per_item;
    }
    const sf_op_family *f = sf_op_get(n->op)->family;
    return f->flops ? f->flops(g, n) : (double)sf_tensor_inner(&g->tensors[n->out]);
}

/* The runtime function of an elementwise op with no parameters. */
const char *sf_unary_runtime(const sf_node *n)
{
    return n->op == SF_OP_GELU && n->gelu_tanh ? "SF_UNARY_GELU_TANH" : sf_op_get(n->op)->runtime;
}

sf_status sf_step_conv_shape(sf_emitter *c, const sf_node *n)
{
    const sf_tensor *x = &c->g->tensors[n->in[0]], *y = &c->g->tensors[n->out];
    const sf_attrs *a = &n->at;
    SET("CONV_SHAPE",
        "%lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, "
        "%lld, %lld, %lld",
        (long long)x->dims[1], (long long)x->dims[2], (long long)x->dims[3], (long long)y->dims[1],
        (long long)y->dims[2], (long long)y->dims[3], (long long)a->kernel[0],
        (long long)a->kernel[1], (long long)a->stride[0], (long long)a->stride[1],
        (long long)a->dilation[0], (long long)a->dilation[1], (long long)a->pad[0],
        (long long)a->pad[1], (long long)(a->groups ? a->groups : 1));
    SET("WINDOW", "%lldx%lld/%lld", (long long)a->kernel[0], (long long)a->kernel[1],
        (long long)a->stride[0]);
    return SF_OK;
}

/* ---- the step API of the op families (ops/family.h) ------------------------ */

sf_status sf_step_set(sf_emitter *c, const char *key, const char *fmt, ...)
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
sf_status sf_step_expand(sf_emitter *c, const char *section)
{
    int declared = 0;
    for (const char *const *s = c->fam ? c->fam->sections : NULL; s && *s && !declared; s++)
        declared = strcmp(*s, section) == 0;
    if (!declared)
        return sf_error(SF_EINTERNAL, NULL,
                        "op family %s expands section '%s' it does not "
                        "declare",
                        c->fam ? c->fam->name : "?", section);
    return sf_emit_expand(c, c->backend->model_template, section, c->out);
}

const sf_graph *sf_step_graph(const sf_emitter *c)
{
    return c->g;
}

void sf_step_tensor(const sf_emitter *c, int id, char *buf, size_t n)
{
    sf_emit_tensor(c, id, buf, n);
}

/* The weight's expression in the backend's copy of the blob, or NULL when absent. */
void sf_step_const(const sf_emitter *c, const sf_const *k, char *buf, size_t n)
{
    if (!k->n)
        snprintf(buf, n, "NULL");
    else
        c->backend->const_expr(c, k->off, buf, n);
}

sf_status sf_step_linear(sf_emitter *c, const sf_node *n)
{
    return c->backend->linear_step(c, n);
}

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

sf_status sf_emit_steps(sf_emitter *c)
{
    sf_graph *g = c->g;
    sf_buf *code = &c->step_code;
    sf_status st = SF_OK;
    if (sf_vars_list(&c->v, "STEPS"))
        return sf_oom();
    for (int oi = 0; oi < g->nsteps && !st; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        char name[128], x[96], y[96];
        sf_clean_text(n->name, name, sizeof name);
        sf_emit_tensor(c, n->in[0], x, sizeof x);
        sf_emit_tensor(c, n->out, y, sizeof y);
        c->step = oi;
        code->len = 0;
        if (sf_vars_set(&c->v, "STEP", "%d", oi) || sf_vars_set(&c->v, "NODE", "%s", name) ||
            sf_vars_set(&c->v, "OPW", "%s", n->op_written) || sf_vars_set(&c->v, "X", "%s", x) ||
            sf_vars_set(&c->v, "Y", "%s", y)) {
            st = sf_oom();
        } else if (c->fused && c->fused[oi]) {
            st = sf_vars_set(&c->v, "INTO", "%d", oi - 1)
                     ? sf_oom()
                     : sf_emit_expand(c, c->backend->model_template, "step_fused", code);
        } else {
            c->fam = sf_op_get(n->op)->family;
            c->out = code;
            st = c->fam->step(c, n);
            c->fam = NULL;
        }
        while (!st && code->len && code->data[code->len - 1] == '\n') /* the template's line */
            code->len--;
        if (!st &&
            (sf_vars_item(&c->v, "STEPS") || sf_vars_item_set(&c->v, "STEPS", "NAME", "%s", name) ||
             sf_vars_item_set(&c->v, "STEPS", "KERNEL", "%s", c->backend->kernel_name(c, oi)) ||
             sf_vars_item_set(&c->v, "STEPS", "FLOPS", "%.1f", sf_step_flops(g, n)) ||
             sf_vars_item_set(&c->v, "STEPS", "CODE", "%.*s", (int)code->len,
                              code->data ? code->data : "")))
            st = sf_oom();
    }
    return st;
}

/* Copies a backend's runtime (every file embedded from runtime/<dir>/, or
 * with dir NULL the files at runtime/'s top that every backend shares),
 * verbatim, into the output folder. */
sf_status sf_emit_runtime(sf_emitter *c, const char *dir)
{
    char prefix[64];
    int n = 0;
    snprintf(prefix, sizeof prefix, "runtime/%s%s", dir ? dir : "", dir ? "/" : "");
    for (const sf_embedded_file *f = sf_embedded_files; f->path; f++) {
        const char *name = f->path + strlen(prefix);
        if (strncmp(f->path, prefix, strlen(prefix)) != 0 || strchr(name, '/'))
            continue;
        sf_buf *out = sf_files_add(c->fs, name);
        if (!out || sf_buf_append(out, f->data, f->len))
            return sf_oom();
        n++;
    }
    return n ? SF_OK : sf_error(SF_EINTERNAL, NULL, "no runtime files embedded in %s", prefix);
}

/* ---- the model's files -------------------------------------------------------- */

sf_status sf_emit(sf_graph *g, const sf_blob *blob, sf_files *fs, int default_threads)
{
    if (!g->arena_bytes)
        return sf_error(SF_EINTERNAL, NULL, "the arena was not planned");
    sf_emitter *c = sf_malloc(sizeof *c);
    if (!c)
        return sf_oom();
    memset(c, 0, sizeof *c);
    c->g = g;
    c->blob = blob;
    c->fs = fs;
    c->default_threads = default_threads;
    char upper[80], src[128];
    size_t i = 0;
    for (; i < sizeof upper - 1 && g->name[i]; i++)
        upper[i] = (char)(g->name[i] >= 'a' && g->name[i] <= 'z' ? g->name[i] - 32 : g->name[i]);
    upper[i] = 0;
    sf_clean_text(g->model_base, src, sizeof src);
    sf_status st = SF_OK;
    if (sf_vars_set(&c->v, "MODEL", "%s", g->name) || sf_vars_set(&c->v, "UPPER", "%s", upper) ||
        sf_vars_set(&c->v, "VERSION", "%s", SF_VERSION) ||
        sf_vars_set(&c->v, "SOURCE", "%s", src) ||
        sf_vars_set(&c->v, "ARENA_BYTES", "%zu", g->arena_bytes) ||
        sf_vars_set(&c->v, "ARENA_STATIC", "%d", g->arena_static) ||
        sf_vars_set(&c->v, "EXTERNAL_WEIGHTS", "%d", g->external_weights) ||
        sf_vars_set(&c->v, "MAX_BATCH", "%lld", (long long)g->tensors[g->inputs[0]].dims[0]) ||
        sf_vars_set(&c->v, "NIN", "%d", g->ninputs) ||
        sf_vars_set(&c->v, "NOUT", "%d", g->noutputs) ||
        sf_vars_set(&c->v, "NSTEPS", "%d", g->nsteps) ||
        sf_vars_set(&c->v, "DEFAULT_THREADS", "%d", default_threads) ||
        sf_vars_set(&c->v, "CACHE_TOKENS", "%lld", (long long)g->cache_tokens) ||
        sf_vars_set(&c->v, "CACHE_STEP", "%lld", (long long)g->cache_step) ||
        sf_vars_set(&c->v, "CACHE_LAST", "%lld", (long long)(g->cache_tokens - g->cache_step)) ||
        sf_vars_set(&c->v, "CACHE_BYTES", "%zu", g->cache_floats * sizeof(float)) ||
        sf_vars_set(&c->v, "CACHE_LAYOUT", "0x%016llx", (unsigned long long)g->cache_layout) ||
        sf_vars_set(&c->v, "BLOB_VERSION", "%d", SF_BLOB_VERSION) ||
        sf_vars_set(&c->v, "BLOB_SIZE", "%zu", blob->data.len) ||
        sf_vars_set(&c->v, "MASK_HASH", "0x%016llx", (unsigned long long)blob->mask_hash))
        st = sf_oom();
    const sf_backend *bk[SF_MAX_BACKENDS];
    int nb = sf_backends_of(g, bk);
    c->backends = bk;
    if (!st && sf_vars_set(&c->v, "PEAK", "%zu", g->arena_live_peak))
        st = sf_oom();
    if (!st)
        st = name_buffers(c);
    for (int b = nb - 1; b >= 0 && !st; b--) { /* the CPU backend last: its Makefile
                                                  and report cover the others */
        c->backend = bk[b];
        c->fused = NULL;
        st = bk[b]->emit(c);
    }
    sf_vars_clear(&c->v);
    sf_buf_free(&c->step_code);
    for (int k = 0; c->tvar && k < g->ntensors; k++)
        sf_free(c->tvar[k]);
    for (int k = 0; c->svar && k < g->nnodes; k++)
        sf_free(c->svar[k]);
    sf_free(c->tvar);
    sf_free(c->svar);
    sf_free(c);
    return st;
}
