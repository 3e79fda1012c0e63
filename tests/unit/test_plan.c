/* test_plan.c - plan stage (plan.c): kernel and reason per linear layer, the
 * computed rows and columns from SPA, and the mask-unrolled walk that pack
 * and emit share. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/cpu/kernels.h"
#include "backends/cpu/plan.h"
#include "passes/spa.h"
#include "suites.h"
#include "test_util.h"
static const sf_plan_opts k_default = {.force_dense = 0, .unroll_budget = SF_DEFAULT_UNROLL_BUDGET};

/* One linear layer x[tokens, in] -> y[tokens, out] with weight w. */
static sf_status layer_t(tu_model *m, const float *w, int out, int in, int tokens,
                         const sf_plan_opts *o)
{
    char json[512];
    snprintf(json, sizeof json,
             "{'sparseflow':1,'name':'m','weights':'w','inputs':[{'name':'x','shape':[%d,%d]}],"
             "'outputs':['y'],'nodes':[{'op':'linear','name':'fc','inputs':['x'],"
             "'outputs':['y'],'weight':'w'}]}",
             tokens, in);
    tu_tensor t = {"w", "F32", 2, {out, in}, w, sizeof(float) * (size_t)(out * in)};
    sf_status s = tu_model_build(m, json, &t, 1);
    if (!s)
        s = tu_model_plan(m, 1, o);
    return s;
}

static sf_status one_layer(tu_model *m, const float *w, int out, int in, const sf_plan_opts *o)
{
    return layer_t(m, w, out, in, 4, o);
}

/* The plan's variant is the cheapest eligible one, and the reason says why. */
static void assert_cheapest(const sf_plan *p)
{
    int nv;
    const sf_variant *vs = sf_variant_list(&nv);
    int chosen = (int)(p->variant - vs);
    ck_assert_int_ge(chosen, 0);
    ck_assert_int_lt(chosen, nv);
    ck_assert(p->cost_s[chosen] > 0);
    for (int i = 0; i < nv; i++)
        if (p->cost_s[i] >= 0)
            ck_assert(p->cost_s[chosen] <= p->cost_s[i]);
    ck_assert_int_eq(p->kernel, p->variant->family);
    ck_assert_int_eq(p->row_block, p->variant->row_block);
    ck_assert_int_eq(p->tile_vecs, p->variant->tile_vecs);
}

/* --max-arena and --static-arena (docs/CLI.md): the arena of a 64 -> 32
 * layer at 16 tokens is 16*32*4 bytes of output in the caller's buffer plus
 * the repacked tiles; a limit below it is an input error, not a plan. */
START_TEST(arena_limits)
{
    static float w[32 * 64];
    for (int i = 0; i < 32 * 64; i++)
        w[i] = (float)(i % 7) - 3.0f;
    tu_model m;
    sf_plan_opts o = k_default;
    ck_assert_int_eq(layer_t(&m, w, 32, 64, 16, &o), SF_OK);
    size_t need = m.g.arena_bytes;
    ck_assert_uint_gt(need, 64);
    ck_assert_int_eq(m.g.arena_static, 1); /* below the default static limit */
    tu_model_free(&m);

    o.max_arena = need; /* exactly enough */
    ck_assert_int_eq(layer_t(&m, w, 32, 64, 16, &o), SF_OK);
    tu_model_free(&m);
    o.max_arena = need - 1;
    tu_diag_capture();
    ck_assert_int_eq(layer_t(&m, w, 32, 64, 16, &o), SF_EINPUT);
    TU_ASSERT_DIAG("node 'fc' (nodes[0])");
    TU_ASSERT_DIAG("--max-arena");
    tu_diag_release();
    tu_model_free(&m);

    o = k_default;
    o.static_arena_max = need - 1; /* too large to be static */
    ck_assert_int_eq(layer_t(&m, w, 32, 64, 16, &o), SF_OK);
    ck_assert_int_eq(m.g.arena_static, 0);
    tu_model_free(&m);
    o.static_arena_max = need;
    ck_assert_int_eq(layer_t(&m, w, 32, 64, 16, &o), SF_OK);
    ck_assert_int_eq(m.g.arena_static, 1);
    tu_model_free(&m);
    o.no_static_arena = 1; /* --static-arena 0 */
    ck_assert_int_eq(layer_t(&m, w, 32, 64, 16, &o), SF_OK);
    ck_assert_int_eq(m.g.arena_static, 0);
    tu_model_free(&m);
}
END_TEST

