/* test_loader.c - load stage: model JSON -> sf_desc (load_json.c) and the
 * safetensors weights file (load_safetensors.c). */
#define _XOPEN_SOURCE 700
#include <cJSON.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ir/graph.h"
#include "suites.h"
#include "test_util.h"

/* ---- model JSON ------------------------------------------------------------------ */

static const char *k_valid =
    "{'sparseflow': 1, 'name': 'mlp', 'weights': 'w.safetensors',\n"
    " 'inputs': [{'name': 'x', 'shape': [8, 4], 'dtype': 'f32'},\n"
    "            {'name': 'z', 'shape': [8, 2, 3]}],\n"
    " 'outputs': ['y', 'h'],\n"
    " 'nodes': [\n"
    "  {'op': 'linear', 'name': 'fc1', 'inputs': ['x'], 'outputs': ['h'],\n"
    "   'weight': 'fc1.weight', 'bias': 'fc1.bias'},\n"
    "  {'op': 'relu', 'inputs': ['h'], 'outputs': ['a']},\n"
    "  {'op': 'gelu', 'name': 'g', 'inputs': ['a'], 'outputs': ['y'], 'approximate': 'tanh',\n"
    "   'bias': null}]}\n";

typedef struct {
    sf_arena a;
    sf_desc d;
} jfix;

/* Loads `json` (single quotes allowed) as if read from `path`. */
static sf_status load(jfix *f, const char *path, const char *json)
{
    sf_arena_init(&f->a);
    char *t = tu_json(json);
    sf_status s = sf_load_json_text(&f->a, path, t, strlen(t), &f->d);
    free(t);
    return s;
}

static void setup(void)
{
    tu_diag_capture();
}
static void teardown(void)
{
    tu_diag_release();
}

START_TEST(json_valid_model)
{
    jfix f;
    ck_assert_int_eq(load(&f, "models/sub/mlp.json", k_valid), SF_OK);
    ck_assert_int_eq(sf_error_count(), 0);
    const sf_desc *d = &f.d;
    ck_assert_str_eq(d->name, "mlp");
    ck_assert_str_eq(d->path, "models/sub/mlp.json");
    ck_assert_str_eq(d->base, "mlp.json");
    ck_assert_str_eq(d->weights_path, "models/sub/w.safetensors");
    ck_assert_int_eq(d->ninputs, 2);
    ck_assert_str_eq(d->inputs[0].name, "x");
    ck_assert_int_eq(d->inputs[0].rank, 2);
    ck_assert_int_eq(d->inputs[0].dims[0], 8);
    ck_assert_int_eq(d->inputs[0].dims[1], 4);
    ck_assert_str_eq(d->inputs[1].name, "z");
    ck_assert_int_eq(d->inputs[1].rank, 3);
    ck_assert_int_eq(d->inputs[1].dims[2], 3);
    ck_assert_int_eq(d->noutputs, 2);
    ck_assert_str_eq(d->outputs[0], "y");
    ck_assert_str_eq(d->outputs[1], "h");
    ck_assert_int_eq(d->nnodes, 3);
    const sf_desc_node *n = d->nodes;
    ck_assert_str_eq(n[0].op, "linear");
    ck_assert_str_eq(n[0].name, "fc1");
    ck_assert_int_eq(n[0].index, 0);
    ck_assert_int_eq(n[0].ninputs, 1);
    ck_assert_str_eq(n[0].inputs[0], "x");
    ck_assert_int_eq(n[0].noutputs, 1);
    ck_assert_str_eq(n[0].outputs[0], "h");
    ck_assert_str_eq(n[0].weight, "fc1.weight");
    ck_assert_str_eq(n[0].bias, "fc1.bias");
    ck_assert_ptr_null(n[0].approximate);
    /* unnamed node: "<op>_<index>" */
    ck_assert_str_eq(n[1].name, "relu_1");
    ck_assert_int_eq(n[1].index, 1);
    ck_assert_ptr_null(n[1].weight);
    ck_assert_ptr_null(n[1].bias);
    ck_assert_str_eq(n[2].name, "g");
    ck_assert_str_eq(n[2].approximate, "tanh");
    ck_assert_ptr_null(n[2].bias); /* "bias": null is no bias */
    sf_arena_free(&f.a);
}
END_TEST

