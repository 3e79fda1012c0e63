/* report.c - census and plan, as text and as JSON (schemas/report.schema.json). */
#include "report/report.h"
#include "backends/cpu/plan.h"
#include "backends/cpu/kernels.h"
#include "backends/cuda/cuda.h"

#include <cJSON.h>
#include <string.h>

/* The usual N:M patterns, whose compliance (share of groups) is reported. */
static const struct {
    int n, m;
} k_usual[] = {{1, 4}, {2, 4}, {2, 8}, {4, 8}, {4, 16}, {8, 16}, {8, 32}, {16, 32}};
#define NUSUAL ((int)(sizeof k_usual / sizeof k_usual[0]))
static const int k_ms[] = {2, 4, 8, 16, 32};

static double share(const sf_census *c, int i)
{
    int n = k_usual[i].n, m = k_usual[i].m;
    return n == m / 4 ? c->share_quarter[m] : c->share_half[m];
}

static double dense_flops(const sf_linear *L)
{
    return 2.0 * (double)L->out * (double)L->in;
}

static double plan_flops(const sf_plan *p)
{
    if (p->kernel == SF_K_DENSE)
        return 2.0 * (double)p->nrows * (double)p->ncols;
    return 2.0 * (double)p->nnz;
}

static int64_t count(const unsigned char *v, int64_t n, int val)
{
    int64_t c = 0;
    for (int64_t i = 0; v && i < n; i++)
        c += v[i] == val;
    return c;
}

/* The GPU plan of one layer (--target cuda). */
static void gpu_text(const sf_graph *g, const sf_linear *L, FILE *f)
{
    const sf_gplan *gp = sf_cuda_gplan(g, L);
    fprintf(f, "  cuda: %s, reason %s: %s\n", gp->name, sf_reason_name(gp->reason),
            sf_reason_text(gp->reason));
    fprintf(f, "  cuda predicted us (H100 model):");
    for (int k = 0; k < SF_G_COUNT; k++) {
        if (gp->cost_s[k] >= 0)
            fprintf(f, " %s %.4g", sf_gkernel_name((sf_gkernel)k), 1e6 * gp->cost_s[k]);
        else
            fprintf(f, " %s -", sf_gkernel_name((sf_gkernel)k));
    }
    if (gp->group_n)
        fprintf(f, "; ell stores %d per row (%d per %d inputs)\n", gp->slots, gp->group_n,
                gp->group_m);
    else
        fprintf(f, "; ell stores %d per row\n", gp->slots);
    if (gp->cost_s[SF_G_SP24] < 0)
        fprintf(f, "  cuda: sp24 not eligible: %s\n", gp->why_not_sp24);
}

/* The GPU plan in the JSON report. */
static int gpu_json(const sf_graph *g, const sf_linear *L, cJSON *l)
{
    const sf_gplan *gp = sf_cuda_gplan(g, L);
    cJSON *o = cJSON_AddObjectToObject(l, "cuda");
    cJSON *pm = o ? cJSON_AddObjectToObject(o, "predicted_us") : NULL;
    int ok = o && pm && cJSON_AddStringToObject(o, "kernel", sf_gkernel_name(gp->kernel)) &&
             cJSON_AddStringToObject(o, "variant", gp->name) &&
             cJSON_AddStringToObject(o, "reason", sf_reason_name(gp->reason)) &&
             cJSON_AddNumberToObject(o, "ell_slots", gp->slots) &&
             cJSON_AddNumberToObject(o, "ell_index_bytes", gp->idx_bytes) &&
             (!gp->group_n || (cJSON_AddNumberToObject(o, "ell_group_n", gp->group_n) &&
                               cJSON_AddNumberToObject(o, "ell_group_m", gp->group_m))) &&
             (gp->cost_s[SF_G_SP24] >= 0 ||
              cJSON_AddStringToObject(o, "sp24_not_eligible", gp->why_not_sp24));
    for (int k = 0; ok && k < SF_G_COUNT; k++)
        if (gp->cost_s[k] >= 0)
            ok = cJSON_AddNumberToObject(pm, sf_gkernel_name((sf_gkernel)k), 1e6 * gp->cost_s[k]) !=
                 NULL;
    return ok;
}