START_TEST(registry)
{
    int nv;
    const sf_variant *vs = sf_variant_list(&nv);
    ck_assert_int_ge(nv, 3);
    ck_assert_int_le(nv, SF_MAX_VARIANTS);
    int fam[4] = {0};
    for (int i = 0; i < nv; i++) {
        ck_assert_ptr_eq(sf_variant_find(vs[i].name), &vs[i]); /* names are unique */
        char expect[64];
        const char *f = vs[i].family == SF_K_DENSE         ? "dense"
                        : vs[i].family == SF_K_NM_UNROLLED ? "nmu"
                        : vs[i].family == SF_K_NM24        ? "nm24"
                                                           : "nmc";
        snprintf(expect, sizeof expect, "f32_linear_%s_r%dt%d", f, vs[i].row_block,
                 vs[i].tile_vecs);
        ck_assert_str_eq(vs[i].name, expect);
        ck_assert_int_ge(vs[i].tile_vecs, 1);
        if (vs[i].family == SF_K_DENSE)
            ck_assert_int_eq(vs[i].row_block, 16); /* the template's register block */
        if (vs[i].family == SF_K_NM_UNROLLED)
            ck_assert_int_le(vs[i].row_block, SF_ROW_BLOCK_UNROLLED_MAX);
        if (vs[i].family == SF_K_NM_COMPRESSED)
            ck_assert_int_le(vs[i].row_block, SF_ROW_BLOCK_COMPRESSED_MAX);
        fam[vs[i].family]++;
    }
    ck_assert(fam[SF_K_DENSE] && fam[SF_K_NM_UNROLLED] && fam[SF_K_NM_COMPRESSED] &&
              fam[SF_K_NM24]);
    ck_assert_ptr_null(sf_variant_find("f32_linear_dense"));
    ck_assert_ptr_null(sf_variant_find(""));
}
END_TEST

START_TEST(forced_dense)
{
    float w[16 * 32];
    tu_nm_fill(w, 16, 32, 2, 4, 1);
    sf_plan_opts o = {.force_dense = 1, .unroll_budget = SF_DEFAULT_UNROLL_BUDGET};
    tu_model m;
    ck_assert_int_eq(one_layer(&m, w, 16, 32, &o), SF_OK);
    const sf_plan *p = tu_plan(&m.g, "fc");
    ck_assert_int_eq(p->kernel, SF_K_DENSE);
    ck_assert_int_eq(p->reason, SF_R_FORCED_DENSE);
    ck_assert_int_eq(p->row_block, 16);
    ck_assert_int_eq(p->nrows, 16);
    ck_assert_str_eq(sf_kernel_name(p->kernel), "dense");
    ck_assert_str_eq(sf_reason_name(p->reason), "forced_dense");
    tu_model_free(&m);
}
END_TEST

START_TEST(forced_family_and_variant)
{
    float w[64 * 64];
    tu_nm_fill(w, 64, 64, 2, 4, 5);
    tu_model m;
    /* a family: the cheapest variant of that family */
    sf_plan_opts o = {.unroll_budget = 0, .force_kernel = 1, .forced_kernel = SF_K_NM_UNROLLED};
    ck_assert_int_eq(layer_t(&m, w, 64, 64, 128, &o), SF_OK);
    const sf_plan *p = tu_plan(&m.g, "fc");
    ck_assert_int_eq(p->kernel, SF_K_NM_UNROLLED); /* the budget does not apply */
    ck_assert_int_eq(p->reason, SF_R_FORCED);
    assert_cheapest(p);
    tu_model_free(&m);
    /* every variant, exactly */
    int nv;
    const sf_variant *vs = sf_variant_list(&nv);
    for (int i = 0; i < nv; i++) {
        sf_plan_opts f = {.unroll_budget = SF_DEFAULT_UNROLL_BUDGET,
                          .force_kernel = 1,
                          .forced_kernel = vs[i].family,
                          .forced_variant = &vs[i]};
        ck_assert_int_eq(layer_t(&m, w, 64, 64, 128, &f), SF_OK);
        p = tu_plan(&m.g, "fc");
        ck_assert_ptr_eq(p->variant, &vs[i]);
        ck_assert_int_eq(p->reason, SF_R_FORCED);
        ck_assert_int_eq(p->row_block, vs[i].row_block);
        tu_model_free(&m);
    }
}
END_TEST

