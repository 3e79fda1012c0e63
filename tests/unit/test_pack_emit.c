/* test_pack_emit.c - pack (pack.c: the weights blob, its header and mask
 * hash) and emit (emit.c: the generated folder's files, banners,
 * determinism). */
#include <check.h>
#include <cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit/emitter.h"
#include "core/embedded.h"
#include "backends/cpu/kernels.h"
#include "backends/cpu/pack.h"
#include "backends/cpu/plan.h"
#include "backends/cuda/cuda.h"
/* the runtime's header struct, to check pack writes what it reads (its
 * vector helpers trip -Wpsabi without -mavx512f; they are not used here) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
#include "sf_runtime.h"
#pragma GCC diagnostic pop
#include "passes/spa.h"
#include "suites.h"
#include "test_util.h"

/* The test model: x[4,16] -> fc1 2:4 [8x16] (unrolled) -> relu
 * -> fc2 1:4 [48x8], row 5 zero (compressed) -> gelu -> fc3 dense [4x48] -> y. */
#define BUDGET 80
typedef struct {
    float w1[8 * 16], b1[8], w2[48 * 8], b2[48], w3[4 * 48], b3[4];
} weights;

static void make_weights(weights *W)
{
    tu_nm_fill(W->w1, 8, 16, 2, 4, 11);
    tu_nm_fill(W->w2, 48, 8, 1, 4, 12);
    memset(W->w2 + 5 * 8, 0, 8 * sizeof(float));
    for (int i = 0; i < 4 * 48; i++)
        W->w3[i] = (float)(1 + i % 7);
    for (int i = 0; i < 8; i++)
        W->b1[i] = (float)i - 3.0f;
    for (int i = 0; i < 48; i++)
        W->b2[i] = i == 5 ? 0.0f : (float)(i % 3);
    for (int i = 0; i < 4; i++)
        W->b3[i] = 0.25f * (float)i;
}

static const char *k_json =
    "{'sparseflow':1,'name':'pm','weights':'pm.safetensors',"
    "'inputs':[{'name':'x','shape':[4,16]}],'outputs':['y'],'nodes':["
    "{'op':'linear','name':'fc1','inputs':['x'],'outputs':['h1'],'weight':'w1','bias':'b1'},"
    "{'op':'relu','inputs':['h1'],'outputs':['a1']},"
    "{'op':'linear','name':'fc2','inputs':['a1'],'outputs':['h2'],'weight':'w2','bias':'b2'},"
    "{'op':'gelu','inputs':['h2'],'outputs':['a2']},"
    "{'op':'linear','name':'fc3','inputs':['a2'],'outputs':['y'],'weight':'w3','bias':'b3'}]}";

/* What the planner does for --kernel VARIANT, on one layer. */
static void set_variant(sf_plan *p, const char *name)
{
    const sf_variant *v = sf_variant_find(name);
    ck_assert_ptr_nonnull(v);
    p->variant = v;
    p->kernel = v->family;
    p->row_block = v->row_block;
    p->tile_vecs = v->tile_vecs;
}