void sf_report_text(const sf_graph *g, FILE *f)
{
    fprintf(f, "SparseFlow census and plan for model '%s' (%s)\n", g->name, g->model_base);
    double total_dense = 0, total_plan = 0;
    for (int oi = 0; oi < g->nsteps; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (!n->lin)
            continue;
        const sf_linear *L = n->lin;
        const sf_census *c = &L->census;
        const sf_plan *p = sf_cpu_plan(g, L);
        fprintf(f, "\n%s: %s %lld -> %lld, weight '%s'\n", n->name, n->op_written, (long long)L->in,
                (long long)L->out, L->weight_name);
        fprintf(f, "  density %.4f (%zu of %zu nonzero), zero rows %lld, zero columns %lld\n",
                c->density, c->nnz, c->numel, (long long)c->zero_rows, (long long)c->zero_cols);
        fprintf(f, "  smallest N per M along the input axis:");
        for (size_t i = 0; i < sizeof k_ms / sizeof k_ms[0]; i++)
            fprintf(f, "  %d:%d", c->n_min[k_ms[i]], k_ms[i]);
        fprintf(f, "   (best %d:%d)\n", c->best_n, c->best_m);
        fprintf(f, "  groups complying:");
        for (int i = 0; i < NUSUAL; i++) {
            double s = share(c, i);
            fprintf(f, "  %d:%d %.1f%%%s", k_usual[i].n, k_usual[i].m, 100.0 * s,
                    s >= 0.9 && s < 1.0 ? " (near miss)" : "");
        }
        fprintf(f, "\n");
        double df = dense_flops(L), pf = plan_flops(p);
        /* a run's FLOPs: a conv's per-token (pixel) figure counts once per
         * output pixel, a linear layer's once per row of x */
        total_dense += df * (double)L->tokens_per_item;
        total_plan += pf * (double)L->tokens_per_item;
        fprintf(f, "  plan: %s", sf_kernel_name(p->kernel));
        if (p->kernel != SF_K_DENSE)
            fprintf(f, " (groups of %d)", p->m);
        fprintf(f, ", variant %s, reason %s: %s\n", p->variant->name, sf_reason_name(p->reason),
                sf_reason_text(p->reason));
        int nv;
        const sf_variant *vs = sf_variant_list(&nv);
        int any = 0;
        for (int i = 0; i < nv; i++)
            if (p->cost_s[i] >= 0)
                fprintf(f, "%s %s %.4g", any++ ? "," : "  predicted ms at", vs[i].name,
                        1e3 * p->cost_s[i]);
        if (any)
            fprintf(f, " (%lld tokens)\n", (long long)p->tokens);
        fprintf(f,
                "  computes %d of %lld rows and %d of %lld columns; %.3g of %.3g FLOP per "
                "token (%.2fx fewer)\n",
                p->nrows, (long long)L->out, p->ncols, (long long)L->in, pf, df,
                pf > 0 ? df / pf : 0.0);
        if (g->target_cuda)
            gpu_text(g, L, f);
    }
    fprintf(f,
            "\ntotal: %.4g FLOP per run at batch 1 planned vs %.4g dense (%.2fx fewer), linear "
            "layers weighted by their tokens\n",
            total_plan, total_dense, total_plan > 0 ? total_dense / total_plan : 0.0);
    if (g->arena_bytes)
        fprintf(f, "arena: %zu bytes at batch %lld (the most live at one step: %zu)\n",
                g->arena_bytes, (long long)g->tensors[g->inputs[0]].dims[0], g->arena_live_peak);
    if (g->cuda) {
        fprintf(f, "cuda: device scratch %zu bytes; %d activation step%s fused", g->cuda->scratch,
                g->cuda->nfused, g->cuda->nfused == 1 ? "" : "s");
        for (int oi = 0, k = 0; oi < g->nsteps; oi++)
            if (g->cuda->fused[oi])
                fprintf(f, "%s%s into %s", k++ ? ", " : ": ", g->nodes[g->order[oi]].name,
                        g->nodes[g->order[oi - 1]].name);
        fprintf(f, "\n");
    }
    for (int i = 0; i < g->ntensors; i++) {
        const sf_tensor *t = &g->tensors[i];
        if (t->dropped)
            continue; /* a folded batch norm's input: never computed, nothing to say */
        int64_t C = sf_tensor_channels(t);
        int64_t z = count(t->zero, C, 1);
        int64_t u = t->producer >= 0 && t->output_index < 0 ? count(t->needed, C, 0) : 0;
        if (z || u)
            fprintf(f,
                    "propagation: tensor '%s': %lld of %lld channels exactly zero, %lld "
                    "unused\n",
                    t->name, (long long)z, (long long)C, (long long)u);
    }
}

