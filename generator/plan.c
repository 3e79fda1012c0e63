/* plan.c - kernel choice per linear layer (DESIGN §2 "plan").
 *
 * The computed block of a layer is its needed, nonzero output rows times the
 * input columns that can contribute (SPA). Dense pays when the block is
 * dense; otherwise mask-unrolled code when the nonzeros fit the code-size
 * budget, else the compressed values+indices kernel. */
#include "plan.h"

#include <stdio.h>
#include <string.h>

const char *sf_kernel_name(sf_kernel k)
{
    switch (k) {
    case SF_K_DENSE: return "dense";
    case SF_K_NM_UNROLLED: return "nm_unrolled";
    case SF_K_NM_COMPRESSED: return "nm_compressed";
    }
    return "?";
}

const char *sf_reason_name(sf_reason r)
{
    switch (r) {
    case SF_R_FORCED_DENSE: return "forced_dense";
    case SF_R_FORCED: return "forced";
    case SF_R_TOO_DENSE: return "too_dense";
    case SF_R_UNROLL_IN_BUDGET: return "unroll_in_budget";
    case SF_R_OVER_BUDGET: return "over_code_budget";
    case SF_R_OVER_BUDGET_DENSE: return "over_code_budget_dense";
    case SF_R_NOTHING_TO_COMPUTE: return "nothing_to_compute";
    }
    return "?";
}

const char *sf_reason_text(sf_reason r)
{
    switch (r) {
    case SF_R_FORCED_DENSE: return "--dense was given";
    case SF_R_FORCED: return "--kernel was given";
    case SF_R_TOO_DENSE: return "too many nonzeros for a sparse kernel to pay off";
    case SF_R_UNROLL_IN_BUDGET: return "nonzeros fit the code-size budget: mask-unrolled";
    case SF_R_OVER_BUDGET: return "nonzeros exceed the code-size budget: compressed";
    case SF_R_OVER_BUDGET_DENSE:
        return "nonzeros exceed the code-size budget and the compressed kernel does not "
               "beat dense at this density";
    case SF_R_NOTHING_TO_COMPUTE: return "every output channel is zero or unused";
    }
    return "?";
}

static sf_status oom(void) { return sf_error(SF_EINTERNAL, NULL, "out of memory"); }

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
    sf_plan *p = &L->plan;
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
        if (out->needed[r] && !out->zero[r])
            p->rows[p->nrows++] = (int)r;
        else
            p->zero_rows[p->nzero_rows++] = (int)r;
    }
    for (int i = 0; i < p->nrows; i++) {
        const float *row = L->w + (int64_t)p->rows[i] * L->in;
        for (int64_t k = 0; k < L->in; k++)
            if (row[k] != 0.0f && !in->zero[k]) {
                colused[k] = 1;
                p->nnz++;
            }
    }
    for (int64_t k = 0; k < L->in; k++)
        if (colused[k])
            p->cols[p->ncols++] = (int)k;

    p->n = L->census.best_n;
    p->m = L->census.best_m < 2 ? 4 : L->census.best_m;
    double block = (double)p->nrows * (double)(p->ncols ? p->ncols : 1);
    double density = p->nrows ? (double)p->nnz / block : 0.0;
    if (p->nrows == 0) {
        p->kernel = SF_K_DENSE;
        p->reason = SF_R_NOTHING_TO_COMPUTE;
    } else if (o->force_dense) {
        p->kernel = SF_K_DENSE;
        p->reason = SF_R_FORCED_DENSE;
    } else if (o->force_kernel) {
        p->kernel = o->forced_kernel;
        p->reason = SF_R_FORCED;
    } else if (o->unroll_budget > 0 && p->nnz <= o->unroll_budget &&
               density <= SF_MAX_DENSITY_UNROLLED) {
        p->kernel = SF_K_NM_UNROLLED;
        p->reason = SF_R_UNROLL_IN_BUDGET;
    } else if (density <= SF_MAX_DENSITY_COMPRESSED) {
        p->kernel = SF_K_NM_COMPRESSED;
        p->reason = SF_R_OVER_BUDGET;
    } else {
        p->kernel = SF_K_DENSE;
        p->reason = density <= SF_MAX_DENSITY_UNROLLED ? SF_R_OVER_BUDGET_DENSE : SF_R_TOO_DENSE;
    }
    p->row_block = p->kernel == SF_K_DENSE ? SF_ROW_BLOCK_DENSE
                 : p->kernel == SF_K_NM_UNROLLED ? SF_ROW_BLOCK_UNROLLED
                 : SF_ROW_BLOCK_COMPRESSED;
    p->tile_vecs = 1;
    if (p->kernel == SF_K_NM_COMPRESSED) {
        /* reuse each weight and index over up to 4 token vectors; keep R x TB
         * accumulators within 16 registers */
        int64_t T = in->dims[0];
        for (int i = 1; i < in->rank - 1; i++)
            T *= in->dims[i];
        int64_t tv = (T + 15) / 16;
        p->tile_vecs = tv >= 4 ? 4 : tv >= 2 ? 2 : 1;
        p->row_block = p->tile_vecs == 4 ? 4 : 8;
    }
    p->col_u16 = L->in <= 65536;
    return SF_OK;
}

sf_status sf_plan_graph(sf_graph *g, const sf_plan_opts *o)
{
    int li = 0;
    for (int oi = 0; oi < g->nnodes; oi++) {
        sf_node *n = &g->nodes[g->order[oi]];
        if (n->op != SF_OP_LINEAR)
            continue;
        sf_status s = plan_linear(g, n, li++, o);
        if (s)
            return s;
    }
    return SF_OK;
}

size_t sf_plan_walk_unrolled(const sf_linear *L, int rb, const sf_walk_visitor *v, void *ctx)
{
    const sf_plan *p = &L->plan;
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