START_TEST(json_weights_path_resolution)
{
    static const struct {
        const char *model, *weights, *expect;
    } cases[] = {
        {"mlp.json", "w.safetensors", "w.safetensors"},
        {"/abs/dir/mlp.json", "w.safetensors", "/abs/dir/w.safetensors"},
        {"/abs/dir/mlp.json", "../data/w.st", "/abs/dir/../data/w.st"},
        {"rel/mlp.json", "/elsewhere/w.st", "/elsewhere/w.st"},
        {"a/b/c/mlp.json", "sub/w.st", "a/b/c/sub/w.st"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{'sparseflow':1,'name':'m','weights':'%s','inputs':[{'name':'x','shape':[1,2]}],"
                 "'outputs':['y'],'nodes':[{'op':'relu','inputs':['x'],'outputs':['y']}]}",
                 cases[i].weights);
        jfix f;
        ck_assert_int_eq(load(&f, cases[i].model, json), SF_OK);
        ck_assert_str_eq(f.d.weights_path, cases[i].expect);
        sf_arena_free(&f.a);
    }
}
END_TEST

/* A model that fails: status, and every expected fragment in the messages. */
static void expect_fail(const char *json, sf_status want, const char *const *frags)
{
    jfix f;
    tu_diag_capture();
    sf_status s = load(&f, "/some/dir/m.json", json);
    ck_assert_msg(s == want, "status %d, expected %d; messages:\n%s", s, want, tu_diag());
    ck_assert_int_ge(tu_diag_lines(), 1);
    for (const char *const *p = frags; *p; p++)
        TU_ASSERT_DIAG(*p);
    sf_arena_free(&f.a);
}

#define FRAGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define HEAD       "{'sparseflow':1,'name':'m','weights':'w.st',"
#define IN         "'inputs':[{'name':'x','shape':[2,4]}],"
#define OUT        "'outputs':['y'],"

START_TEST(json_unknown_top_level_key)
{
    expect_fail(HEAD IN OUT "'nodes':[{'op':'relu','inputs':['x'],'outputs':['y']}],'extra':1}",
                SF_EINPUT, FRAGS("m.json", "top level", "'extra'", "unknown key"));
    ck_assert_int_eq(tu_diag_lines(), 1); /* one message per problem */
}
END_TEST

START_TEST(json_unknown_node_key)
{
    expect_fail(HEAD IN OUT "'nodes':[{'op':'relu','name':'act','inputs':['x'],'outputs':['y'],"
                            "'strides':2}]}",
                SF_EINPUT, FRAGS("m.json", "node 'act'", "nodes[0]", "'strides'", "unknown key"));
}
END_TEST

START_TEST(json_unknown_node_key_unnamed)
{
    expect_fail(HEAD IN OUT "'nodes':[{'op':'relu','inputs':['x'],'outputs':['t']},"
                            "{'op':'tanh','inputs':['t'],'outputs':['y'],'Weight':'w'}]}",
                SF_EINPUT, FRAGS("m.json", "nodes[1]", "'Weight'", "unknown key"));
}
END_TEST

START_TEST(json_unknown_input_key)
{
    expect_fail(HEAD "'inputs':[{'name':'x','shape':[2,4],'layout':'nc'}]," OUT
                     "'nodes':[{'op':'relu','inputs':['x'],'outputs':['y']}]}",
                SF_EINPUT, FRAGS("m.json", "inputs[0]", "'layout'", "unknown key"));
}
END_TEST

START_TEST(json_duplicate_key)
{
    expect_fail(HEAD IN OUT "'nodes':[{'op':'relu','name':'r','inputs':['x'],'outputs':['y'],"
                            "'op':'tanh'}]}",
                SF_EINPUT, FRAGS("m.json", "node 'r'", "'op'", "duplicate key"));
}
END_TEST

START_TEST(json_node_field_type)
{
    expect_fail(HEAD IN OUT "'nodes':[{'op':'linear','name':'fc1','inputs':['x'],'outputs':['y'],"
                            "'weight':3}]}",
                SF_EINPUT, FRAGS("m.json", "node 'fc1' (nodes[0])", "field 'weight'", "string"));
}
END_TEST

START_TEST(json_node_missing_field)
{
    expect_fail(HEAD IN OUT "'nodes':[{'op':'relu','name':'r1','inputs':['x']}]}", SF_EINPUT,
                FRAGS("m.json", "node 'r1' (nodes[0])", "field 'outputs'", "missing"));
    expect_fail(HEAD IN OUT "'nodes':[{'name':'r1','inputs':['x'],'outputs':['y']}]}", SF_EINPUT,
                FRAGS("m.json", "node 'r1' (nodes[0])", "field 'op'", "missing"));
}
END_TEST

START_TEST(json_node_inputs_element)
{
    expect_fail(HEAD IN OUT "'nodes':[{'op':'add','name':'s','inputs':['x', 7],'outputs':['y']}]}",
                SF_EINPUT, FRAGS("m.json", "node 's' (nodes[0])", "field 'inputs", "string"));
    expect_fail(HEAD IN OUT "'nodes':[{'op':'relu','name':'s','inputs':'x','outputs':['y']}]}",
                SF_EINPUT, FRAGS("m.json", "node 's' (nodes[0])", "field 'inputs'"));
    expect_fail(HEAD IN OUT "'nodes':[{'op':'relu','name':'s','inputs':[''],'outputs':['y']}]}",
                SF_EINPUT, FRAGS("m.json", "node 's'", "non-empty"));
}
END_TEST

START_TEST(json_input_shape_and_dtype)
{
    static const char *const bad_shapes[] = {
        "[2, 0]", "[2, -1]",  "[2, 1.5]",       "[]", "[1,1,1,1,1,1,1,1,1]",
        "'2x4'",  "[2, '4']", "[2, 4294967296]"};
    for (size_t i = 0; i < sizeof bad_shapes / sizeof bad_shapes[0]; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 HEAD "'inputs':[{'name':'x','shape':%s}]," OUT
                      "'nodes':[{'op':'relu','inputs':['x'],'outputs':['y']}]}",
                 bad_shapes[i]);
        expect_fail(json, SF_EINPUT, FRAGS("m.json", "input 'x'", "field 'shape'"));
    }
    expect_fail(HEAD "'inputs':[{'name':'x','shape':[2,4],'dtype':'f16'}]," OUT
                     "'nodes':[{'op':'relu','inputs':['x'],'outputs':['y']}]}",
                SF_EINPUT, FRAGS("m.json", "input 'x'", "field 'dtype'", "f32"));
    expect_fail(HEAD "'inputs':[{'shape':[2,4]}]," OUT
                     "'nodes':[{'op':'relu','inputs':['x'],'outputs':['y']}]}",
                SF_EINPUT, FRAGS("m.json", "inputs[0].name", "missing"));
}
END_TEST

START_TEST(json_top_level_fields)
{
    static const char *nodes = "'nodes':[{'op':'relu','inputs':['x'],'outputs':['y']}]}";
    char json[512];
    snprintf(json, sizeof json, "{'sparseflow':2,'name':'m','weights':'w.st'," IN OUT "%s", nodes);
    expect_fail(json, SF_EINPUT, FRAGS("m.json", "field 'sparseflow'"));
    snprintf(json, sizeof json, "{'name':'m','weights':'w.st'," IN OUT "%s", nodes);
    expect_fail(json, SF_EINPUT, FRAGS("m.json", "field 'sparseflow'", "missing"));
    snprintf(json, sizeof json, "{'sparseflow':1,'name':'1abc','weights':'w.st'," IN OUT "%s",
             nodes);
    expect_fail(json, SF_EINPUT, FRAGS("m.json", "field 'name'", "C identifier"));
    snprintf(json, sizeof json, "{'sparseflow':1,'name':'a-b','weights':'w.st'," IN OUT "%s",
             nodes);
    expect_fail(json, SF_EINPUT, FRAGS("m.json", "field 'name'"));
    snprintf(json, sizeof json, "{'sparseflow':1,'name':'m'," IN OUT "%s", nodes);
    expect_fail(json, SF_EINPUT, FRAGS("m.json", "field 'weights'", "missing"));
    snprintf(json, sizeof json, HEAD "'inputs':[]," OUT "%s", nodes);
    expect_fail(json, SF_EINPUT, FRAGS("m.json", "field 'inputs'"));
    snprintf(json, sizeof json, HEAD IN "'outputs':[],%s", nodes);
    expect_fail(json, SF_EINPUT, FRAGS("m.json", "field 'outputs'"));
    expect_fail(HEAD IN OUT "'nodes':[]}", SF_EINPUT, FRAGS("m.json", "field 'nodes'"));
    expect_fail("[1, 2]", SF_EINPUT, FRAGS("m.json", "object"));
}
END_TEST