START_TEST(nm_2of4_sparse)
{
    /* row r keeps positions r%4 and (r+1)%4 of each group: every column used */
    float w[16 * 32] = {0};
    for (int r = 0; r < 16; r++)
        for (int g = 0; g < 8; g++) {
            w[r * 32 + g * 4 + r % 4] = 1.0f + (float)r;
            w[r * 32 + g * 4 + (r + 1) % 4] = -2.0f;
        }
    tu_model m;
    ck_assert_int_eq(layer_t(&m, w, 16, 32, 64, &k_default), SF_OK);
    const sf_plan *p = tu_plan(&m.g, "fc");
    /* a small 2:4 layer within the budget, 64 tokens: a sparse variant, and
     * every family was weighed */
    ck_assert_int_ne(p->kernel, SF_K_DENSE);
    ck_assert_int_eq(p->reason, SF_R_FASTEST);
    ck_assert(p->fits_24);
    int nv;
    (void)sf_variant_list(&nv);
    for (int i = 0; i < nv; i++)
        ck_assert(p->cost_s[i] > 0);
    assert_cheapest(p);
    ck_assert_int_eq(p->n, 2);
    ck_assert_int_eq(p->m, 4);
    ck_assert_uint_eq(p->nnz, 256);
    ck_assert_int_eq(p->nrows, 16);
    ck_assert_int_eq(p->nzero_rows, 0);
    ck_assert_int_eq(p->ncols, 32);
    for (int r = 0; r < 16; r++)
        ck_assert_int_eq(p->row_nnz[r], 16);
    tu_model_free(&m);
}
END_TEST

START_TEST(nm_over_budget)
{
    /* 1:4 with no unroll budget: unrolled is not weighed, compressed wins */
    float w[256 * 256];
    tu_nm_fill(w, 256, 256, 1, 4, 2);
    sf_plan_opts o = {.force_dense = 0, .unroll_budget = 0};
    tu_model m;
    ck_assert_int_eq(layer_t(&m, w, 256, 256, 128, &o), SF_OK);
    const sf_plan *p = tu_plan(&m.g, "fc");
    ck_assert_int_eq(p->kernel, SF_K_NM_COMPRESSED);
    ck_assert_int_eq(p->reason, SF_R_FASTEST_OVER_BUDGET);
    assert_cheapest(p);
    ck_assert_int_eq(p->n, 1);
    ck_assert_int_eq(p->m, 4);
    ck_assert_uint_eq(p->nnz, 256 * 64);
    int nv;
    const sf_variant *vs = sf_variant_list(&nv);
    for (int i = 0; i < nv; i++)
        ck_assert(vs[i].family == SF_K_NM_UNROLLED ? p->cost_s[i] < 0 : p->cost_s[i] > 0);
    tu_model_free(&m);
}
END_TEST

START_TEST(budget_boundary)
{
    float w[16 * 32];
    tu_nm_fill(w, 16, 32, 1, 4, 4); /* 128 nonzeros */
    int nv, u = -1;
    const sf_variant *vs = sf_variant_list(&nv);
    for (int i = 0; i < nv; i++)
        if (vs[i].family == SF_K_NM_UNROLLED)
            u = i;
    sf_plan_opts o = {.force_dense = 0, .unroll_budget = 128};
    tu_model m;
    ck_assert_int_eq(one_layer(&m, w, 16, 32, &o), SF_OK);
    ck_assert(tu_plan(&m.g, "fc")->cost_s[u] > 0); /* weighed */
    assert_cheapest(tu_plan(&m.g, "fc"));
    tu_model_free(&m);
    o.unroll_budget = 127;
    ck_assert_int_eq(one_layer(&m, w, 16, 32, &o), SF_OK);
    ck_assert(tu_plan(&m.g, "fc")->cost_s[u] < 0); /* left out */
    ck_assert_int_ne(tu_plan(&m.g, "fc")->kernel, SF_K_NM_UNROLLED);
    assert_cheapest(tu_plan(&m.g, "fc"));
    tu_model_free(&m);
}
END_TEST