static sf_status build(tu_model *m, const weights *W, sf_blob *blob)
{
    tu_tensor t[] = {
        {"w1", "F32", 2, {8, 16}, W->w1, sizeof W->w1}, {"b1", "F32", 1, {8}, W->b1, sizeof W->b1},
        {"w2", "F32", 2, {48, 8}, W->w2, sizeof W->w2}, {"b2", "F32", 1, {48}, W->b2, sizeof W->b2},
        {"w3", "F32", 2, {4, 48}, W->w3, sizeof W->w3}, {"b3", "F32", 1, {4}, W->b3, sizeof W->b3}};
    sf_plan_opts o = {.force_dense = 0, .unroll_budget = BUDGET};
    sf_status s = tu_model_build(m, k_json, t, 6);
    if (!s)
        s = tu_model_plan(m, 1, &o);
    if (!s) { /* one layer per kernel family, whatever the cost model prefers */
        set_variant(tu_plan(&m->g, "fc1"), "f32_linear_nmu_r8t1");
        set_variant(tu_plan(&m->g, "fc2"), "f32_linear_nmc_r4t4");
        set_variant(tu_plan(&m->g, "fc3"), "f32_linear_dense_r16t1");
    }
    sf_buf_init(&blob->data);
    if (!s)
        s = sf_pack_graph(&m->g, blob);
    return s;
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The GPU ELL sections (pack_cuda.c, docs/FORMATS.md) decoded back to dense
 * equal the weights the GPU must compute with (dead columns zeroed); N:M
 * layers get one-byte positions, the dense one columns. */
START_TEST(gpu_ell_sections)
{
    weights W;
    make_weights(&W);
    tu_model m;
    sf_blob blob;
    tu_tensor t[] = {
        {"w1", "F32", 2, {8, 16}, W.w1, sizeof W.w1}, {"b1", "F32", 1, {8}, W.b1, sizeof W.b1},
        {"w2", "F32", 2, {48, 8}, W.w2, sizeof W.w2}, {"b2", "F32", 1, {48}, W.b2, sizeof W.b2},
        {"w3", "F32", 2, {4, 48}, W.w3, sizeof W.w3}, {"b3", "F32", 1, {4}, W.b3, sizeof W.b3}};
    sf_plan_opts o = {.unroll_budget = BUDGET,
                      .target_cuda = 1,
                      .gpu_dtype = SF_GPU_F32,
                      .gpu_force = 1,
                      .gpu_forced = SF_G_ELL};
    ck_assert_int_eq(tu_model_build(&m, k_json, t, 6), SF_OK);
    ck_assert_int_eq(tu_model_plan(&m, 1, &o), SF_OK);
    ck_assert_int_eq(sf_plan_cuda_graph(&m.g, &o), SF_OK);
    sf_buf_init(&blob.data);
    ck_assert_int_eq(sf_pack_graph(&m.g, &blob), SF_OK);
    static const char *const names[] = {"fc1", "fc2", "fc3"};
    static const int want_n[] = {2, 1, 0}, want_m[] = {4, 4, 0}, want_ib[] = {1, 1, 2};
    for (int li = 0; li < 3; li++) {
        const sf_linear *L = tu_lin(&m.g, names[li]);
        const sf_gplan *gp = sf_cuda_gplan(&m.g, L);
        const int64_t O = L->out, K = L->in, OP = (O + 31) / 32 * 32, S = gp->slots;
        ck_assert_int_eq(gp->kernel, SF_G_ELL);
        ck_assert_int_eq(gp->group_n, want_n[li]);
        ck_assert_int_eq(gp->group_m, want_m[li]);
        ck_assert_int_eq(gp->idx_bytes, want_ib[li]);
        ck_assert_uint_eq(gp->off_w % 256, 0);
        ck_assert_uint_eq(gp->off_idx % 256, 0);
        const size_t n8 = (size_t)((S + 7) / 8 * 8 * OP);
        ck_assert_uint_le(gp->off_w + 4 * n8, gp->off_idx);
        ck_assert_uint_le(gp->off_idx + (size_t)gp->idx_bytes * n8, gp->off_bias);
        unsigned char *live = calloc((size_t)K, 1);
        float *dense = calloc((size_t)(O * K), sizeof *dense);
        ck_assert(live && dense);
        sf_plan_col_mask(sf_cpu_plan(&m.g, L), live);
        for (int64_t r = 0; r < O; r++)
            for (int64_t s = 0; s < S; s++) {
                const size_t at = (size_t)((s / 8 * OP + r) * 8 + s % 8);
                float v;
                uint32_t idx = 0;
                memcpy(&v, blob.data.data + gp->off_w + 4 * at, 4);
                memcpy(&idx, blob.data.data + gp->off_idx + (size_t)gp->idx_bytes * at,
                       (size_t)gp->idx_bytes);
                const int64_t col = gp->group_n ? s / gp->group_n * gp->group_m + idx : idx;
                if (v == 0.0f)
                    continue;
                ck_assert_int_lt(col, K);
                ck_assert_msg(dense[r * K + col] == 0.0f, "%s row %lld column %lld twice",
                              names[li], (long long)r, (long long)col);
                dense[r * K + col] = v;
            }
        for (int64_t r = 0; r < O; r++)
            for (int64_t k = 0; k < K; k++)
                ck_assert_float_eq(dense[r * K + k], live[k] ? L->w[r * K + k] : 0.0f);
        free(live);
        free(dense);
    }
    sf_blob_free(&blob);
    tu_model_free(&m);
}
END_TEST

START_TEST(plan_as_designed)
{
    weights W;
    make_weights(&W);
    tu_model m;
    sf_blob blob;
    ck_assert_int_eq(build(&m, &W, &blob), SF_OK);
    ck_assert_int_eq(tu_plan(&m.g, "fc1")->kernel, SF_K_NM_UNROLLED);
    ck_assert_int_eq(tu_plan(&m.g, "fc2")->kernel, SF_K_NM_COMPRESSED);
    ck_assert_int_eq(tu_plan(&m.g, "fc3")->kernel, SF_K_DENSE);
    ck_assert_int_eq(tu_plan(&m.g, "fc2")->nzero_rows, 1);
    ck_assert_int_eq(tu_plan(&m.g, "fc3")->ncols, 47);
    sf_blob_free(&blob);
    tu_model_free(&m);
}
END_TEST

START_TEST(blob_header)
{
    weights W;
    make_weights(&W);
    tu_model m;
    sf_blob blob;
    ck_assert_int_eq(build(&m, &W, &blob), SF_OK);
    const unsigned char *h = (const unsigned char *)blob.data.data;
    size_t len = blob.data.len;
    ck_assert_uint_ge(len, SF_BLOB_HEADER_BYTES);
    ck_assert_int_eq(memcmp(h, "SFWB", 4), 0);
    ck_assert_uint_eq(h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24, 1);
    ck_assert_uint_eq(rd64(h + 8), len);
    ck_assert_uint_eq(rd64(h + 16), blob.mask_hash);
    ck_assert_uint_eq(rd64(h + 24), blob.value_hash);
    ck_assert_str_eq((const char *)h + 32, "pm");
    for (int i = 34; i < 64; i++)
        ck_assert_uint_eq(h[i], 0);
    ck_assert_uint_eq(len % 64, 0);
    /* the runtime reads the same header through sf_blob_header */
    ck_assert_uint_eq(sizeof(sf_blob_header), SF_BLOB_HEADER_BYTES);
    sf_blob_header bh;
    memcpy(&bh, h, sizeof bh);
    ck_assert_int_eq(memcmp(bh.magic, "SFWB", 4), 0);
    ck_assert_uint_eq(bh.version, SF_BLOB_VERSION);
    ck_assert_uint_eq(bh.size, len);
    ck_assert_uint_eq(bh.mask_hash, blob.mask_hash);
    ck_assert_uint_eq(bh.value_hash, blob.value_hash);
    ck_assert_str_eq(bh.model, "pm");
    sf_blob_free(&blob);
    tu_model_free(&m);
}
END_TEST

/* The smallest of the layer's offsets above `off` (the end of a section). */
static size_t next_off(const sf_plan *p, size_t off, size_t len)
{
    size_t o[] = {p->off_rows, p->off_rowptr, p->off_col, p->off_cols, p->off_zero_rows};
    size_t best = len;
    for (size_t i = 0; i < sizeof o / sizeof o[0]; i++)
        if (o[i] > off && o[i] < best)
            best = o[i];
    return best;
}

START_TEST(blob_sections)
{
    weights W;
    make_weights(&W);
    tu_model m;
    sf_blob blob;
    ck_assert_int_eq(build(&m, &W, &blob), SF_OK);
    const char *data = blob.data.data;
    size_t len = blob.data.len, prev_end = SF_BLOB_HEADER_BYTES;
    static const char *const names[] = {"fc1", "fc2", "fc3"};
    for (int li = 0; li < 3; li++) {
        const sf_linear *L = tu_lin(&m.g, names[li]);
        const sf_plan *p = sf_cpu_plan(&m.g, L);
        /* sections are 64-byte aligned, in the blob, after the previous layer */
        ck_assert_uint_eq(p->off_w % 64, 0);
        ck_assert_uint_ge(p->off_w, prev_end);
        ck_assert_uint_eq(p->off_zero_rows % 64, 0);
        ck_assert_uint_gt(p->off_zero_rows, p->off_w);
        ck_assert_uint_le(p->off_zero_rows + 4 * (size_t)p->nzero_rows, len);
        if (p->kernel == SF_K_DENSE) {
            ck_assert_uint_eq(p->off_rows % 64, 0);
            ck_assert_uint_eq(p->off_cols % 64, 0);
            ck_assert_uint_gt(p->off_rows, p->off_w);
            ck_assert_uint_gt(p->off_cols, p->off_rows);
            ck_assert_uint_le(p->off_cols + 4 * (size_t)p->ncols, len);
            int32_t v;
            for (int i = 0; i < p->nrows; i++) {
                memcpy(&v, data + p->off_rows + 4 * (size_t)i, 4);
                ck_assert_int_eq(v, p->rows[i]);
            }
            for (int i = 0; i < p->ncols; i++) {
                memcpy(&v, data + p->off_cols + 4 * (size_t)i, 4);
                ck_assert_int_eq(v, p->cols[i]);
            }
        } else if (p->kernel == SF_K_NM_COMPRESSED) {
            ck_assert_uint_eq(p->off_rows % 64, 0);
            ck_assert_uint_eq(p->off_rowptr % 64, 0);
            ck_assert_uint_eq(p->off_col % 64, 0);
            ck_assert_uint_gt(p->off_rows, p->off_w);
            ck_assert_uint_gt(p->off_rowptr, p->off_w);
            ck_assert_uint_gt(p->off_col, p->off_w);
            int32_t v;
            for (int i = 0; i < p->nrows; i++) {
                memcpy(&v, data + p->off_rows + 4 * (size_t)i, 4);
                ck_assert_int_eq(v, p->rows[i]);
            }
        }
        for (int i = 0; i < p->nzero_rows; i++) {
            int32_t v;
            memcpy(&v, data + p->off_zero_rows + 4 * (size_t)i, 4);
            ck_assert_int_eq(v, p->zero_rows[i]);
        }
        /* the first section holds the biases and the weights of the computed
         * block (plus zero padding): their sums agree (exact small integers) */
        double want = 0, got = 0;
        for (int i = 0; i < p->nrows; i++) {
            want += L->bias ? L->bias[p->rows[i]] : 0;
            for (int c = 0; c < p->ncols; c++)
                want += L->w[(int64_t)p->rows[i] * L->in + p->cols[c]];
        }
        size_t end = next_off(p, p->off_w, len);
        for (size_t off = p->off_w; off + 4 <= end; off += 4) {
            float f;
            memcpy(&f, data + off, 4);
            got += f;
        }
        ck_assert_msg(got == want, "%s (%s): weight section sums to %g, expected %g", names[li],
                      sf_kernel_name(p->kernel), got, want);
        /* and its first values are the biases of the first computed rows */
        for (int i = 0; i < p->nrows && i < p->row_block; i++) {
            float f;
            memcpy(&f, data + p->off_w + 4 * (size_t)i, 4);
            ck_assert(f == (L->bias ? L->bias[p->rows[i]] : 0.0f));
        }
        prev_end = p->off_zero_rows + 4 * (size_t)p->nzero_rows;
    }
    sf_blob_free(&blob);
    tu_model_free(&m);
}
END_TEST

static void blob_of(const weights *W, sf_blob *blob)
{
    tu_model m;
    ck_assert_int_eq(build(&m, W, blob), SF_OK);
    tu_model_free(&m);
}

START_TEST(mask_hash)
{
    weights W0, W;
    make_weights(&W0);
    sf_blob a, b;
    blob_of(&W0, &a);

    /* same masks, other values (weights and biases): same mask hash */
    W = W0;
    for (size_t i = 0; i < sizeof W / sizeof(float); i++) {
        float *f = (float *)&W + i;
        if (*f != 0.0f)
            *f = *f * 2.0f + (*f > 0 ? 1.0f : -1.0f);
    }
    blob_of(&W, &b);
    ck_assert_uint_eq(a.mask_hash, b.mask_hash);
    ck_assert_uint_ne(a.value_hash, b.value_hash);
    ck_assert_uint_eq(a.data.len, b.data.len);
    ck_assert_int_ne(memcmp(a.data.data, b.data.data, a.data.len), 0);
    sf_blob_free(&b);

    /* bias 0 -> nonzero on a computed row is a value change too */
    W = W0;
    ck_assert(W.b1[3] == 0.0f);
    W.b1[3] = 5.0f;
    blob_of(&W, &b);
    ck_assert_uint_eq(a.mask_hash, b.mask_hash);
    sf_blob_free(&b);

    /* move one nonzero of the unrolled layer inside its group */
    W = W0;
    int k = 0;
    while (W.w1[k] == 0.0f || W.w1[k ^ 1] != 0.0f)
        k++;
    W.w1[k ^ 1] = W.w1[k];
    W.w1[k] = 0.0f;
    blob_of(&W, &b);
    ck_assert_uint_ne(a.mask_hash, b.mask_hash);
    sf_blob_free(&b);

    /* move one nonzero of the compressed layer */
    W = W0;
    k = 8; /* row 1 */
    while (W.w2[k] == 0.0f || W.w2[k ^ 1] != 0.0f)
        k++;
    W.w2[k ^ 1] = W.w2[k];
    W.w2[k] = 0.0f;
    blob_of(&W, &b);
    ck_assert_uint_ne(a.mask_hash, b.mask_hash);
    sf_blob_free(&b);

    /* drop a row of the compressed layer (becomes a zero row) */
    W = W0;
    memset(W.w2 + 7 * 8, 0, 8 * sizeof(float));
    W.b2[7] = 0.0f;
    blob_of(&W, &b);
    ck_assert_uint_ne(a.mask_hash, b.mask_hash);
    sf_blob_free(&b);

    /* the dense layer's values alone do not change the mask hash */
    W = W0;
    W.w3[0] = 100.0f;
    W.w3[5] = -3.0f;
    blob_of(&W, &b);
    ck_assert_uint_eq(a.mask_hash, b.mask_hash);
    ck_assert_uint_ne(a.value_hash, b.value_hash);
    sf_blob_free(&b);
    sf_blob_free(&a);
}
END_TEST

/* ---- emit --------------------------------------------------------------------- */

static sf_files *emit_model(const weights *W, int threads)
{
    tu_model m;
    sf_blob blob;
    ck_assert_int_eq(build(&m, W, &blob), SF_OK);
    sf_files *fs = malloc(sizeof *fs);
    sf_files_init(fs);
    ck_assert_int_eq(sf_emit(&m.g, &blob, fs, threads), SF_OK);
    sf_blob_free(&blob);
    tu_model_free(&m);
    return fs;
}

static const sf_buf *find_file(const sf_files *fs, const char *name)
{
    for (int i = 0; i < fs->n; i++)
        if (strcmp(fs->f[i].name, name) == 0)
            return &fs->f[i].buf;
    return NULL;
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* runtime/cpu/ and, first, runtime/'s shared format header */
static const char *const k_runtime[] = {"sf_format.h", "sf_runtime.h", "sf_ops.h",  "sf_ops.c",
                                        "sf_nn.h",     "sf_nn.c",      "sf_npy.h",  "sf_npy.c",
                                        "sf_main.h",   "sf_main.c",    "sf_names.h"};

static int is_runtime(const char *name)
{
    for (size_t i = 0; i < sizeof k_runtime / sizeof k_runtime[0]; i++)
        if (strcmp(name, k_runtime[i]) == 0)
            return 1;
    return 0;
}

START_TEST(emit_file_set)
{
    weights W;
    make_weights(&W);
    tu_model m;
    sf_blob blob;
    ck_assert_int_eq(build(&m, &W, &blob), SF_OK);
    sf_files *fs = malloc(sizeof *fs);
    sf_files_init(fs);
    ck_assert_int_eq(sf_emit(&m.g, &blob, fs, 0), SF_OK);

    const char *expect[32];
    int ne = 0;
    static const char *const fixed[] = {"Makefile",   "pm.h",          "pm.c",
                                        "pm_main.c",  "pm_internal.h", "pm_weights.S",
                                        "pm.weights", "report.json"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        expect[ne++] = fixed[i];
    for (size_t i = 0; i < sizeof k_runtime / sizeof k_runtime[0]; i++)
        expect[ne++] = k_runtime[i];
    char layer[3][128];
    static const char *const names[] = {"fc1", "fc2", "fc3"};
    for (int i = 0; i < 3; i++) {
        snprintf(layer[i], sizeof layer[i], "%s.c", tu_plan(&m.g, names[i])->fn);
        expect[ne++] = layer[i];
    }
    ck_assert_int_eq(fs->n, ne);
    for (int i = 0; i < ne; i++)
        ck_assert_msg(find_file(fs, expect[i]) != NULL, "missing %s", expect[i]);
    for (int i = 0; i < fs->n; i++)
        for (int j = 0; j < i; j++)
            ck_assert_str_ne(fs->f[i].name, fs->f[j].name);

    /* the weights file is the blob */
    const sf_buf *wb = find_file(fs, "pm.weights");
    ck_assert_uint_eq(wb->len, blob.data.len);
    ck_assert_int_eq(memcmp(wb->data, blob.data.data, wb->len), 0);
    /* runtime files are verbatim copies */
    for (size_t i = 0; i < sizeof k_runtime / sizeof k_runtime[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "runtime/%s%s", i ? "cpu/" : "", k_runtime[i]);
        const sf_embedded_file *e = sf_embedded_find(path);
        const sf_buf *b = find_file(fs, k_runtime[i]);
        ck_assert_ptr_nonnull(e);
        ck_assert_uint_eq(b->len, e->len);
        ck_assert_int_eq(memcmp(b->data, e->data, e->len), 0);
    }
    /* every layer source is built */
    const sf_buf *mk = find_file(fs, "Makefile");
    for (int i = 0; i < 3; i++)
        ck_assert_msg(strstr(mk->data, layer[i]) != NULL, "Makefile does not build %s", layer[i]);
    /* the public header's contract (DESIGN §6) */
    const char *hdr = find_file(fs, "pm.h")->data;
    ck_assert_ptr_nonnull(strstr(hdr, "#define PM_ARENA_BYTES"));
    ck_assert_ptr_nonnull(strstr(hdr, "int pm_run("));
    ck_assert_ptr_nonnull(strstr(hdr, "const char *pm_strerror(int"));
    /* the layer functions exist where the internal header declares them */
    const char *ih = find_file(fs, "pm_internal.h")->data;
    for (int i = 0; i < 3; i++) {
        const char *fn = tu_plan(&m.g, names[i])->fn;
        ck_assert_msg(strstr(ih, fn) != NULL, "%s not declared", fn);
        ck_assert_msg(strstr(find_file(fs, layer[i])->data, fn) != NULL, "%s not defined", fn);
    }
    sf_files_free(fs);
    free(fs);
    sf_blob_free(&blob);
    tu_model_free(&m);
}
END_TEST

START_TEST(emit_banners)
{
    weights W;
    make_weights(&W);
    sf_files *fs = emit_model(&W, 0);
    char c_banner[64], mk_banner[64];
    snprintf(c_banner, sizeof c_banner, "/* Generated by sfgen %s ", SF_VERSION);
    snprintf(mk_banner, sizeof mk_banner, "# Generated by sfgen %s ", SF_VERSION);
    int checked = 0;
    for (int i = 0; i < fs->n; i++) {
        const char *name = fs->f[i].name, *text = fs->f[i].buf.data;
        const char *want = NULL;
        if (is_runtime(name))
            continue;
        if (has_suffix(name, ".c") || has_suffix(name, ".h") || has_suffix(name, ".S"))
            want = c_banner;
        else if (strcmp(name, "Makefile") == 0)
            want = mk_banner;
        else
            continue;
        checked++;
        ck_assert_msg(strncmp(text, want, strlen(want)) == 0, "%s starts with: %.60s", name, text);
        /* the banner (first comment) names the template and the model */
        const char *end = want == c_banner ? strstr(text, "*/") : strstr(text + 1, "\n#");
        end = end ? strstr(end + 1, "\n") : NULL;
        ck_assert_ptr_nonnull(end);
        char banner[512];
        snprintf(banner, sizeof banner, "%.*s", (int)(end - text), text);
        ck_assert_msg(strstr(banner, "templates/") && strstr(banner, "model 'pm'"),
                      "%s: banner lacks template or model:\n%s", name, banner);
    }
    ck_assert_int_eq(checked,
                     3 + 1 + 4 + 1); /* layers, model .c/.h/_main/_internal, .S, Makefile */
    /* JSON cannot carry a comment: report.json is plain JSON */
    const sf_buf *rep = find_file(fs, "report.json");
    cJSON *r = cJSON_ParseWithLength(rep->data, rep->len);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(cJSON_GetObjectItem(r, "model")->valuestring, "pm");
    cJSON *layers = cJSON_GetObjectItem(r, "layers");
    ck_assert_int_eq(cJSON_GetArraySize(layers), 3);
    cJSON_Delete(r);
    sf_files_free(fs);
    free(fs);
}
END_TEST

START_TEST(emit_deterministic)
{
    weights W;
    make_weights(&W);
    sf_files *a = emit_model(&W, 4), *b = emit_model(&W, 4);
    ck_assert_int_eq(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        ck_assert_str_eq(a->f[i].name, b->f[i].name);
        ck_assert_msg(a->f[i].buf.len == b->f[i].buf.len &&
                          memcmp(a->f[i].buf.data, b->f[i].buf.data, a->f[i].buf.len) == 0,
                      "%s differs between two runs", a->f[i].name);
    }
    /* other values, same masks: the code stays valid for the new blob, so
     * only the blob and the report may change */
    weights W2 = W;
    W2.w3[1] += 1.0f;
    W2.b1[0] += 1.0f;
    sf_files *c = emit_model(&W2, 4);
    ck_assert_int_eq(a->n, c->n);
    for (int i = 0; i < a->n; i++) {
        const char *n = a->f[i].name;
        int same = a->f[i].buf.len == c->f[i].buf.len &&
                   memcmp(a->f[i].buf.data, c->f[i].buf.data, a->f[i].buf.len) == 0;
        if (strcmp(n, "pm.weights") == 0)
            ck_assert_msg(!same, "weights unchanged");
        else if (strcmp(n, "report.json") != 0)
            ck_assert_msg(same, "%s changed though the masks did not", n);
    }
    sf_files_free(a);
    sf_files_free(b);
    sf_files_free(c);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(files_table)
{
    sf_files *fs = malloc(sizeof *fs);
    sf_files_init(fs);
    char name[200];
    memset(name, 'a', sizeof name);
    name[128] = 0;
    ck_assert_ptr_null(sf_files_add(fs, name));
    name[127] = 0;
    sf_buf *b = sf_files_add(fs, name);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(b->len, 0);
    for (int i = 1; i < SF_MAX_FILES; i++)
        ck_assert_ptr_nonnull(sf_files_add(fs, "x"));
    ck_assert_ptr_null(sf_files_add(fs, "y"));
    ck_assert_int_eq(fs->n, SF_MAX_FILES);
    sf_files_free(fs);
    ck_assert_int_eq(fs->n, 0);
    free(fs);
}
END_TEST

Suite *pack_emit_suite(void)
{
    Suite *s = suite_create("pack_emit");
    TCase *tc = tcase_create("pack");
    tcase_add_test(tc, plan_as_designed);
    tcase_add_test(tc, gpu_ell_sections);
    tcase_add_test(tc, blob_header);
    tcase_add_test(tc, blob_sections);
    tcase_add_test(tc, mask_hash);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    tc = tcase_create("emit");
    tcase_add_test(tc, emit_file_set);
    tcase_add_test(tc, emit_banners);
    tcase_add_test(tc, emit_deterministic);
    tcase_add_test(tc, files_table);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}