static int add_num(cJSON *o, const char *k, double v)
{
    return cJSON_AddNumberToObject(o, k, v) != NULL;
}

sf_status sf_report_json(const sf_graph *g, const sf_blob *blob, sf_buf *out)
{
    sf_json_use_hooks();
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    ok = ok && add_num(root, "sparseflow_report", 1);
    ok = ok && cJSON_AddStringToObject(root, "generator", "sfgen " SF_VERSION);
    ok = ok && cJSON_AddStringToObject(root, "model", g->name);
    ok = ok && cJSON_AddStringToObject(root, "source", g->model_base);
    if (ok && blob) {
        char h[32];
        snprintf(h, sizeof h, "0x%016llx", (unsigned long long)blob->mask_hash);
        ok = cJSON_AddStringToObject(root, "mask_hash", h) != NULL;
        ok = ok && add_num(root, "blob_bytes", (double)blob->data.len);
    }
    if (ok && g->arena_bytes) { /* planned with the CPU kernels */
        ok = add_num(root, "arena_bytes", (double)g->arena_bytes) &&
             add_num(root, "arena_live_peak", (double)g->arena_live_peak);
    }
    if (ok && g->cuda) { /* the CUDA plan's side table */
        cJSON *fused = cJSON_AddArrayToObject(root, "cuda_fused_steps");
        ok = fused != NULL;
        for (int oi = 0; ok && oi < g->nsteps; oi++)
            if (g->cuda->fused[oi])
                ok = cJSON_AddItemToArray(fused, cJSON_CreateNumber(oi));
        ok = ok && add_num(root, "cuda_scratch_bytes", (double)g->cuda->scratch);
    }
    double item_plan = 0, item_dense = 0; /* FLOPs of a run at batch 1 (sf_report_text) */
    for (int oi = 0; oi < g->nsteps; oi++) {
        const sf_linear *L = g->nodes[g->order[oi]].lin;
        if (L) {
            item_plan += plan_flops(sf_cpu_plan(g, L)) * (double)L->tokens_per_item;
            item_dense += dense_flops(L) * (double)L->tokens_per_item;
        }
    }
    ok = ok && add_num(root, "flops_per_item", item_plan) &&
         add_num(root, "flops_per_item_dense", item_dense);
    cJSON *layers = ok ? cJSON_AddArrayToObject(root, "layers") : NULL;
    ok = ok && layers;
    for (int oi = 0; ok && oi < g->nsteps; oi++) {
        const sf_node *n = &g->nodes[g->order[oi]];
        if (!n->lin)
            continue;
        const sf_linear *L = n->lin;
        const sf_census *c = &L->census;
        const sf_plan *p = sf_cpu_plan(g, L);
        cJSON *l = cJSON_CreateObject();
        ok = l && cJSON_AddItemToArray(layers, l);
        ok = ok && cJSON_AddStringToObject(l, "name", n->name);
        ok = ok && cJSON_AddStringToObject(l, "op", n->op_written);
        ok = ok && cJSON_AddStringToObject(l, "weight", L->weight_name);
        ok = ok && add_num(l, "out", (double)L->out) && add_num(l, "in", (double)L->in);
        cJSON *cj = ok ? cJSON_AddObjectToObject(l, "census") : NULL;
        ok = ok && cj && add_num(cj, "density", c->density) && add_num(cj, "nnz", (double)c->nnz) &&
             add_num(cj, "numel", (double)c->numel) &&
             add_num(cj, "zero_rows", (double)c->zero_rows) &&
             add_num(cj, "zero_cols", (double)c->zero_cols);
        char pat[32];
        snprintf(pat, sizeof pat, "%d:%d", c->best_n, c->best_m);
        ok = ok && cJSON_AddStringToObject(cj, "best_pattern", pat);
        cJSON *nm = ok ? cJSON_AddObjectToObject(cj, "n_min") : NULL;
        ok = ok && nm;
        for (size_t i = 0; ok && i < sizeof k_ms / sizeof k_ms[0]; i++) {
            char k[8];
            snprintf(k, sizeof k, "%d", k_ms[i]);
            ok = add_num(nm, k, c->n_min[k_ms[i]]);
        }
        cJSON *cm = ok ? cJSON_AddObjectToObject(cj, "comply") : NULL;
        ok = ok && cm;
        for (int i = 0; ok && i < NUSUAL; i++) {
            snprintf(pat, sizeof pat, "%d:%d", k_usual[i].n, k_usual[i].m);
            ok = add_num(cm, pat, share(c, i));
        }
        cJSON *pj = ok ? cJSON_AddObjectToObject(l, "plan") : NULL;
        ok = ok && pj && cJSON_AddStringToObject(pj, "kernel", sf_kernel_name(p->kernel)) &&
             cJSON_AddStringToObject(pj, "reason", sf_reason_name(p->reason)) &&
             cJSON_AddStringToObject(pj, "reason_text", sf_reason_text(p->reason)) &&
             cJSON_AddStringToObject(pj, "variant", p->variant->name) &&
             add_num(pj, "tokens", (double)p->tokens) &&
             add_num(pj, "tokens_per_item", (double)L->tokens_per_item) &&
             cJSON_AddStringToObject(pj, "function", p->fn);
        cJSON *pm = ok ? cJSON_AddObjectToObject(pj, "predicted_ms") : NULL;
        ok = ok && pm;
        int nv;
        const sf_variant *vs = sf_variant_list(&nv);
        for (int i = 0; ok && i < nv; i++)
            if (p->cost_s[i] >= 0)
                ok = add_num(pm, vs[i].name, 1e3 * p->cost_s[i]);
        snprintf(pat, sizeof pat, "%d:%d", p->n, p->m);
        ok = ok && cJSON_AddStringToObject(pj, "pattern", pat) &&
             add_num(pj, "rows_computed", p->nrows) && add_num(pj, "rows_zero", p->nzero_rows) &&
             add_num(pj, "cols_used", p->ncols) && add_num(pj, "nnz", (double)p->nnz) &&
             add_num(pj, "flops_per_token_dense", dense_flops(L)) &&
             add_num(pj, "flops_per_token", plan_flops(p)) &&
             add_num(pj, "predicted_speedup",
                     plan_flops(p) > 0 ? dense_flops(L) / plan_flops(p) : 0);
        ok = ok && (!g->target_cuda || gpu_json(g, L, l));
    }
    cJSON *ts = ok ? cJSON_AddArrayToObject(root, "tensors") : NULL;
    ok = ok && ts;
    for (int i = 0; ok && i < g->ntensors; i++) {
        const sf_tensor *t = &g->tensors[i];
        int64_t C = sf_tensor_channels(t);
        cJSON *tj = cJSON_CreateObject();
        ok = tj && cJSON_AddItemToArray(ts, tj);
        cJSON *shape = ok ? cJSON_AddArrayToObject(tj, "shape") : NULL;
        ok = ok && cJSON_AddStringToObject(tj, "name", t->name) && shape;
        for (int d = 0; ok && d < t->rank; d++) {
            cJSON *v = cJSON_CreateNumber((double)t->dims[d]);
            ok = v && cJSON_AddItemToArray(shape, v);
        }
        if (t->dropped) { /* taken over by a folded batch norm (FORMATS.md) */
            ok = ok && add_num(tj, "zero_channels", 0) && add_num(tj, "unused_channels", 0) &&
                 cJSON_AddTrueToObject(tj, "folded");
            continue;
        }
        ok = ok && add_num(tj, "zero_channels", (double)count(t->zero, C, 1)) &&
             add_num(tj, "unused_channels",
                     t->producer >= 0 && t->output_index < 0 ? (double)count(t->needed, C, 0) : 0);
    }
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text || sf_buf_append(out, text, strlen(text)) || sf_buf_append(out, "\n", 1)) {
        if (text)
            cJSON_free(text);
        return sf_error(SF_EINTERNAL, NULL, "out of memory");
    }
    cJSON_free(text);
    return SF_OK;
}