/* The cost model on shapes whose answer is known from measurement
 * (docs/PERFORMANCE.md): dense weights stay dense, 2:4 and 1:4 go sparse at
 * many tokens, and costs grow with tokens and shrink with threads. */
START_TEST(cost_model)
{
    enum { O = 512, K = 512 };
    float *w = malloc(sizeof *w * O * K);
    tu_model m;
    for (int i = 0; i < O * K; i++)
        w[i] = 0.25f + (float)(i % 7);
    ck_assert_int_eq(layer_t(&m, w, O, K, 128, &k_default), SF_OK);
    ck_assert_int_eq(tu_plan(&m.g, "fc")->kernel, SF_K_DENSE);
    ck_assert_int_eq(tu_plan(&m.g, "fc")->reason, SF_R_FASTEST_OVER_BUDGET);
    tu_model_free(&m);
    const int pat[2][2] = {{2, 4}, {1, 4}};
    for (int q = 0; q < 2; q++) {
        tu_nm_fill(w, O, K, pat[q][0], pat[q][1], 7u + (uint32_t)q);
        ck_assert_int_eq(layer_t(&m, w, O, K, 128, &k_default), SF_OK);
        const sf_linear *L = tu_lin(&m.g, "fc");
        const sf_plan *P = tu_plan(&m.g, "fc");
        ck_assert_int_eq(P->kernel, SF_K_NM_COMPRESSED);
        assert_cheapest(P);
        const sf_variant *v = P->variant;
        double t1 = sf_variant_cost(v, L, P, 128, 1), t2 = sf_variant_cost(v, L, P, 256, 1);
        ck_assert(t2 > 1.5 * t1 && t2 < 2.5 * t1);
        ck_assert(sf_variant_cost(v, L, P, 128, 2) < 0.75 * t1);
        ck_assert(sf_variant_cost(v, L, P, 1, 1) < t1);
        ck_assert_uint_eq(sf_ell_slots(P, 4), P->nnz); /* exact N:M: no padding */
        tu_model_free(&m);
    }
    free(w);
}
END_TEST