START_TEST(json_malformed)
{
    /* the error position is reported as line and column */
    expect_fail("{\n  'sparseflow': 1,\n  'name': ,\n}", SF_EINPUT,
                FRAGS("m.json", "malformed JSON", "line 3"));
    expect_fail("{'sparseflow': 1", SF_EINPUT, FRAGS("m.json", "malformed JSON"));
    expect_fail("", SF_EINPUT, FRAGS("m.json"));
    /* only white space may follow the value */
    expect_fail(HEAD IN OUT "'nodes':[{'op':'relu','inputs':['x'],'outputs':['y']}]} x", SF_EINPUT,
                FRAGS("m.json", "malformed JSON"));
    /* a NUL byte inside the text */
    jfix f;
    sf_arena_init(&f.a);
    static const char text[] = "{\"sparseflow\": 1}\0 ";
    ck_assert_int_eq(sf_load_json_text(&f.a, "m.json", text, sizeof text - 1, &f.d), SF_EINPUT);
    sf_arena_free(&f.a);
}
END_TEST

START_TEST(json_nul_escape)
{
    /* a C string cannot hold U+0000: the escape must be rejected, not cut */
    expect_fail(HEAD IN OUT "'nodes':[{'op':'relu','name':'a\\u0000b','inputs':['x'],"
                            "'outputs':['y']}]}",
                SF_EINPUT, FRAGS("m.json", "nodes[0]", "name"));
    expect_fail(HEAD "'inputs':[{'name':'x\\u0000','shape':[2,4]}]," OUT
                     "'nodes':[{'op':'relu','inputs':['x'],'outputs':['y']}]}",
                SF_EINPUT, FRAGS("m.json", "inputs[0]"));
}
END_TEST

/* RFC 8259 where cJSON is lenient: a byte order mark and numbers outside
 * the JSON grammar are errors at their position, with the reason. */
