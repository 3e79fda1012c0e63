/* plan.c - kernel choice per linear layer (DESIGN §2 "plan").
 *
 * The computed block of a layer is its needed, nonzero output rows times the
 * input columns that can contribute (SPA). Every variant of the registry
 * (kernels.c) is costed on that block at the layer's largest token count,
 * and the cheapest wins; mask-unrolled code only while its nonzeros fit the
 * code-size budget. */
#include "backends/cpu/plan.h"
#include "backends/cpu/cpu.h"

#include "backends/cpu/kernels.h"

#include <stdio.h>
#include <string.h>

const char *sf_kernel_name(sf_kernel k)
{
    switch (k) {
    case SF_K_DENSE: return "dense";
    case SF_K_NM_UNROLLED: return "nm_unrolled";
    case SF_K_NM_COMPRESSED: return "nm_compressed";
    case SF_K_NM24: return "nm24";
    }
    return "?";
}

const char *sf_reason_name(sf_reason r)
{
    switch (r) {
    case SF_R_FORCED_DENSE: return "forced_dense";
    case SF_R_FORCED: return "forced";
    case SF_R_FASTEST: return "fastest";
    case SF_R_FASTEST_OVER_BUDGET: return "fastest_over_budget";
    case SF_R_NOTHING_TO_COMPUTE: return "nothing_to_compute";
    }
    return "?";
}

const char *sf_reason_text(sf_reason r)
{
    switch (r) {
    case SF_R_FORCED_DENSE: return "--dense was given";
    case SF_R_FORCED: return "--kernel was given";
    case SF_R_FASTEST: return "lowest predicted time of the kernel variants";
    case SF_R_FASTEST_OVER_BUDGET:
        return "lowest predicted time; mask-unrolled left out: the nonzeros exceed the "
               "code-size budget";
    case SF_R_NOTHING_TO_COMPUTE: return "every output channel is zero or unused";
    }
    return "?";
}

static sf_status oom(void)
{
    return sf_error(SF_EINTERNAL, NULL, "out of memory");
}

static void make_fn(const sf_graph *g, const sf_node *n, int idx, char *fn, size_t len)
{
    char clean[41];
    size_t j = 0;
    for (const char *p = n->name; *p && j < sizeof clean - 1; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        clean[j++] = ok ? ch : '_';
    }
    clean[j] = 0;
    snprintf(fn, len, "%s_l%d_%s", g->name, idx, clean);
}