START_TEST(ell_padding)
{
    /* rows with 3, 1, 0 and 2 nonzeros: blocks of 2 pad to 3 and 2 slots */
    float w[4 * 8] = {1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
                      0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    tu_model m;
    ck_assert_int_eq(one_layer(&m, w, 4, 8, &k_default), SF_OK);
    const sf_plan *P = tu_plan(&m.g, "fc");
    ck_assert_int_eq(P->nrows, 3); /* the zero row is not computed */
    ck_assert_uint_eq(sf_ell_slots(P, 2), 3 * 2 + 2 * 2);
    ck_assert_uint_eq(sf_ell_slots(P, 1), 6);
    ck_assert_uint_eq(sf_ell_slots(P, 4), 3 * 4);
    tu_model_free(&m);
}
END_TEST

START_TEST(nothing_to_compute)
{
    float w[4 * 8] = {0};
    tu_model m;
    ck_assert_int_eq(one_layer(&m, w, 4, 8, &k_default), SF_OK);
    const sf_plan *p = tu_plan(&m.g, "fc");
    ck_assert_int_eq(p->nrows, 0);
    ck_assert_int_eq(p->nzero_rows, 4);
    ck_assert_int_eq(p->ncols, 0);
    ck_assert_uint_eq(p->nnz, 0);
    ck_assert_int_eq(p->kernel, SF_K_DENSE);
    ck_assert_int_eq(p->reason, SF_R_NOTHING_TO_COMPUTE);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(p->zero_rows[i], i);
    tu_model_free(&m);
}
END_TEST

/* x -> fc0 (row 0 zero) -> relu -> fc1 -> fc2 (reads fc1 channels 2, 4, 5) */
static const float k_w0[36] = {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0,
                               0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1};
static const float k_w1[36] = {3, 0, 0, 0, 0, 0, /* reads only the zero channel */
                               0, 0, 0, 0, 0, 0, /* zero row */
                               2, 1, 0, 1, 0, 0, /* col 0 cannot contribute */
                               0, 1, 0, 0, 1, 0, /* unneeded downstream */
                               0, 0, 0, 0, 0, 5,
                               0, 0, 2, 0, 0, 0}; /* a0[4] is read by row 3 alone */
static const float k_w2[12] = {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0};

static sf_status spa_model(tu_model *m, int propagate)
{
    tu_tensor t[] = {{"w0", "F32", 2, {6, 6}, k_w0, sizeof k_w0},
                     {"w1", "F32", 2, {6, 6}, k_w1, sizeof k_w1},
                     {"w2", "F32", 2, {2, 6}, k_w2, sizeof k_w2}};
    sf_status s = tu_model_build(
        m,
        "{'sparseflow':1,'name':'m','weights':'w','inputs':[{'name':'x','shape':[2,6]}],"
        "'outputs':['y'],'nodes':["
        "{'op':'linear','name':'fc2','inputs':['a1'],'outputs':['y'],'weight':'w2'},"
        "{'op':'linear','name':'fc0','inputs':['x'],'outputs':['h0'],'weight':'w0'},"
        "{'op':'relu','inputs':['h0'],'outputs':['a0']},"
        "{'op':'linear','name':'fc1','inputs':['a0'],'outputs':['a1'],'weight':'w1'}]}",
        t, 3);
    if (!s)
        s = tu_model_plan(m, propagate, &k_default);
    return s;
}

static void expect_list(const int *v, int n, const int *want, int nwant, const char *what)
{
    ck_assert_msg(n == nwant, "%s: %d entries, expected %d", what, n, nwant);
    for (int i = 0; i < n; i++)
        ck_assert_msg(v[i] == want[i], "%s[%d] = %d, expected %d", what, i, v[i], want[i]);
}
#define LIST(...) \
    ((const int[]){__VA_ARGS__}), (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int))

START_TEST(rows_cols_follow_spa)
{
    tu_model m;
    ck_assert_int_eq(spa_model(&m, 1), SF_OK);
    const sf_plan *p = tu_plan(&m.g, "fc1");
    expect_list(p->rows, p->nrows, LIST(2, 4, 5), "fc1 rows");
    expect_list(p->zero_rows, p->nzero_rows, LIST(0, 1, 3), "fc1 zero_rows");
    expect_list(p->cols, p->ncols, LIST(1, 2, 3, 5), "fc1 cols");
    ck_assert_uint_eq(p->nnz, 4);
    /* fc0: row 0 is zero; row 4 feeds a0[4], which only the unneeded fc1
     * row 3 reads */
    p = tu_plan(&m.g, "fc0");
    expect_list(p->zero_rows, p->nzero_rows, LIST(0, 4), "fc0 zero_rows");
    expect_list(p->rows, p->nrows, LIST(1, 2, 3, 5), "fc0 rows");
    expect_list(p->cols, p->ncols, LIST(0, 1, 2, 4, 5), "fc0 cols");
    p = tu_plan(&m.g, "fc2");
    expect_list(p->rows, p->nrows, LIST(0, 1), "fc2 rows");
    expect_list(p->cols, p->ncols, LIST(2, 4, 5), "fc2 cols");
    tu_model_free(&m);

    /* without propagation every row is computed and only all-zero columns drop */
    ck_assert_int_eq(spa_model(&m, 0), SF_OK);
    p = tu_plan(&m.g, "fc1");
    ck_assert_int_eq(p->nrows, 6);
    ck_assert_int_eq(p->nzero_rows, 0);
    expect_list(p->cols, p->ncols, LIST(0, 1, 2, 3, 4, 5), "fc1 cols (no propagation)");
    ck_assert_uint_eq(p->nnz, 8);
    p = tu_plan(&m.g, "fc0");
    ck_assert_int_eq(p->nrows, 6);
    tu_model_free(&m);
}
END_TEST