START_TEST(json_strict_syntax)
{
    static const struct {
        const char *text;
        size_t pos;
        const char *why;
    } bad[] = {
        {"[016]", 1, "'016' has a leading zero"},
        {"[-01]", 1, "leading zero"},
        {"[00]", 1, "leading zero"},
        {"{\"a\": 0.5, \"b\": 01}", 16, "'01' has a leading zero"},
        {"[1.]", 1, "'1.' is not a JSON number"},
        {"[-.5]", 1, "'-.5' is not a JSON number"},
        {"[1.e5]", 1, "not a JSON number"},
        {"[1e]", 1, "not a JSON number"},
        {"[1e+]", 1, "not a JSON number"},
        {"[\"0\", 1, 2, 0001]", 12, "leading zero"},
        {"\xEF\xBB\xBF{}", 0, "byte order mark"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t pos = 99;
        const char *why = NULL;
        cJSON *r = sf_json_parse(bad[i].text, strlen(bad[i].text), &pos, &why);
        ck_assert_msg(r == NULL, "accepted %s", bad[i].text);
        ck_assert_uint_eq(pos, bad[i].pos);
        ck_assert_msg(why && strstr(why, bad[i].why), "%s: %s", bad[i].text, why ? why : "(none)");
    }
    /* the earlier of a syntax error and a bad number is reported */
    size_t pos;
    const char *why;
    ck_assert_ptr_null(sf_json_parse("[1,,016]", 8, &pos, &why));
    ck_assert_uint_eq(pos, 3);
    ck_assert_ptr_null(why);
    /* through the loader: line, column and the reason */
    expect_fail("{'sparseflow': 1,\n 'name': 016}", SF_EINPUT,
                FRAGS("m.json", "malformed JSON at line 2, column 10", "'016'", "leading zero"));
    expect_fail("\xEF\xBB\xBF" HEAD IN OUT
                "'nodes':[{'op':'relu','inputs':['x'],'outputs':['y']}]}",
                SF_EINPUT, FRAGS("m.json", "line 1, column 1", "byte order mark"));
}
END_TEST

/* Valid numbers parse, and those written with a fraction or exponent are
 * marked, in document order (strings holding digits and quotes between). */
START_TEST(json_numbers_marked)
{
    static const char text[] = "[0, -0, 10, 0.5, 1e5, 1E+2, -0.0e-0, \"s\\\"1 2.5\", "
                               "{\"k2\": 3, \"x\": [2.0]}, 7]";
    static const int frac[] = {0, 0, 0, 1, 1, 1, 1, -1, -1, 0};
    size_t pos;
    cJSON *r = sf_json_parse(text, strlen(text), &pos, NULL);
    ck_assert_ptr_nonnull(r);
    int i = 0;
    for (const cJSON *it = r->child; it; it = it->next, i++) {
        if (frac[i] >= 0) {
            ck_assert(cJSON_IsNumber(it));
            ck_assert_msg(!!(it->type & SF_JSON_NOT_INTEGER) == frac[i], "item %d", i);
        }
    }
    ck_assert_int_eq(i, 10);
    const cJSON *obj = r->child;
    for (int k = 0; k < 8; k++)
        obj = obj->next;
    ck_assert(!(cJSON_GetObjectItem(obj, "k2")->type & SF_JSON_NOT_INTEGER));
    ck_assert(cJSON_GetObjectItem(obj, "x")->child->type & SF_JSON_NOT_INTEGER);
    ck_assert_double_eq(cJSON_GetObjectItem(obj, "x")->child->valuedouble, 2.0);
    cJSON_Delete(r);
}
END_TEST

/* CPU time, so that a loaded machine does not fail the limits below; they
 * leave a wide margin both ways (about 0.1 s here, 0.7 s under ASan, tens
 * of seconds when quadratic). */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 40000 unknown keys and 10000 repeats of a known one: checked in linear
 * time (each key was compared with every later one), and 21 messages
 * instead of 50000: the first 20, then the count of the rest. */
START_TEST(json_many_bad_keys_bounded)
{
    sf_buf b;
    sf_buf_init(&b);
    sf_buf_printf(&b, "{\"sparseflow\": 1, \"name\": \"m\", \"weights\": \"w\", \"inputs\": "
                      "[{\"name\": \"x\", \"shape\": [2, 4]}], \"outputs\": [\"y\"], \"nodes\": "
                      "[{\"op\": \"relu\", \"inputs\": [\"x\"], \"outputs\": [\"y\"]}]");
    for (int i = 0; i < 40000; i++)
        sf_buf_printf(&b, ", \"k%d\": %d", i, i);
    for (int i = 0; i < 10000; i++)
        sf_buf_printf(&b, ", \"name\": \"m\"");
    sf_buf_printf(&b, "}");
    ck_assert(!b.failed);
    jfix f;
    sf_arena_init(&f.a);
    tu_diag_capture();
    double t0 = now_s();
    ck_assert_int_eq(sf_load_json_text(&f.a, "m.json", b.data, b.len, &f.d), SF_EINPUT);
    double took = now_s() - t0;
    ck_assert_msg(took < 5.0, "took %.2f s of CPU time", took);
    ck_assert_int_eq(tu_diag_lines(), 21);
    TU_ASSERT_DIAG("m.json: top level: field 'k0': unknown key");
    TU_ASSERT_DIAG("field 'k19': unknown key");
    ck_assert_ptr_null(strstr(tu_diag(), "'k20'"));
    TU_ASSERT_DIAG("m.json: top level: ... 49980 more unknown or duplicate keys");
    sf_arena_free(&f.a);
    sf_buf_free(&b);

    /* a repeated key alone: one message, on the repeat */
    expect_fail(HEAD IN OUT
                "'nodes':[{'op':'relu','inputs':['x'],'outputs':['y']}],'outputs':['y']}",
                SF_EINPUT, FRAGS("m.json", "top level", "field 'outputs'", "duplicate key"));
    ck_assert_int_eq(tu_diag_lines(), 1);
}
END_TEST

static uint32_t rng(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Random edits of a valid model never crash and end in SF_OK or SF_EINPUT. */
START_TEST(json_mutations)
{
    char *base = tu_json(k_valid);
    size_t n = strlen(base);
    static const char alphabet[] = "{}[]:,'\"0123456789-.eE+ \n\\unlrtfa_x";
    uint32_t seed = 2024;
    char *t = malloc(n + 16);
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(t, base, n + 1);
        size_t len = n;
        int edits = 1 + (int)(rng(&seed) % 3);
        for (int e = 0; e < edits; e++) {
            size_t pos = rng(&seed) % len;
            switch (rng(&seed) % 3) {
            case 0: /* replace */ t[pos] = alphabet[rng(&seed) % (sizeof alphabet - 1)]; break;
            case 1: /* delete */
                memmove(t + pos, t + pos + 1, len - pos);
                len--;
                break;
            default: /* truncate */
                t[pos] = 0;
                len = pos;
                break;
            }
            if (!len)
                break;
        }
        if (!len)
            continue;
        sf_arena a;
        sf_arena_init(&a);
        sf_desc d;
        tu_diag_capture();
        sf_status st = sf_load_json_text(&a, "m.json", t, strlen(t), &d);
        ck_assert_msg(st == SF_OK || st == SF_EINPUT, "status %d for:\n%s\n%s", st, t, tu_diag());
        ck_assert_msg(st == SF_OK || tu_diag_lines() >= 1, "rejected without a message:\n%s", t);
        sf_arena_free(&a);
    }
    free(t);
    free(base);
}
END_TEST

START_TEST(json_load_file)
{
    char dir[256], path[300];
    tu_mkdtemp(dir, sizeof dir);
    char *t = tu_json(k_valid);
    ck_assert_int_eq(tu_write_file(dir, "mlp.json", t, strlen(t)), 0);
    free(t);
    snprintf(path, sizeof path, "%s/mlp.json", dir);
    jfix f;
    sf_arena_init(&f.a);
    ck_assert_int_eq(sf_load_json(&f.a, path, &f.d), SF_OK);
    char expect[300];
    snprintf(expect, sizeof expect, "%s/w.safetensors", dir);
    ck_assert_str_eq(f.d.weights_path, expect);
    ck_assert_int_eq(f.d.nnodes, 3);
    sf_arena_free(&f.a);

    snprintf(path, sizeof path, "%s/missing.json", dir);
    sf_arena_init(&f.a);
    tu_diag_capture();
    ck_assert_int_eq(sf_load_json(&f.a, path, &f.d), SF_EINPUT);
    TU_ASSERT_DIAG("missing.json");
    /* not regular files: refused without reading (a FIFO with no writer
     * would block an open for reading: the tcase timeout fails the test) */
    snprintf(path, sizeof path, "%s/fifo.json", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(sf_load_json(&f.a, path, &f.d), SF_EINPUT);
    TU_ASSERT_DIAG("fifo.json: the model file is a FIFO, not a regular file");
    ck_assert_int_eq(sf_load_json(&f.a, "/dev/null", &f.d), SF_EINPUT);
    TU_ASSERT_DIAG("null: the model file is a character device, not a regular file");
    ck_assert_int_eq(sf_load_json(&f.a, dir, &f.d), SF_EINPUT);
    TU_ASSERT_DIAG("the model file is a folder, not a regular file");
    sf_arena_free(&f.a);
    tu_rmrf(dir);
}
END_TEST

/* ---- f16 / bf16 ------------------------------------------------------------------------ */

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Independent definitions: value = (-1)^s * significand * 2^e, built with ldexp. */
static float ref_f16(uint16_t h)
{
    int s = h >> 15, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (e == 0)
        v = ldexp((double)m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexp((double)(1024 + m), e - 25);
    return (float)(s ? -v : v);
}

static float ref_bf16(uint16_t h)
{
    int s = h >> 15, e = (h >> 7) & 0xff, m = h & 0x7f;
    double v;
    if (e == 0)
        v = ldexp((double)m, -133);
    else if (e == 255)
        v = m ? NAN : INFINITY;
    else
        v = ldexp((double)(128 + m), e - 134);
    return (float)(s ? -v : v);
}

START_TEST(f16_spot_values)
{
    ck_assert_uint_eq(bits(sf_f16_to_f32(0x0000)), bits(0.0f));
    ck_assert_uint_eq(bits(sf_f16_to_f32(0x8000)), 0x80000000u); /* -0 keeps its sign */
    ck_assert(sf_f16_to_f32(0x3c00) == 1.0f);
    ck_assert(sf_f16_to_f32(0xc000) == -2.0f);
    ck_assert(sf_f16_to_f32(0x3555) == 0.333251953125f);
    ck_assert(sf_f16_to_f32(0x7bff) == 65504.0f);     /* largest normal */
    ck_assert(sf_f16_to_f32(0x0400) == 0x1p-14f);     /* smallest normal */
    ck_assert(sf_f16_to_f32(0x03ff) == 0x1.ff8p-15f); /* largest subnormal */
    ck_assert(sf_f16_to_f32(0x0200) == 0x1p-15f);
    ck_assert(sf_f16_to_f32(0x0001) == 0x1p-24f); /* smallest subnormal */
    ck_assert(sf_f16_to_f32(0x8001) == -0x1p-24f);
    ck_assert(sf_f16_to_f32(0x0003) == 0x1.8p-23f);
    ck_assert(isinf(sf_f16_to_f32(0x7c00)) && sf_f16_to_f32(0x7c00) > 0);
    ck_assert(isinf(sf_f16_to_f32(0xfc00)) && sf_f16_to_f32(0xfc00) < 0);
    ck_assert(isnan(sf_f16_to_f32(0x7e00)));
    ck_assert(isnan(sf_f16_to_f32(0x7c01))); /* signalling NaN */
    ck_assert(isnan(sf_f16_to_f32(0xfe00)) && signbit(sf_f16_to_f32(0xfe00)));
}
END_TEST

START_TEST(f16_exhaustive)
{
    for (uint32_t h = 0; h <= 0xffff; h++) {
        float got = sf_f16_to_f32((uint16_t)h), want = ref_f16((uint16_t)h);
        if (isnan(want))
            ck_assert_msg(isnan(got) && !!signbit(got) == !!signbit(want),
                          "f16 0x%04x: expected NaN", h);
        else
            ck_assert_msg(bits(got) == bits(want), "f16 0x%04x: got %a, expected %a", h,
                          (double)got, (double)want);
    }
}
END_TEST

START_TEST(bf16_values)
{
    ck_assert(sf_bf16_to_f32(0x3f80) == 1.0f);
    ck_assert(sf_bf16_to_f32(0xc000) == -2.0f);
    ck_assert(sf_bf16_to_f32(0x4049) == 3.140625f);
    ck_assert(sf_bf16_to_f32(0x0080) == 0x1p-126f);
    ck_assert(sf_bf16_to_f32(0x0001) == 0x1p-133f);
    ck_assert_uint_eq(bits(sf_bf16_to_f32(0x8000)), 0x80000000u);
    ck_assert(isinf(sf_bf16_to_f32(0x7f80)));
    ck_assert(isnan(sf_bf16_to_f32(0x7fc0)));
    for (uint32_t h = 0; h <= 0xffff; h++) {
        float got = sf_bf16_to_f32((uint16_t)h), want = ref_bf16((uint16_t)h);
        if (isnan(want))
            ck_assert_msg(isnan(got), "bf16 0x%04x: expected NaN", h);
        else
            ck_assert_msg(bits(got) == bits(want), "bf16 0x%04x: got %a, expected %a", h,
                          (double)got, (double)want);
    }
}
END_TEST

/* ---- safetensors parsing ------------------------------------------------------------------- */

typedef struct {
    sf_arena a;
    unsigned char *img;
    size_t size;
    sf_safetensors st;
} sfix;

static sf_status parse_img(sfix *f, unsigned char *img, size_t size)
{
    sf_arena_init(&f->a);
    f->img = img;
    f->size = size;
    return sf_parse_safetensors(&f->a, "/w/dir/w.safetensors", img, size, &f->st);
}

static void sfix_free(sfix *f)
{
    sf_arena_free(&f->a);
    free(f->img);
}

START_TEST(st_parse_valid)
{
    static const float a[6] = {1.5f, -2.0f, 0.0f, -0.0f, 1e-40f /* f32 subnormal */, 3.25e38f};
    static const uint16_t b[3] = {0x3c00, 0x0001, 0xfc00}; /* F16: 1, 2^-24, -inf */
    static const uint16_t c[2] = {0x4049, 0xbf80};         /* BF16: 3.140625, -1 */
    tu_tensor ts[] = {
        {"a", "F32", 2, {2, 3}, a, sizeof a},
        {"layer.b", "F16", 1, {3}, b, sizeof b},
        {"c", "BF16", 2, {1, 2}, c, sizeof c},
    };
    sfix f;
    size_t size;
    unsigned char *img = tu_st_image(ts, 3, &size);
    ck_assert_int_eq(parse_img(&f, img, size), SF_OK);
    ck_assert_int_eq(f.st.ntensors, 3);
    ck_assert_str_eq(f.st.base, "w.safetensors");
    const sf_st_tensor *ta = sf_safetensors_find(&f.st, "a");
    const sf_st_tensor *tb = sf_safetensors_find(&f.st, "layer.b");
    const sf_st_tensor *tc = sf_safetensors_find(&f.st, "c");
    ck_assert_ptr_nonnull(ta);
    ck_assert_ptr_nonnull(tb);
    ck_assert_ptr_nonnull(tc);
    ck_assert_ptr_null(sf_safetensors_find(&f.st, "d"));
    ck_assert_int_eq(ta->dtype, SF_DT_F32);
    ck_assert_int_eq(ta->rank, 2);
    ck_assert_int_eq(ta->dims[0], 2);
    ck_assert_int_eq(ta->dims[1], 3);
    ck_assert_uint_eq(ta->numel, 6);
    ck_assert_int_eq(tb->dtype, SF_DT_F16);
    ck_assert_int_eq(tc->dtype, SF_DT_BF16);
    ck_assert_uint_eq(tc->numel, 2);
    /* raw points into the image */
    ck_assert(ta->raw >= img && ta->raw + 24 <= img + size);

    float out[6];
    sf_tensor_to_f32(ta, out);
    for (int i = 0; i < 6; i++)
        ck_assert_uint_eq(bits(out[i]), bits(a[i]));
    sf_tensor_to_f32(tb, out);
    ck_assert(out[0] == 1.0f && out[1] == 0x1p-24f && isinf(out[2]) && out[2] < 0);
    sf_tensor_to_f32(tc, out);
    ck_assert(out[0] == 3.140625f && out[1] == -1.0f);
    sfix_free(&f);
}
END_TEST

START_TEST(st_byte_order)
{
    /* little-endian regardless of the host: bytes 00 3c are f16 1.0 */
    static const unsigned char data[8] = {0x00, 0x3c, 0, 0, 0x00, 0x00, 0x80, 0x3f};
    sfix f;
    size_t size;
    unsigned char *img = tu_st_raw("{'h':{'dtype':'F16','shape':[1],'data_offsets':[0,2]},"
                                   "'f':{'dtype':'F32','shape':[],'data_offsets':[4,8]}}",
                                   data, sizeof data, &size);
    ck_assert_int_eq(parse_img(&f, img, size), SF_OK);
    float v;
    sf_tensor_to_f32(sf_safetensors_find(&f.st, "h"), &v);
    ck_assert(v == 1.0f);
    const sf_st_tensor *t = sf_safetensors_find(&f.st, "f");
    ck_assert_int_eq(t->rank, 0);
    ck_assert_uint_eq(t->numel, 1);
    sf_tensor_to_f32(t, &v);
    ck_assert(v == 1.0f);
    sfix_free(&f);
}
END_TEST

START_TEST(st_metadata_skipped)
{
    static const float d[2] = {1, 2};
    sfix f;
    size_t size;
    unsigned char *img = tu_st_raw("{'__metadata__':{'format':'pt'},"
                                   "'w':{'dtype':'F32','shape':[2],'data_offsets':[0,8]}}",
                                   d, sizeof d, &size);
    ck_assert_int_eq(parse_img(&f, img, size), SF_OK);
    ck_assert_int_eq(f.st.ntensors, 1);
    ck_assert_str_eq(f.st.tensors[0].name, "w");
    sfix_free(&f);
}
END_TEST

/* A bad image: SF_EINPUT, nothing crashes, messages name the file (and more). */
static void st_fail(unsigned char *img, size_t size, const char *const *frags)
{
    sfix f;
    tu_diag_capture();
    sf_status s = parse_img(&f, img, size);
    ck_assert_msg(s == SF_EINPUT, "status %d; messages:\n%s", s, tu_diag());
    TU_ASSERT_DIAG("w.safetensors");
    for (const char *const *p = frags; frags && *p; p++)
        TU_ASSERT_DIAG(*p);
    sfix_free(&f);
}

static void st_fail_hdr(const char *hdr, size_t dlen, const char *const *frags)
{
    unsigned char data[64] = {0};
    size_t size;
    unsigned char *img = tu_st_raw(hdr, data, dlen, &size);
    st_fail(img, size, frags);
}

START_TEST(st_file_too_short)
{
    for (size_t n = 0; n < 8; n++) {
        unsigned char *img = calloc(8, 1);
        st_fail(img, n, NULL);
    }
}
END_TEST

START_TEST(st_header_length_beyond_file)
{
    size_t size;
    unsigned char *img = tu_st_raw("{}", NULL, 0, &size);
    img[0] = 3; /* header length 3, file holds 2 header bytes */
    st_fail(img, size, FRAGS("header length"));

    img = tu_st_raw("{}", NULL, 0, &size);
    memset(img, 0xff, 8); /* 2^64 - 1: must not wrap around */
    st_fail(img, size, FRAGS("header length"));

    img = tu_st_raw("{}", NULL, 0, &size);
    img[0] = 0;
    img[7] = 0x80; /* 2^63 */
    st_fail(img, size, FRAGS("header length"));
}
END_TEST

START_TEST(st_offsets_beyond_data)
{
    st_fail_hdr("{'w':{'dtype':'F32','shape':[2],'data_offsets':[0,8]}}", 4,
                FRAGS("tensor 'w'", "data_offsets"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[1],'data_offsets':[8,12]}}", 8,
                FRAGS("tensor 'w'", "data_offsets"));
    /* begin after end */
    st_fail_hdr("{'w':{'dtype':'F32','shape':[0],'data_offsets':[8,4]}}", 8,
                FRAGS("tensor 'w'", "data_offsets"));
    /* byte count does not match dtype and shape */
    st_fail_hdr("{'w':{'dtype':'F32','shape':[2],'data_offsets':[0,4]}}", 8,
                FRAGS("tensor 'w'", "data_offsets"));
    st_fail_hdr("{'w':{'dtype':'F16','shape':[2],'data_offsets':[0,8]}}", 8,
                FRAGS("tensor 'w'", "data_offsets"));
    /* offsets that are not non-negative integers, or not two of them */
    st_fail_hdr("{'w':{'dtype':'F32','shape':[1],'data_offsets':[-4,0]}}", 8,
                FRAGS("tensor 'w'", "data_offsets"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[1],'data_offsets':[0.5,4.5]}}", 8,
                FRAGS("tensor 'w'", "data_offsets"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[1],'data_offsets':[0,4,8]}}", 8,
                FRAGS("tensor 'w'", "data_offsets"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[1],'data_offsets':[0,1e300]}}", 8,
                FRAGS("tensor 'w'", "data_offsets"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[1]}}", 8, FRAGS("tensor 'w'", "data_offsets"));
}
END_TEST