static sf_status plan_linear(sf_graph *g, sf_node *n, int idx, const sf_plan_opts *o)
{
    sf_linear *L = n->lin;
    sf_plan *p = sf_cpu_plan(g, L);
    const sf_tensor *in = &g->tensors[n->in[0]];
    const sf_tensor *out = &g->tensors[n->out];
    memset(p, 0, sizeof *p);
    make_fn(g, n, idx, p->fn, sizeof p->fn);

    p->rows = sf_arena_array(&g->arena, (size_t)L->out, sizeof(int));
    p->zero_rows = sf_arena_array(&g->arena, (size_t)L->out, sizeof(int));
    p->cols = sf_arena_array(&g->arena, (size_t)L->in, sizeof(int));
    unsigned char *colused = sf_arena_alloc(&g->arena, (size_t)L->in);
    if (!p->rows || !p->zero_rows || !p->cols || !colused)
        return oom();
    for (int64_t r = 0; r < L->out; r++) {
        if (!L->chan_rows || (sf_tensor_needed(out, r) && !sf_tensor_zero(out, r)))
            p->rows[p->nrows++] = (int)r;
        else
            p->zero_rows[p->nzero_rows++] = (int)r;
    }
    p->row_nnz = sf_arena_array(&g->arena, (size_t)(p->nrows ? p->nrows : 1), sizeof(int));
    if (!p->row_nnz)
        return oom();
    for (int i = 0; i < p->nrows; i++) {
        const float *row = L->w + (int64_t)p->rows[i] * L->in;
        for (int64_t k = 0; k < L->in; k++)
            if (row[k] != 0.0f && !sf_linear_col_zero(L, in, k)) {
                colused[k] = 1;
                p->row_nnz[i]++;
            }
        p->nnz += (size_t)p->row_nnz[i];
    }
    for (int64_t k = 0; k < L->in; k++)
        if (colused[k])
            p->cols[p->ncols++] = (int)k;

    /* the 2:4 stream kernel needs at most 2 nonzeros per aligned group of 4 */
    p->fits_24 = p->nrows > 0;
    for (int i = 0; i < p->nrows && p->fits_24; i++) {
        const float *row = L->w + (int64_t)p->rows[i] * L->in;
        for (int64_t k0 = 0; k0 < L->in && p->fits_24; k0 += 4) {
            int cnt = 0;
            for (int64_t k = k0; k < k0 + 4 && k < L->in; k++)
                cnt += row[k] != 0.0f && !sf_linear_col_zero(L, in, k);
            p->fits_24 = cnt <= 2;
        }
    }

    p->n = L->census.best_n;
    p->m = L->census.best_m < 2 ? 4 : L->census.best_m;
    p->col_u16 = L->in <= 65536;
    p->tokens = in->dims[0] * L->tokens_per_item;

    int nv;
    const sf_variant *vs = sf_variant_list(&nv);
    const sf_variant *dense = sf_variant_find("f32_linear_dense_r16t1");
    for (int i = 0; i < SF_MAX_VARIANTS; i++)
        p->cost_s[i] = -1.0;
    if (p->nrows == 0) {
        p->variant = dense;
        p->reason = SF_R_NOTHING_TO_COMPUTE;
    } else if (o->force_dense) {
        p->variant = dense;
        p->reason = SF_R_FORCED_DENSE;
    } else if (o->forced_variant && (o->forced_variant->family != SF_K_NM24 || p->fits_24)) {
        p->variant = o->forced_variant;
        p->reason = SF_R_FORCED;
    } else {
        /* the variant with the lowest predicted time. --kernel FAMILY narrows
         * the choice to that family (the budget aside); a family or variant
         * that cannot take this layer (nm24 when it is not 2:4) leaves the
         * usual choice. The code budget rules out unrolling. */
        int family = o->force_kernel && (o->forced_kernel != SF_K_NM24 || p->fits_24);
        int over_budget = 0;
        for (int i = 0; i < nv; i++) {
            const sf_variant *v = &vs[i];
            if ((v->family == SF_K_NM24 && !p->fits_24) ||
                (family && v->family != o->forced_kernel))
                continue;
            /* convs run channel-major on the dense and compressed kernels
             * (emit_cpu.c): no transposes to and from token-major rows */
            if (!family && n->op == SF_OP_CONV2D &&
                (v->family == SF_K_NM24 || v->family == SF_K_NM_UNROLLED))
                continue;
            if (!family && v->family == SF_K_NM_UNROLLED && p->nnz > o->unroll_budget) {
                over_budget = 1;
                continue;
            }
            p->cost_s[i] = sf_variant_cost(v, L, p, p->tokens, o->threads);
            if (!p->variant || p->cost_s[i] < p->cost_s[p->variant - vs])
                p->variant = v;
        }
        p->reason = family ? SF_R_FORCED : over_budget ? SF_R_FASTEST_OVER_BUDGET : SF_R_FASTEST;
    }
    p->kernel = p->variant->family;
    p->row_block = p->variant->row_block;
    p->tile_vecs = p->variant->tile_vecs;
    return SF_OK;
}
sf_status sf_plan_graph(sf_graph *g, const sf_plan_opts *o)
{
    int li = 0;
    struct sf_cpu_layers *cl = sf_arena_alloc(&g->arena, sizeof *cl);
    if (!cl || !(cl->layer = sf_arena_array(&g->arena, (size_t)(g->nnodes ? g->nnodes : 1),
                                            sizeof *cl->layer)))
        return sf_error(SF_EINTERNAL, NULL, "out of memory");
    g->cpu = cl;
    for (int oi = 0; oi < g->nsteps; oi++) {
        sf_node *n = &g->nodes[g->order[oi]];
        if (!n->lin)
            continue;
        sf_status s = plan_linear(g, n, li++, o);
        if (s)
            return s;
    }
    sf_arena_plan ap; /* the arena's size depends on each layer's scratch */
    size_t max = o->max_arena ? o->max_arena : SF_DEFAULT_MAX_ARENA;
    sf_status s = sf_plan_arena(g, max, &ap);
    if (s)
        return s;
    size_t smax = o->static_arena_max ? o->static_arena_max : SF_DEFAULT_STATIC_ARENA;
    g->arena_static = !o->no_static_arena && ap.total <= smax;
    if (g->cache_floats > max / sizeof(float)) {
        const sf_node *n = g->nodes; /* the first cached attention names the field */
        for (int i = g->nnodes - 1; i >= 0; i--)
            n = g->nodes[i].at.cache ? &g->nodes[i] : n;
        char where[300];
        snprintf(where, sizeof where, "%s: node '%s' (nodes[%d]): field 'cache'", g->model_base,
                 n->name, n->json_index);
        return sf_error(SF_EINPUT, where,
                        "the key/value cache would need %zu bytes at batch %lld, more than "
                        "--max-arena %zu: lower the batch or the cache, or raise --max-arena",
                        g->cache_floats * sizeof(float),
                        (long long)g->tensors[g->inputs[0]].dims[0], max);
    }
    return SF_OK;
}

void sf_plan_col_mask(const sf_plan *p, unsigned char *mask)
{
    for (int c = 0; c < p->ncols; c++)
        mask[p->cols[c]] = 1;
}

size_t sf_plan_walk_unrolled(const sf_linear *L, const sf_plan *p, int rb, const sf_walk_visitor *v,
                             void *ctx)
{
    int r0 = rb * p->row_block;
    int r1 = r0 + p->row_block < p->nrows ? r0 + p->row_block : p->nrows;
    size_t widx = (size_t)(r1 - r0); /* biases come first */
    /* columns outside p->cols cannot contribute: mark the usable ones */
    int ci = 0;
    for (int64_t k0 = 0; k0 < L->in; k0 += p->m) {
        int k1 = (int)(k0 + p->m < L->in ? k0 + p->m : L->in);
        int first = 1;
        int cstart = ci;
        /* loads: every usable column with a nonzero in this block */
        for (int k = (int)k0; k < k1; k++) {
            while (ci < p->ncols && p->cols[ci] < k)
                ci++;
            if (ci >= p->ncols || p->cols[ci] != k)
                continue;
            int used = 0;
            for (int r = r0; r < r1 && !used; r++)
                used = L->w[(int64_t)p->rows[r] * L->in + k] != 0.0f;
            if (!used)
                continue;
            if (first) {
                if (v && v->group)
                    v->group(ctx, (int)k0, k1);
                first = 0;
            }
            if (v && v->load)
                v->load(ctx, k);
        }
        if (first)
            continue;
        for (int r = r0; r < r1; r++) {
            const float *row = L->w + (int64_t)p->rows[r] * L->in;
            int cj = cstart;
            for (int k = (int)k0; k < k1; k++) {
                while (cj < p->ncols && p->cols[cj] < k)
                    cj++;
                if (cj >= p->ncols || p->cols[cj] != k || row[k] == 0.0f)
                    continue;
                if (v && v->fma)
                    v->fma(ctx, r - r0, k, row[k], widx);
                widx++;
            }
        }
    }
    return widx;
}