START_TEST(function_names)
{
    tu_model m;
    ck_assert_int_eq(spa_model(&m, 1), SF_OK);
    const char *fns[3] = {tu_plan(&m.g, "fc0")->fn, tu_plan(&m.g, "fc1")->fn,
                          tu_plan(&m.g, "fc2")->fn};
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(sf_is_c_identifier(fns[i]), "'%s' is not a C identifier", fns[i]);
        ck_assert_msg(strncmp(fns[i], "m_", 2) == 0, "'%s' lacks the model prefix", fns[i]);
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(fns[i], fns[j]);
    }
    ck_assert_ptr_nonnull(strstr(fns[0], "fc0"));
    tu_model_free(&m);

    /* names that are not identifiers, and that clash once cleaned */
    static const float w[4] = {1, 0, 0, 1};
    tu_tensor t = {"w", "F32", 2, {2, 2}, w, sizeof w};
    ck_assert_int_eq(
        tu_model_build(
            &m,
            "{'sparseflow':1,'name':'m','weights':'w','inputs':[{'name':'x','shape':[1,2]}],"
            "'outputs':['y'],'nodes':["
            "{'op':'linear','name':'enc.0/fc-1','inputs':['x'],'outputs':['h'],'weight':'w'},"
            "{'op':'linear','name':'enc_0_fc_1','inputs':['h'],'outputs':['y'],'weight':'w'}]}",
            &t, 1),
        SF_OK);
    ck_assert_int_eq(tu_model_plan(&m, 1, &k_default), SF_OK);
    const char *a = tu_plan(&m.g, "enc.0/fc-1")->fn, *b = tu_plan(&m.g, "enc_0_fc_1")->fn;
    ck_assert_msg(sf_is_c_identifier(a), "'%s' is not a C identifier", a);
    ck_assert_msg(sf_is_c_identifier(b), "'%s' is not a C identifier", b);
    ck_assert_str_ne(a, b);
    tu_model_free(&m);
}
END_TEST

/* ---- the mask-unrolled walk ---------------------------------------------- */

#define MAXV 4096
typedef struct {
    const sf_linear *L;
    int m;
    int ngroups, k0, k1;
    int loaded[512]; /* columns loaded in the current group */
    int nloaded;
    int used[512]; /* loaded column used by an fma in this group */
    int nfma;
    int r[MAXV], k[MAXV];
    size_t widx[MAXV];
    float w[MAXV];
    int bad;
    char why[256];
} walk_rec;

static void fail_rec(walk_rec *c, const char *why)
{
    if (!c->bad)
        snprintf(c->why, sizeof c->why, "%s", why);
    c->bad = 1;
}

static void end_group(walk_rec *c)
{
    for (int i = 0; i < c->nloaded; i++)
        if (!c->used[i])
            fail_rec(c, "a column was loaded but no row of the block uses it");
}

static void v_group(void *ctx, int k0, int k1)
{
    walk_rec *c = ctx;
    if (c->ngroups)
        end_group(c);
    if (c->ngroups && k0 <= c->k0)
        fail_rec(c, "groups not in ascending order");
    if (k0 % c->m || k1 != (k0 + c->m < c->L->in ? k0 + c->m : c->L->in))
        fail_rec(c, "group bounds are not [k0, min(k0 + m, K))");
    c->ngroups++;
    c->k0 = k0;
    c->k1 = k1;
    c->nloaded = 0;
}

static void v_load(void *ctx, int k)
{
    walk_rec *c = ctx;
    if (!c->ngroups || k < c->k0 || k >= c->k1)
        fail_rec(c, "load outside the current group");
    if (c->nloaded && k <= c->loaded[c->nloaded - 1])
        fail_rec(c, "loads not ascending");
    c->used[c->nloaded] = 0;
    c->loaded[c->nloaded++] = k;
}