START_TEST(st_overlapping)
{
    st_fail_hdr("{'a':{'dtype':'F32','shape':[2],'data_offsets':[0,8]},"
                "'b':{'dtype':'F32','shape':[2],'data_offsets':[4,12]}}",
                12, FRAGS("overlap", "'a'", "'b'"));
    /* the same bytes twice */
    st_fail_hdr("{'a':{'dtype':'F32','shape':[2],'data_offsets':[0,8]},"
                "'b':{'dtype':'F32','shape':[2],'data_offsets':[0,8]}}",
                8, FRAGS("overlap"));
    /* one inside another, listed in reverse */
    st_fail_hdr("{'b':{'dtype':'F32','shape':[1],'data_offsets':[8,12]},"
                "'a':{'dtype':'F32','shape':[4],'data_offsets':[0,16]}}",
                16, FRAGS("overlap"));
}
END_TEST

/* GENERATOR BUG (load_safetensors.c, overlap check): only neighbours in
 * begin order are compared and empty spans are skipped, so an empty tensor
 * whose begin lies inside another tensor hides an overlap behind it. */
START_TEST(st_overlap_hidden_by_empty_tensor)
{
    unsigned char data[16] = {0};
    size_t size;
    unsigned char *img = tu_st_raw("{'a':{'dtype':'F32','shape':[4],'data_offsets':[0,16]},"
                                   "'e':{'dtype':'F32','shape':[0],'data_offsets':[4,4]},"
                                   "'c':{'dtype':'F32','shape':[2],'data_offsets':[8,16]}}",
                                   data, sizeof data, &size);
    sfix f;
    sf_status s = parse_img(&f, img, size);
    ck_assert_msg(s == SF_EINPUT,
                  "GENERATOR BUG (load_safetensors.c overlap check): tensors "
                  "'a' [0,16) and 'c' [8,16) share bytes but were accepted (status %d)",
                  s);
    TU_ASSERT_DIAG("overlap");
    sfix_free(&f);
}
END_TEST

START_TEST(st_adjacent_and_empty_ok)
{
    static const float d[4] = {1, 2, 3, 4};
    sfix f;
    size_t size;
    unsigned char *img = tu_st_raw("{'a':{'dtype':'F32','shape':[2],'data_offsets':[0,8]},"
                                   "'e':{'dtype':'F32','shape':[0],'data_offsets':[8,8]},"
                                   "'b':{'dtype':'F32','shape':[2],'data_offsets':[8,16]}}",
                                   d, sizeof d, &size);
    ck_assert_int_eq(parse_img(&f, img, size), SF_OK);
    ck_assert_int_eq(f.st.ntensors, 3);
    float v[2];
    sf_tensor_to_f32(sf_safetensors_find(&f.st, "b"), v);
    ck_assert(v[0] == 3 && v[1] == 4);
    ck_assert_uint_eq(sf_safetensors_find(&f.st, "e")->numel, 0);
    sfix_free(&f);
}
END_TEST

START_TEST(st_size_overflow)
{
    /* (2^31-1)^3 elements: the element count overflows size_t */
    st_fail_hdr("{'w':{'dtype':'F32','shape':[2147483647,2147483647,2147483647],"
                "'data_offsets':[0,4]}}",
                8, FRAGS("tensor 'w'", "shape", "overflow"));
    /* (2^31-1)^2 * 4 elements fit in 64 bits, their bytes do not */
    st_fail_hdr("{'w':{'dtype':'F32','shape':[2147483647,2147483647,4],"
                "'data_offsets':[0,4]}}",
                8, FRAGS("tensor 'w'", "overflow"));
    st_fail_hdr("{'w':{'dtype':'BF16','shape':[2147483647,2147483647,3],"
                "'data_offsets':[0,4]}}",
                8, FRAGS("tensor 'w'", "overflow"));
    /* a dimension beyond what generated code indexes */
    st_fail_hdr("{'w':{'dtype':'F32','shape':[2147483648],'data_offsets':[0,4]}}", 8,
                FRAGS("tensor 'w'", "shape"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[-1],'data_offsets':[0,4]}}", 8,
                FRAGS("tensor 'w'", "shape"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[1,1,1,1,1,1,1,1,1],'data_offsets':[0,4]}}", 8,
                FRAGS("tensor 'w'", "shape"));
}
END_TEST