static void v_fma(void *ctx, int r, int k, float w, size_t widx)
{
    walk_rec *c = ctx;
    int found = 0;
    for (int i = 0; i < c->nloaded; i++)
        if (c->loaded[i] == k) {
            c->used[i] = 1;
            found = 1;
        }
    if (!found)
        fail_rec(c, "fma on a column not loaded in this group");
    if (c->nfma < MAXV) {
        c->r[c->nfma] = r;
        c->k[c->nfma] = k;
        c->w[c->nfma] = w;
        c->widx[c->nfma] = widx;
    }
    c->nfma++;
}

static const sf_walk_visitor k_vis = {v_group, v_load, v_fma};

/* Checks the walk of every row block of L against the plan's rows x cols. */
static void check_walk(const sf_graph *g, const sf_linear *L)
{
    const sf_plan *p = sf_cpu_plan(g, L);
    int R = p->row_block, nrb = (p->nrows + R - 1) / R;
    unsigned char *colok = calloc((size_t)L->in, 1);
    for (int i = 0; i < p->ncols; i++)
        colok[p->cols[i]] = 1;
    size_t total = 0;
    for (int rb = 0; rb < nrb; rb++) {
        int r0 = rb * R, nb = p->nrows - r0 < R ? p->nrows - r0 : R;
        walk_rec *c = calloc(1, sizeof *c);
        c->L = L;
        c->m = p->m;
        size_t ret = sf_plan_walk_unrolled(L, p, rb, &k_vis, c);
        if (c->ngroups)
            end_group(c);
        ck_assert_msg(!c->bad, "block %d: %s", rb, c->why);
        /* expected visits: every nonzero of rows [r0, r0+nb) in usable columns */
        size_t expect = 0;
        unsigned char *seen = calloc((size_t)(nb * L->in), 1);
        for (int r = 0; r < nb; r++)
            for (int k = 0; k < L->in; k++)
                expect += L->w[(int64_t)p->rows[r0 + r] * L->in + k] != 0.0f && colok[k];
        ck_assert_uint_eq((size_t)c->nfma, expect);
        ck_assert_uint_eq(ret, (size_t)nb + expect);
        int lastk[64];
        for (int r = 0; r < 64; r++)
            lastk[r] = -1;
        for (int i = 0; i < c->nfma; i++) {
            int r = c->r[i], k = c->k[i];
            ck_assert(r >= 0 && r < nb && k >= 0 && k < L->in);
            ck_assert_msg(colok[k], "visited column %d outside the plan's columns", k);
            float want = L->w[(int64_t)p->rows[r0 + r] * L->in + k];
            ck_assert_msg(want != 0.0f && c->w[i] == want, "block %d row %d col %d: w %g vs %g", rb,
                          r, k, (double)c->w[i], (double)want);
            ck_assert_msg(!seen[r * L->in + k], "row %d col %d visited twice", r, k);
            seen[r * L->in + k] = 1;
            ck_assert_msg(k > lastk[r], "row %d: column %d after %d", r, k, lastk[r]);
            lastk[r] = k;
            /* weights follow the biases, one slot per visit */
            ck_assert_uint_eq(c->widx[i], (size_t)nb + (size_t)i);
        }
        /* without a visitor: same count */
        ck_assert_uint_eq(sf_plan_walk_unrolled(L, p, rb, NULL, NULL), ret);
        total += ret;
        free(seen);
        free(c);
    }
    ck_assert_uint_eq(total, (size_t)p->nrows + p->nnz);
    free(colok);
}