START_TEST(st_bad_header)
{
    st_fail_hdr("{'w':{'dtype':'I32','shape':[1],'data_offsets':[0,4]}}", 4,
                FRAGS("tensor 'w'", "dtype", "I32"));
    st_fail_hdr("{'w':{'dtype':'F64','shape':[1],'data_offsets':[0,8]}}", 8,
                FRAGS("tensor 'w'", "dtype"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[1],'data_offsets':[0,4],'extra':1}}", 4,
                FRAGS("tensor 'w'", "extra"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[1],'data_offsets':[0,4]},"
                "'w':{'dtype':'F32','shape':[1],'data_offsets':[4,8]}}",
                8, FRAGS("tensor 'w'", "duplicate"));
    st_fail_hdr("{'w':[1,2]}", 4, FRAGS("tensor 'w'"));
    /* what the reference implementation rejects: a key twice in one entry
     * (cJSON keeps both and lookups see the first), numbers written with a
     * fraction or exponent where integers go */
    st_fail_hdr("{'w':{'dtype':'F32','dtype':'F16','shape':[1],'data_offsets':[0,4]}}", 4,
                FRAGS("tensor 'w': field 'dtype': duplicate key"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[1],'data_offsets':[0,4],'shape':[2]}}", 4,
                FRAGS("tensor 'w': field 'shape': duplicate key"));
    st_fail_hdr("{'w':{'data_offsets':[0,4],'dtype':'F32','shape':[1],'data_offsets':[0,4]}}", 4,
                FRAGS("tensor 'w': field 'data_offsets': duplicate key"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[2.0,2],'data_offsets':[0,16]}}", 16,
                FRAGS("tensor 'w': field 'shape'", "dimension 0", "fraction or exponent"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[2,2e0],'data_offsets':[0,16]}}", 16,
                FRAGS("tensor 'w': field 'shape'", "dimension 1"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[4],'data_offsets':[0,16.0]}}", 16,
                FRAGS("tensor 'w': field 'data_offsets'", "fraction or exponent"));
    st_fail_hdr("{'w':{'dtype':'F32','shape':[04],'data_offsets':[0,16]}}", 16,
                FRAGS("header is not valid JSON", "'04' has a leading zero"));
    st_fail_hdr("\xEF\xBB\xBF{'w':{'dtype':'F32','shape':[4],'data_offsets':[0,16]}}", 16,
                FRAGS("byte order mark"));
    st_fail_hdr("{'__metadata__':{},'__metadata__':{}}", 0,
                FRAGS("field '__metadata__': duplicate key"));
    st_fail_hdr("{'w': ", 4, NULL);
    st_fail_hdr("[1,2]", 4, NULL);
    st_fail_hdr("{}x", 4, NULL);
    st_fail_hdr("{'__metadata__': 3}", 0, FRAGS("__metadata__"));
    /* a NUL byte inside the header */
    size_t size;
    unsigned char *img = tu_st_raw("{ }", NULL, 0, &size);
    img[9] = 0;
    st_fail(img, size, NULL);
    /* header length 0 or 1 */
    img = tu_st_raw("{", NULL, 0, &size);
    st_fail(img, size, NULL);
}
END_TEST

/* 80000 empty tensors: the duplicate check and look-ups by name are linear
 * (each name was compared with every later one: about a minute). */
START_TEST(st_many_tensors_linear)
{
    enum { N = 80000 };
    sf_buf b;
    sf_buf_init(&b);
    sf_buf_printf(&b, "{\"__metadata__\": {\"format\": \"pt\"}");
    for (int i = 0; i < N; i++)
        sf_buf_printf(&b,
                      ", \"t%d\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": "
                      "[0, 0]}",
                      i);
    sf_buf_printf(&b, "}");
    ck_assert(!b.failed);
    sfix f;
    size_t size;
    double t0 = now_s();
    unsigned char *img0 = tu_st_raw(b.data, NULL, 0, &size);
    ck_assert_int_eq(parse_img(&f, img0, size), SF_OK);
    ck_assert_int_eq(f.st.ntensors, N);
    for (int i = 0; i < N; i += 997) {
        char name[32];
        snprintf(name, sizeof name, "t%d", i);
        ck_assert_ptr_eq(sf_safetensors_find(&f.st, name), &f.st.tensors[i]);
    }
    ck_assert_ptr_eq(sf_safetensors_find(&f.st, "t79999"), &f.st.tensors[N - 1]);
    ck_assert_ptr_null(sf_safetensors_find(&f.st, "t80000"));
    ck_assert_ptr_null(sf_safetensors_find(&f.st, "__metadata__"));
    double took = now_s() - t0;
    ck_assert_msg(took < 5.0, "took %.2f s of CPU time", took);
    sfix_free(&f);

    /* the same with the first name once more at the end */
    b.len--;
    sf_buf_printf(&b, ", \"t0\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [0, 0]}}");
    unsigned char *img = tu_st_raw(b.data, NULL, 0, &size);
    st_fail(img, size, FRAGS("tensor 't0'", "duplicate"));
    sf_buf_free(&b);
}
END_TEST

/* Every tensor of a parsed image lies inside the data section. */
static void check_inside(const sf_safetensors *st, const unsigned char *img, size_t size)
{
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | img[i];
    for (int i = 0; i < st->ntensors; i++) {
        const sf_st_tensor *t = &st->tensors[i];
        size_t esz = t->dtype == SF_DT_F32 ? 4 : 2;
        ck_assert(t->raw >= img + 8 + hlen);
        ck_assert(t->numel <= size);
        ck_assert(t->raw + t->numel * esz <= img + size);
        size_t numel = 1;
        for (int d = 0; d < t->rank; d++)
            numel *= (size_t)t->dims[d];
        ck_assert_uint_eq(numel, t->numel);
    }
}

static unsigned char *valid_image(size_t *size)
{
    static const float a[6] = {1, 2, 3, 4, 5, 6};
    static const uint16_t b[4] = {0x3c00, 0x4000, 0x4200, 0x4400};
    tu_tensor ts[] = {{"a", "F32", 2, {2, 3}, a, sizeof a},
                      {"b", "F16", 1, {4}, b, sizeof b},
                      {"c", "BF16", 2, {2, 2}, b, sizeof b}};
    return tu_st_image(ts, 3, size);
}