START_TEST(walk_visits_every_nonzero_once)
{
    /* x[3,22] -> fc0 [22 x 22] (some zero rows) -> fc1 [19 x 22] 1:4 / 2:4 mixed,
     * with dead inputs; fc2 reads only some fc1 channels */
    enum { K = 22, O = 19 };
    static float w0[K * K], w1[O * K], w2[3 * O];
    uint32_t seed = 99;
    for (int i = 0; i < K * K; i++)
        w0[i] = tu_rng(&seed) % 3 == 0 ? (float)(1 + tu_rng(&seed) % 5) : 0.0f;
    for (int k = 0; k < K; k++)
        w0[3 * K + k] = w0[10 * K + k] = w0[21 * K + k] = 0.0f; /* dead channels 3, 10, 21 */
    tu_nm_fill(w1, O, K, 2, 4, 7);
    for (int r = 0; r < O; r += 3)
        tu_nm_fill(w1 + r * K, 1, K, 1, 4, 100u + (uint32_t)r);
    for (int i = 0; i < 3 * O; i++)
        w2[i] = (i % O) % 5 == 4 ? 0.0f : 1.0f; /* channels 4, 9, 14 unread */
    tu_tensor t[] = {{"w0", "F32", 2, {K, K}, w0, sizeof w0},
                     {"w1", "F32", 2, {O, K}, w1, sizeof w1},
                     {"w2", "F32", 2, {3, O}, w2, sizeof w2}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(
            &m,
            "{'sparseflow':1,'name':'m','weights':'w','inputs':[{'name':'x','shape':[3,22]}],"
            "'outputs':['y'],'nodes':["
            "{'op':'linear','name':'fc0','inputs':['x'],'outputs':['h'],'weight':'w0'},"
            "{'op':'linear','name':'fc1','inputs':['h'],'outputs':['a'],'weight':'w1'},"
            "{'op':'linear','name':'fc2','inputs':['a'],'outputs':['y'],'weight':'w2'}]}",
            t, 3),
        SF_OK);
    const sf_plan_opts unroll = {.unroll_budget = SF_DEFAULT_UNROLL_BUDGET,
                                 .force_kernel = 1,
                                 .forced_kernel = SF_K_NM_UNROLLED};
    ck_assert_int_eq(tu_model_plan(&m, 1, &unroll), SF_OK);
    const sf_linear *L = tu_lin(&m.g, "fc1");
    const sf_plan *P = tu_plan(&m.g, "fc1");
    ck_assert_int_eq(P->kernel, SF_K_NM_UNROLLED);
    ck_assert_int_eq(P->nrows, 16);           /* 19 minus 3 unread */
    ck_assert_int_lt(P->ncols, 22);           /* dead inputs dropped */
    ck_assert_int_gt(P->nrows, P->row_block); /* several row blocks */
    check_walk(&m.g, L);
    /* the walk is defined for any plan's rows and columns */
    check_walk(&m.g, tu_lin(&m.g, "fc0"));
    check_walk(&m.g, tu_lin(&m.g, "fc2"));
    tu_model_free(&m);
}
END_TEST

START_TEST(walk_random_layers)
{
    static const int shapes[][4] = {/* out, in, n, m */
                                    {8, 16, 2, 4},   {9, 10, 1, 4}, {17, 33, 2, 8}, {5, 3, 1, 2},
                                    {24, 64, 4, 16}, {1, 1, 1, 4},  {11, 37, 8, 32}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int O = shapes[s][0], K = shapes[s][1];
        float *w = malloc(sizeof *w * (size_t)(O * K));
        tu_nm_fill(w, O, K, shapes[s][2], shapes[s][3], 1000u + (uint32_t)s);
        if (O > 2)
            memset(w + K, 0, sizeof *w * (size_t)K); /* a zero row */
        tu_model m;
        ck_assert_int_eq(one_layer(&m, w, O, K, &k_default), SF_OK);
        check_walk(&m.g, tu_lin(&m.g, "fc"));
        tu_model_free(&m);
        free(w);
    }
}
END_TEST

Suite *plan_suite(void)
{
    Suite *s = suite_create("plan");
    TCase *tc = tcase_create("kernel_choice");
    tcase_add_test(tc, registry);
    tcase_add_test(tc, arena_limits);
    tcase_add_test(tc, forced_dense);
    tcase_add_test(tc, forced_family_and_variant);
    tcase_add_test(tc, nm_2of4_sparse);
    tcase_add_test(tc, nm_over_budget);
    tcase_add_test(tc, budget_boundary);
    tcase_add_test(tc, cost_model);
    tcase_add_test(tc, ell_padding);
    tcase_add_test(tc, nothing_to_compute);
    tcase_add_test(tc, rows_cols_follow_spa);
    tcase_add_test(tc, function_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("walk");
    tcase_add_test(tc, walk_visits_every_nonzero_once);
    tcase_add_test(tc, walk_random_layers);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}