START_TEST(st_truncations)
{
    size_t size;
    unsigned char *img = valid_image(&size);
    for (size_t n = 0; n < size; n++) {
        /* a copy of exactly n bytes, so that ASan sees any read past it */
        unsigned char *cut = malloc(n ? n : 1);
        memcpy(cut, img, n);
        sf_arena a;
        sf_arena_init(&a);
        sf_safetensors st;
        ck_assert_msg(sf_parse_safetensors(&a, "w.safetensors", cut, n, &st) == SF_EINPUT,
                      "%zu of %zu bytes accepted", n, size);
        sf_arena_free(&a);
        free(cut);
    }
    free(img);
}
END_TEST

START_TEST(st_mutations)
{
    size_t size;
    unsigned char *img = valid_image(&size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | img[i];
    static const char alphabet[] = "{}[]:,\"0123456789-.eE+ FBI_abcdefghijklmnopqrstuvwxyz";
    uint32_t seed = 77;
    unsigned char *m = malloc(size);
    int accepted = 0;
    for (int iter = 0; iter < 4000; iter++) {
        memcpy(m, img, size);
        int edits = 1 + (int)(rng(&seed) % 3);
        for (int e = 0; e < edits; e++) {
            uint32_t r = rng(&seed) % 20;
            if (r == 0) /* the length prefix */
                m[rng(&seed) % 8] = (unsigned char)rng(&seed);
            else if (r < 3) /* any byte */
                m[rng(&seed) % size] = (unsigned char)rng(&seed);
            else /* a header character */
                m[8 + rng(&seed) % hlen] =
                    (unsigned char)alphabet[rng(&seed) % (sizeof alphabet - 1)];
        }
        sf_arena a;
        sf_arena_init(&a);
        sf_safetensors st;
        tu_diag_capture();
        sf_status s = sf_parse_safetensors(&a, "w.safetensors", m, size, &st);
        ck_assert_msg(s == SF_OK || s == SF_EINPUT, "status %d: %s", s, tu_diag());
        if (s == SF_OK) {
            accepted++;
            check_inside(&st, m, size);
            float buf[64];
            for (int i = 0; i < st.ntensors; i++)
                if (st.tensors[i].numel <= 64)
                    sf_tensor_to_f32(&st.tensors[i], buf);
        } else {
            ck_assert_int_ge(tu_diag_lines(), 1);
        }
        sf_arena_free(&a);
    }
    ck_assert_int_gt(accepted, 0); /* some edits (digits in data) keep it valid */
    free(m);
    free(img);
}
END_TEST

START_TEST(st_load_file)
{
    static const float w[4] = {1, 2, 3, 4};
    tu_tensor t = {"w", "F32", 2, {2, 2}, w, sizeof w};
    size_t size;
    unsigned char *img = tu_st_image(&t, 1, &size);
    char dir[256], path[300];
    tu_mkdtemp(dir, sizeof dir);
    ck_assert_int_eq(tu_write_file(dir, "w.safetensors", img, size), 0);
    free(img);
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    sf_arena a;
    sf_arena_init(&a);
    sf_safetensors st;
    ck_assert_int_eq(sf_load_safetensors(&a, path, &st), SF_OK);
    ck_assert_int_eq(st.ntensors, 1);
    ck_assert_uint_eq(st.file_size, size);
    float v[4];
    sf_tensor_to_f32(&st.tensors[0], v);
    ck_assert(v[0] == 1 && v[3] == 4);

    /* a missing file and a folder are input errors naming the file */
    tu_diag_capture();
    snprintf(path, sizeof path, "%s/nope.safetensors", dir);
    ck_assert_int_eq(sf_load_safetensors(&a, path, &st), SF_EINPUT);
    TU_ASSERT_DIAG("nope.safetensors");
    ck_assert_int_eq(sf_load_safetensors(&a, dir, &st), SF_EINPUT);
    TU_ASSERT_DIAG("the weights file is a folder, not a regular file");
    /* a FIFO with no writer: refused, not waited on (the tcase timeout
     * fails the test if the open blocks) */
    snprintf(path, sizeof path, "%s/fifo.safetensors", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(sf_load_safetensors(&a, path, &st), SF_EINPUT);
    TU_ASSERT_DIAG("fifo.safetensors: the weights file is a FIFO, not a regular file");
    /* a truncated file */
    ck_assert_int_eq(tu_write_file(dir, "short.safetensors", "\x10\0\0\0", 4), 0);
    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    ck_assert_int_eq(sf_load_safetensors(&a, path, &st), SF_EINPUT);
    sf_arena_free(&a);
    tu_rmrf(dir);
}
END_TEST

Suite *loader_suite(void)
{
    Suite *s = suite_create("loader");
    TCase *tc = tcase_create("json");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, json_valid_model);
    tcase_add_test(tc, json_weights_path_resolution);
    tcase_add_test(tc, json_unknown_top_level_key);
    tcase_add_test(tc, json_unknown_node_key);
    tcase_add_test(tc, json_unknown_node_key_unnamed);
    tcase_add_test(tc, json_unknown_input_key);
    tcase_add_test(tc, json_duplicate_key);
    tcase_add_test(tc, json_node_field_type);
    tcase_add_test(tc, json_node_missing_field);
    tcase_add_test(tc, json_node_inputs_element);
    tcase_add_test(tc, json_input_shape_and_dtype);
    tcase_add_test(tc, json_top_level_fields);
    tcase_add_test(tc, json_malformed);
    tcase_add_test(tc, json_nul_escape);
    tcase_add_test(tc, json_strict_syntax);
    tcase_add_test(tc, json_numbers_marked);
    tcase_add_test(tc, json_many_bad_keys_bounded);
    tcase_add_test(tc, json_mutations);
    tcase_add_test(tc, json_load_file);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("float16");
    tcase_add_test(tc, f16_spot_values);
    tcase_add_test(tc, f16_exhaustive);
    tcase_add_test(tc, bf16_values);
    suite_add_tcase(s, tc);

    tc = tcase_create("safetensors");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, st_parse_valid);
    tcase_add_test(tc, st_byte_order);
    tcase_add_test(tc, st_metadata_skipped);
    tcase_add_test(tc, st_file_too_short);
    tcase_add_test(tc, st_header_length_beyond_file);
    tcase_add_test(tc, st_offsets_beyond_data);
    tcase_add_test(tc, st_overlapping);
    tcase_add_test(tc, st_overlap_hidden_by_empty_tensor);
    tcase_add_test(tc, st_adjacent_and_empty_ok);
    tcase_add_test(tc, st_size_overflow);
    tcase_add_test(tc, st_bad_header);
    tcase_add_test(tc, st_many_tensors_linear);
    tcase_add_test(tc, st_truncations);
    tcase_add_test(tc, st_mutations);
    tcase_add_test(tc, st_load_file);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
