/* test_onnx_pb.c - the ONNX protobuf reader (frontends/onnx_pb.c): messages
 * written byte by byte with a small encoder below, every field kind, packed
 * and unpacked repeated numbers, external data, and the rejection of
 * malformed input with a message that names the place; then the committed
 * fuzzing seeds (tests/fuzz/corpus/onnx/) against what the onnx package
 * read from them (tests/fuzz/onnx_seeds.json, written by
 * tests/fuzz/make_onnx_seeds.py). */
#define _XOPEN_SOURCE 700
#include <cJSON.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frontends/onnx.h"
#include "suites.h"
#include "test_util.h"

/* ---- a protobuf encoder ---------------------------------------------------------- */

typedef struct {
    unsigned char *b;
    size_t n, cap;
} pb;

static void put(pb *m, const void *p, size_t n)
{
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2 + 64;
        m->b = realloc(m->b, m->cap);
        ck_assert_ptr_nonnull(m->b);
    }
    if (n)
        memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put_byte(pb *m, unsigned c)
{
    unsigned char b = (unsigned char)c;
    put(m, &b, 1);
}

static void varint(pb *m, uint64_t v)
{
    do {
        put_byte(m, (unsigned)(v & 0x7f) | (v > 0x7f ? 0x80u : 0));
        v >>= 7;
    } while (v);
}

static void key(pb *m, unsigned field, unsigned wt)
{
    varint(m, (uint64_t)field << 3 | wt);
}

/* int32/int64 fields: a negative value is its 64-bit two's complement */
static void f_int(pb *m, unsigned field, int64_t v)
{
    key(m, field, 0);
    varint(m, (uint64_t)v);
}

static void f_fixed32(pb *m, unsigned field, uint32_t u)
{
    key(m, field, 5);
    for (int i = 0; i < 4; i++)
        put_byte(m, u >> (8 * i) & 0xff);
}

static void f_float(pb *m, unsigned field, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    f_fixed32(m, field, u);
}

static void f_double(pb *m, unsigned field, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    key(m, field, 1);
    for (int i = 0; i < 8; i++)
        put_byte(m, (unsigned)(u >> (8 * i)) & 0xff);
}

static void f_bytes(pb *m, unsigned field, const void *p, size_t n)
{
    key(m, field, 2);
    varint(m, n);
    put(m, p, n);
}

static void f_str(pb *m, unsigned field, const char *s)
{
    f_bytes(m, field, s, strlen(s));
}

/* Appends `sub` as field `field` and frees it. */
static void f_msg(pb *m, unsigned field, pb *sub)
{
    f_bytes(m, field, sub->b, sub->n);
    free(sub->b);
    memset(sub, 0, sizeof *sub);
}

static void f_packed_ints(pb *m, unsigned field, const int64_t *v, int n)
{
    pb run = {0};
    for (int i = 0; i < n; i++)
        varint(&run, (uint64_t)v[i]);
    f_msg(m, field, &run);
}

static void f_packed_floats(pb *m, unsigned field, const float *v, int n)
{
    key(m, field, 2);
    varint(m, (uint64_t)n * 4);
    for (int i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int k = 0; k < 4; k++)
            put_byte(m, u >> (8 * k) & 0xff);
    }
}

/* TensorProto head: name, data_type, dims (one key each). */
static pb tensor_head(const char *name, int dtype, int rank, const int64_t *dims)
{
    pb t = {0};
    for (int i = 0; i < rank; i++)
        f_int(&t, 1, dims[i]);
    f_int(&t, 2, dtype);
    f_str(&t, 8, name);
    return t;
}

/* ValueInfoProto of a tensor; dims < 0 are written as dim_param "d<i>". */
static pb value_info(const char *name, int elem, int rank, const int64_t *dims)
{
    pb shape = {0}, tt = {0}, tp = {0}, v = {0};
    for (int i = 0; i < rank; i++) {
        pb d = {0};
        if (dims[i] >= 0) {
            f_int(&d, 1, dims[i]);
        } else {
            char p[16];
            snprintf(p, sizeof p, "d%d", i);
            f_str(&d, 2, p);
        }
        f_msg(&shape, 1, &d);
    }
    f_int(&tt, 1, elem);
    f_msg(&tt, 2, &shape);
    f_msg(&tp, 1, &tt);
    f_str(&v, 1, name);
    f_msg(&v, 2, &tp);
    return v;
}

/* ModelProto: ir_version 8, opset 13, the graph (freed). */
static pb model_of(pb *graph)
{
    pb m = {0}, op = {0};
    f_int(&m, 1, 8);
    f_str(&op, 1, "");
    f_int(&op, 2, 13);
    f_msg(&m, 8, &op);
    f_str(&m, 2, "unit");
    f_msg(&m, 7, graph);
    return m;
}

/* A model of one graph holding one initializer (freed). */
static pb model_init(pb *t)
{
    pb g = {0};
    f_msg(&g, 5, t);
    return model_of(&g);
}

/* A model of one graph holding one node (freed). */
static pb model_node(pb *n)
{
    pb g = {0};
    f_msg(&g, 1, n);
    return model_of(&g);
}

/* ---- parsing --------------------------------------------------------------------- */

static sf_arena g_arena;
static unsigned char *g_img; /* the parsed bytes: raw_data points into them */

static void setup(void)
{
    sf_arena_init(&g_arena);
    g_img = NULL;
    tu_diag_capture();
}

static void teardown(void)
{
    sf_set_alloc_hook(NULL, NULL);
    tu_diag_release();
    sf_arena_free(&g_arena);
    free(g_img);
}

/* Parses the bytes of `m` (freed) from an exact-size copy, so that a read
 * past the end is one that AddressSanitizer sees. */
static sf_status parse(pb *m, sf_onnx_model *out)
{
    free(g_img);
    g_img = malloc(m->n ? m->n : 1);
    if (m->n)
        memcpy(g_img, m->b, m->n);
    free(m->b);
    size_t n = m->n;
    memset(m, 0, sizeof *m);
    return sf_onnx_parse(&g_arena, "dir/m.onnx", g_img, n, out);
}

static void expect_error(pb *m, const char *msg)
{
    sf_onnx_model o;
    tu_diag_capture();
    sf_status s = parse(m, &o);
    ck_assert_msg(s == SF_EINPUT, "status %d, expected an input error containing \"%s\"", (int)s,
                  msg);
    TU_ASSERT_DIAG(msg);
}

static const sf_onnx_attr *attr(const sf_onnx_node *n, const char *name)
{
    for (int i = 0; i < n->nattrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    ck_abort_msg("no attribute '%s'", name);
    return NULL;
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--)
        x = x << 8 | p[i];
    return x;
}

/* ---- decoding ---------------------------------------------------------------------- */

START_TEST(onnx_model_fields)
{
    pb g = {0}, n = {0}, a = {0}, m = {0};
    /* node: Conv with an omitted optional input */
    f_str(&n, 1, "x");
    f_str(&n, 1, "w");
    f_str(&n, 1, "");
    f_str(&n, 2, "y");
    f_str(&n, 3, "Conv_0");
    f_str(&n, 4, "Conv");
    f_str(&n, 7, "ai.onnx");
    f_str(&a, 1, "alpha");
    f_float(&a, 2, 0.25f);
    f_int(&a, 20, SF_ONNX_AT_FLOAT);
    f_msg(&n, 5, &a);
    f_str(&a, 1, "axis");
    f_int(&a, 3, -3); /* 10-byte varint */
    f_int(&a, 20, SF_ONNX_AT_INT);
    f_msg(&n, 5, &a);
    f_str(&a, 1, "mode");
    f_str(&a, 4, "constant");
    f_int(&a, 20, SF_ONNX_AT_STRING);
    f_msg(&n, 5, &a);
    f_str(&a, 1, "names");
    f_str(&a, 9, "a");
    f_str(&a, 9, "");
    f_str(&a, 9, "ccc");
    f_int(&a, 20, SF_ONNX_AT_STRINGS);
    f_msg(&n, 5, &a);
    f_str(&a, 1, "body");
    f_str(&a, 6, "\x12\x01g"); /* a GraphProto, not decoded */
    f_int(&a, 20, SF_ONNX_AT_GRAPH);
    f_msg(&n, 5, &a);
    f_str(&a, 1, "value");
    {
        int64_t d[] = {2};
        pb t = tensor_head("cst", SF_ONNX_FLOAT, 1, d);
        f_float(&t, 4, 1.5f);
        f_float(&t, 4, -2.0f);
        f_msg(&a, 5, &t);
    }
    f_int(&a, 20, SF_ONNX_AT_TENSOR);
    f_msg(&n, 5, &a);
    f_str(&a, 1, "inherited");
    f_str(&a, 21, "outer");
    f_int(&a, 20, SF_ONNX_AT_INT);
    f_msg(&n, 5, &a);
    f_msg(&g, 1, &n);
    /* a second node: no name, no domain */
    f_str(&n, 1, "y");
    f_str(&n, 2, "z");
    f_str(&n, 4, "Relu");
    f_msg(&g, 1, &n);
    f_str(&g, 2, "main");
    f_str(&g, 10, "the doc string");
    {
        int64_t d[] = {-1, 3, 8, 8};
        pb v = value_info("x", SF_ONNX_FLOAT, 4, d);
        f_msg(&g, 11, &v);
        v = value_info("z", SF_ONNX_FLOAT16, 0, NULL);
        f_msg(&g, 12, &v);
        v = value_info("y", SF_ONNX_FLOAT, 2, d + 1);
        f_msg(&g, 13, &v);
    }
    f_str(&g, 15, "sparse one");
    f_str(&g, 15, "sparse two");
    f_int(&m, 1, 9);
    f_str(&m, 2, "producer");
    pb op = {0};
    f_str(&op, 1, "com.example");
    f_int(&op, 2, 2);
    f_msg(&m, 8, &op);
    f_str(&op, 1, "ai.onnx");
    f_int(&op, 2, 17);
    f_msg(&m, 8, &op);
    f_msg(&m, 7, &g);
    f_str(&m, 25, "function one");
    f_str(&m, 25, "function two");
    f_str(&m, 25, "function three");

    sf_onnx_model o;
    ck_assert_int_eq(parse(&m, &o), SF_OK);
    ck_assert_str_eq(o.base, "m.onnx");
    ck_assert_int_eq(o.ir_version, 9);
    ck_assert_str_eq(o.producer_name, "producer");
    ck_assert_str_eq(o.graph_name, "main");
    ck_assert_int_eq(o.nopsets, 2);
    ck_assert_str_eq(o.opsets[0].domain, "com.example");
    ck_assert_int_eq(o.opsets[0].version, 2);
    ck_assert_int_eq(o.opset, 17);
    ck_assert_int_eq(o.nfunctions, 3);
    ck_assert_int_eq(o.nsparse_inits, 2);
    ck_assert_int_eq(o.ninits, 0);

    ck_assert_int_eq(o.nnodes, 2);
    const sf_onnx_node *c = &o.nodes[0];
    ck_assert_str_eq(c->op_type, "Conv");
    ck_assert_str_eq(c->name, "Conv_0");
    ck_assert_str_eq(c->domain, "ai.onnx");
    ck_assert_int_eq(c->ninputs, 3);
    ck_assert_str_eq(c->inputs[0], "x");
    ck_assert_str_eq(c->inputs[1], "w");
    ck_assert_str_eq(c->inputs[2], "");
    ck_assert_int_eq(c->noutputs, 1);
    ck_assert_str_eq(c->outputs[0], "y");
    ck_assert_int_eq(c->nattrs, 7);
    ck_assert_int_eq(attr(c, "alpha")->type, SF_ONNX_AT_FLOAT);
    ck_assert(attr(c, "alpha")->f == 0.25f);
    ck_assert_int_eq(attr(c, "axis")->type, SF_ONNX_AT_INT);
    ck_assert_int_eq(attr(c, "axis")->i, -3);
    ck_assert_str_eq(attr(c, "mode")->s, "constant");
    const sf_onnx_attr *s = attr(c, "names");
    ck_assert_int_eq(s->type, SF_ONNX_AT_STRINGS);
    ck_assert_int_eq(s->nstrings, 3);
    ck_assert_str_eq(s->strings[0], "a");
    ck_assert_str_eq(s->strings[1], "");
    ck_assert_str_eq(s->strings[2], "ccc");
    ck_assert_int_eq(attr(c, "body")->type, SF_ONNX_AT_GRAPH);
    const sf_onnx_tensor *t = attr(c, "value")->t;
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->name, "cst");
    ck_assert_int_eq(t->dtype, SF_ONNX_FLOAT);
    ck_assert_int_eq(t->rank, 1);
    ck_assert_int_eq(t->numel, 2);
    ck_assert_int_eq(t->nbytes, 8);
    ck_assert_uint_eq(le(t->data, 4), 0x3fc00000u);     /* 1.5f */
    ck_assert_uint_eq(le(t->data + 4, 4), 0xc0000000u); /* -2.0f */
    ck_assert_str_eq(attr(c, "inherited")->ref_attr_name, "outer");
    ck_assert_ptr_null(attr(c, "alpha")->ref_attr_name);

    const sf_onnx_node *r = &o.nodes[1];
    ck_assert_str_eq(r->op_type, "Relu");
    ck_assert_str_eq(r->name, "");
    ck_assert_str_eq(r->domain, "");
    ck_assert_int_eq(r->nattrs, 0);

    ck_assert_int_eq(o.ninputs, 1);
    const sf_onnx_value *x = &o.inputs[0];
    ck_assert_str_eq(x->name, "x");
    ck_assert_str_eq(x->kind, "tensor");
    ck_assert_int_eq(x->elem_type, SF_ONNX_FLOAT);
    ck_assert_int_eq(x->rank, 4);
    ck_assert_int_eq(x->dims[0], -1);
    ck_assert_str_eq(x->dim_param[0], "d0");
    ck_assert_int_eq(x->dims[1], 3);
    ck_assert_ptr_null(x->dim_param[1]);
    ck_assert_int_eq(x->dims[3], 8);
    ck_assert_int_eq(o.noutputs, 1);
    ck_assert_int_eq(o.outputs[0].elem_type, SF_ONNX_FLOAT16);
    ck_assert_int_eq(o.outputs[0].rank, 0); /* shape given, no dims: a scalar */
    ck_assert_int_eq(o.nvalue_info, 1);
    ck_assert_int_eq(o.value_info[0].rank, 2);
    ck_assert_int_eq(o.value_info[0].dims[1], 8);
}
END_TEST

/* Repeated numbers packed, one per key, and both mixed in one message. */
START_TEST(onnx_packed_and_unpacked)
{
    pb n = {0}, a = {0};
    f_str(&n, 4, "Pad");
    f_str(&a, 1, "pads");
    int64_t p1[] = {1, -2, 300};
    f_packed_ints(&a, 8, p1, 3);
    f_int(&a, 8, INT64_MIN);
    f_packed_ints(&a, 8, p1, 0); /* an empty run */
    f_int(&a, 8, 7);
    f_msg(&n, 5, &a); /* no type: inferred from the field */
    f_str(&a, 1, "scales");
    f_float(&a, 7, 0.5f);
    float fl[] = {1.0f, -3.25f};
    f_packed_floats(&a, 7, fl, 2);
    f_float(&a, 7, 8.0f);
    f_msg(&n, 5, &a);
    f_str(&a, 1, "only_packed");
    f_packed_floats(&a, 7, fl, 2);
    f_int(&a, 20, SF_ONNX_AT_FLOATS);
    f_msg(&n, 5, &a);
    pb g = {0}, t = {0};
    f_msg(&g, 1, &n);
    /* dims packed, int64_data half packed, half not */
    int64_t dims[] = {2, 3};
    f_packed_ints(&t, 1, dims, 2);
    f_int(&t, 2, SF_ONNX_INT64);
    f_str(&t, 8, "i64");
    int64_t v[] = {-1, 0, 1LL << 40};
    f_packed_ints(&t, 7, v, 3);
    f_int(&t, 7, 5);
    f_int(&t, 7, INT64_MAX);
    f_int(&t, 7, INT64_MIN);
    f_msg(&g, 5, &t);
    pb m = model_of(&g);

    sf_onnx_model o;
    ck_assert_int_eq(parse(&m, &o), SF_OK);
    const sf_onnx_attr *pads = attr(&o.nodes[0], "pads");
    ck_assert_int_eq(pads->type, SF_ONNX_AT_INTS);
    ck_assert_int_eq(pads->nints, 5);
    int64_t want[] = {1, -2, 300, INT64_MIN, 7};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(pads->ints[i], want[i]);
    const sf_onnx_attr *sc = attr(&o.nodes[0], "scales");
    ck_assert_int_eq(sc->type, SF_ONNX_AT_FLOATS);
    ck_assert_int_eq(sc->nfloats, 4);
    ck_assert(sc->floats[0] == 0.5f && sc->floats[1] == 1.0f && sc->floats[2] == -3.25f &&
              sc->floats[3] == 8.0f);
    ck_assert_int_eq(attr(&o.nodes[0], "only_packed")->nfloats, 2);
    const sf_onnx_tensor *i64 = &o.inits[0];
    ck_assert_int_eq(i64->rank, 2);
    ck_assert_int_eq(i64->dims[0], 2);
    ck_assert_int_eq(i64->dims[1], 3);
    ck_assert_int_eq(i64->numel, 6);
    ck_assert_int_eq(i64->nbytes, 48);
    int64_t wv[] = {-1, 0, 1LL << 40, 5, INT64_MAX, INT64_MIN};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq((int64_t)le(i64->data + 8 * i, 8), wv[i]);
}
END_TEST

/* Each element type from its typed field, stored as its own little-endian
 * bytes; raw_data borrowed from the image. */
START_TEST(onnx_typed_fields)
{
    pb g = {0};
    int64_t d3[] = {3};
    struct {
        const char *name;
        int dtype;
        int64_t v[3];
        uint64_t bytes[3];
    } i32[] = {
        {"i32", SF_ONNX_INT32, {-5, 0, 2147483647}, {0xfffffffbu, 0, 0x7fffffffu}},
        {"i16", SF_ONNX_INT16, {-32768, 1, 32767}, {0x8000, 1, 0x7fff}},
        {"i8", SF_ONNX_INT8, {-128, -1, 127}, {0x80, 0xff, 0x7f}},
        {"u8", SF_ONNX_UINT8, {0, 200, 255}, {0, 200, 255}},
        {"u16", SF_ONNX_UINT16, {0, 40000, 65535}, {0, 40000, 65535}},
        {"b", SF_ONNX_BOOL, {1, 0, 1}, {1, 0, 1}},
        {"f16", SF_ONNX_FLOAT16, {0x3c00, 0xc000, 0x7c00}, {0x3c00, 0xc000, 0x7c00}},
        {"bf16", SF_ONNX_BFLOAT16, {0x3f80, 0xbf80, 0x0001}, {0x3f80, 0xbf80, 0x0001}},
    };
    int ni32 = (int)(sizeof i32 / sizeof i32[0]);
    for (int k = 0; k < ni32; k++) {
        pb t = tensor_head(i32[k].name, i32[k].dtype, 1, d3);
        if (k % 2) {
            f_packed_ints(&t, 5, i32[k].v, 3);
        } else {
            for (int i = 0; i < 3; i++)
                f_int(&t, 5, i32[k].v[i]);
        }
        f_msg(&g, 5, &t);
    }
    pb t = tensor_head("u32", SF_ONNX_UINT32, 1, d3);
    f_int(&t, 11, 0);
    f_int(&t, 11, 7);
    f_int(&t, 11, 4000000000LL);
    f_msg(&g, 5, &t);
    t = tensor_head("u64", SF_ONNX_UINT64, 1, d3);
    int64_t u64[] = {1, (int64_t)0x8000000000000005ull, -1};
    f_packed_ints(&t, 11, u64, 3);
    f_msg(&g, 5, &t);
    t = tensor_head("f64", SF_ONNX_DOUBLE, 1, d3);
    f_double(&t, 10, 0.1);
    f_double(&t, 10, -1e300);
    f_double(&t, 10, 2.0);
    f_msg(&g, 5, &t);
    t = tensor_head("f32", SF_ONNX_FLOAT, 0, NULL); /* a scalar */
    f_float(&t, 4, 3.0f);
    f_msg(&g, 5, &t);
    int64_t d23[] = {2, 3};
    t = tensor_head("raw", SF_ONNX_INT16, 2, d23);
    f_bytes(&t, 9, "\x01\x00\x02\x00\x03\x00\x04\x00\x05\x00\xff\xff", 12);
    f_msg(&g, 5, &t);
    int64_t d0[] = {4, 0, 3};
    t = tensor_head("empty", SF_ONNX_FLOAT, 3, d0); /* no data for no elements */
    f_msg(&g, 5, &t);
    t = tensor_head("strs", SF_ONNX_STRING, 1, d3);
    f_str(&t, 6, "a");
    f_str(&t, 6, "b\0c"); /* string_data is only counted */
    f_str(&t, 6, "");
    f_msg(&g, 5, &t);
    t = tensor_head("f8", 17, 1, d3); /* float8e4m3fn: not a type the reader knows */
    f_bytes(&t, 9, "\x01\x02\x03", 3);
    f_msg(&g, 5, &t);
    pb m = model_of(&g);

    sf_onnx_model o;
    ck_assert_int_eq(parse(&m, &o), SF_OK);
    ck_assert_int_eq(o.ninits, ni32 + 8);
    for (int k = 0; k < ni32; k++) {
        const sf_onnx_tensor *x = &o.inits[k];
        ck_assert_str_eq(x->name, i32[k].name);
        int es = (int)sf_onnx_dtype_size(x->dtype);
        ck_assert_int_eq(x->nbytes, 3 * (size_t)es);
        for (int i = 0; i < 3; i++)
            ck_assert_msg(le(x->data + es * i, es) == i32[k].bytes[i], "%s[%d]: %llx", x->name, i,
                          (unsigned long long)le(x->data + es * i, es));
    }
    const sf_onnx_tensor *x = &o.inits[ni32];
    ck_assert_int_eq(x->nbytes, 12);
    ck_assert_uint_eq(le(x->data + 8, 4), 4000000000u);
    x++;
    ck_assert_uint_eq(le(x->data + 8, 8), 0x8000000000000005ull);
    ck_assert_uint_eq(le(x->data + 16, 8), UINT64_MAX);
    x++;
    double dv;
    uint64_t du = le(x->data + 8, 8);
    memcpy(&dv, &du, 8);
    ck_assert(dv == -1e300);
    x++;
    ck_assert_int_eq(x->rank, 0);
    ck_assert_int_eq(x->numel, 1);
    ck_assert_uint_eq(le(x->data, 4), 0x40400000u);
    x++;
    ck_assert_int_eq(x->nbytes, 12);
    ck_assert(x->data > g_img && x->data < g_img + 1000); /* borrowed */
    ck_assert_uint_eq(le(x->data + 10, 2), 0xffff);
    x++;
    ck_assert_int_eq(x->numel, 0);
    ck_assert_int_eq(x->nbytes, 0);
    x++;
    ck_assert_int_eq(x->dtype, SF_ONNX_STRING);
    ck_assert_int_eq(x->numel, 3);
    ck_assert_ptr_null(x->data);
    x++;
    ck_assert_int_eq(x->dtype, 17);
    ck_assert_ptr_null(x->data);
    ck_assert_int_eq(x->nbytes, 0);
}
END_TEST

START_TEST(onnx_external_data)
{
    pb g = {0}, e = {0};
    int64_t d[] = {4, 4};
    pb t = tensor_head("w", SF_ONNX_FLOAT, 2, d);
    f_int(&t, 14, 1);
    f_str(&e, 1, "location");
    f_str(&e, 2, "weights/w.bin");
    f_msg(&t, 13, &e);
    f_str(&e, 1, "offset");
    f_str(&e, 2, "4096");
    f_msg(&t, 13, &e);
    f_str(&e, 1, "length");
    f_str(&e, 2, "64");
    f_msg(&t, 13, &e);
    f_str(&e, 1, "checksum");
    f_str(&e, 2, "whatever");
    f_msg(&t, 13, &e);
    f_msg(&g, 5, &t);
    t = tensor_head("v", SF_ONNX_INT64, 1, d);
    f_str(&e, 1, "location");
    f_str(&e, 2, "v.bin");
    f_msg(&t, 13, &e);
    f_int(&t, 14, 1); /* after the entries */
    f_msg(&g, 5, &t);
    pb m = model_of(&g);
    sf_onnx_model o;
    ck_assert_int_eq(parse(&m, &o), SF_OK);
    const sf_onnx_tensor *w = &o.inits[0];
    ck_assert_int_eq(w->external, 1);
    ck_assert_str_eq(w->location, "weights/w.bin");
    ck_assert_int_eq(w->offset, 4096);
    ck_assert_int_eq(w->length, 64);
    ck_assert_ptr_null(w->data);
    ck_assert_int_eq(w->nbytes, 64);
    ck_assert_int_eq(w->numel, 16);
    const sf_onnx_tensor *v = &o.inits[1];
    ck_assert_int_eq(v->external, 1);
    ck_assert_str_eq(v->location, "v.bin");
    ck_assert_int_eq(v->offset, -1);
    ck_assert_int_eq(v->length, -1);
    ck_assert_int_eq(v->nbytes, 32);
}
END_TEST

/* Types that are not tensors are named, checked and not kept. */
START_TEST(onnx_value_kinds)
{
    pb g = {0}, v = {0}, tp = {0}, seq = {0}, inner = {0}, tt = {0};
    f_int(&tt, 1, SF_ONNX_FLOAT);
    f_msg(&inner, 1, &tt);
    f_msg(&seq, 1, &inner);
    f_msg(&tp, 4, &seq);
    f_str(&v, 1, "s");
    f_msg(&v, 2, &tp);
    f_msg(&g, 11, &v);
    pb map = {0};
    f_int(&map, 1, SF_ONNX_INT64);
    f_int(&tt, 1, SF_ONNX_FLOAT);
    f_msg(&inner, 1, &tt);
    f_msg(&map, 2, &inner);
    f_msg(&tp, 5, &map);
    f_str(&tp, 6, "denotation");
    f_str(&v, 1, "m");
    f_msg(&v, 2, &tp);
    f_msg(&g, 11, &v);
    f_str(&v, 1, "untyped");
    f_msg(&g, 11, &v);
    /* a dimension with neither value nor parameter, and a negative one */
    pb shape = {0}, dm = {0};
    f_msg(&shape, 1, &dm);
    f_int(&dm, 1, -1);
    f_msg(&shape, 1, &dm);
    f_int(&tt, 1, SF_ONNX_INT8);
    f_msg(&tt, 2, &shape);
    f_msg(&tp, 8, &tt);
    f_str(&v, 1, "sp");
    f_msg(&v, 2, &tp);
    f_msg(&g, 12, &v);
    pb m = model_of(&g);
    sf_onnx_model o;
    ck_assert_int_eq(parse(&m, &o), SF_OK);
    ck_assert_int_eq(o.ninputs, 3);
    ck_assert_str_eq(o.inputs[0].kind, "sequence");
    ck_assert_int_eq(o.inputs[0].rank, -1);
    ck_assert_int_eq(o.inputs[0].elem_type, 0);
    ck_assert_str_eq(o.inputs[1].kind, "map");
    ck_assert_str_eq(o.inputs[2].kind, "");
    ck_assert_int_eq(o.inputs[2].rank, -1);
    ck_assert_str_eq(o.outputs[0].kind, "sparse_tensor");
    ck_assert_int_eq(o.outputs[0].elem_type, SF_ONNX_INT8);
    ck_assert_int_eq(o.outputs[0].rank, 2);
    ck_assert_int_eq(o.outputs[0].dims[0], -1);
    ck_assert_int_eq(o.outputs[0].dims[1], -1);
}
END_TEST

/* Unknown fields of every wire type, at every level, are skipped. */
static void junk(pb *m)
{
    f_int(m, 900, 12345678901LL);
    f_double(m, 901, 1.0);
    f_str(m, 902, "\x08\x80"); /* not read as a message */
    f_fixed32(m, 903, 7);
    f_int(m, 31, 5);        /* below 32: counted by the first pass, unknown everywhere */
    f_int(m, 536870911, 1); /* the largest field number */
}

START_TEST(onnx_unknown_fields_skipped)
{
    pb g = {0}, n = {0}, a = {0}, e = {0};
    junk(&a);
    f_str(&a, 1, "k");
    f_int(&a, 3, 4);
    f_str(&a, 13, "doc");
    junk(&a);
    f_str(&n, 4, "Op");
    junk(&n);
    f_msg(&n, 5, &a);
    f_str(&n, 8, "overload");
    f_msg(&g, 1, &n);
    int64_t d[] = {1};
    pb t = tensor_head("t", SF_ONNX_FLOAT, 1, d);
    junk(&t);
    f_float(&t, 4, 1.0f);
    f_str(&t, 12, "doc");
    f_msg(&g, 5, &t);
    t = tensor_head("x", SF_ONNX_FLOAT, 1, d);
    f_int(&t, 14, 1);
    junk(&e);
    f_str(&e, 1, "location");
    f_str(&e, 2, "x.bin");
    f_msg(&t, 13, &e);
    f_msg(&g, 5, &t);
    junk(&g);
    pb m = model_of(&g);
    junk(&m);
    f_str(&m, 6, "model doc");
    sf_onnx_model o;
    ck_assert_int_eq(parse(&m, &o), SF_OK);
    ck_assert_int_eq(o.nnodes, 1);
    ck_assert_int_eq(attr(&o.nodes[0], "k")->i, 4);
    ck_assert_int_eq(o.ninits, 2);
    ck_assert_str_eq(o.inits[1].location, "x.bin");
}
END_TEST

/* Deeply nested unknown messages are skipped, not descended into. */
START_TEST(onnx_deep_unknown_is_skipped)
{
    pb in = {0};
    for (int i = 0; i < 5000; i++) {
        pb outer = {0};
        f_msg(&outer, 1, &in);
        in = outer;
    }
    pb g = {0};
    f_msg(&g, 99, &in);
    pb m = model_of(&g);
    sf_onnx_model o;
    ck_assert_int_eq(parse(&m, &o), SF_OK);
}
END_TEST

/* ---- rejection ----------------------------------------------------------------------- */

START_TEST(onnx_framing_errors)
{
    pb m = {0};
    put(&m, "\x08\x80", 2);
    expect_error(&m, "m.onnx: field 'ir_version': truncated varint");
    put(&m, "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12);
    expect_error(&m, "m.onnx: field 'ir_version': varint longer than 10 bytes");
    put(&m, "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11); /* beyond 64 bits */
    expect_error(&m, "varint longer than 10 bytes");
    put(&m, "\x80", 1);
    expect_error(&m, "m.onnx: truncated varint in a field key");
    put(&m, "\x3a\x64\x0a\x00", 4);
    expect_error(&m, "m.onnx: field 'graph': length 100 past the end (2 bytes left)");
    put(&m, "\x3a\x80", 2);
    expect_error(&m, "field 'graph': truncated varint in the length");
    put(&m, "\x1b", 1); /* field 3, wire type 3 */
    expect_error(&m, "m.onnx: field 'producer_version': wire type 3 (group) is not supported");
    put(&m, "\xa4\x06", 2); /* field 100, wire type 4 */
    expect_error(&m, "m.onnx: field 100: wire type 4 (group) is not supported");
    put(&m, "\x0e", 1);
    expect_error(&m, "invalid wire type 6");
    put(&m, "\x0f", 1);
    expect_error(&m, "invalid wire type 7");
    put(&m, "\x00\x00", 2);
    expect_error(&m, "m.onnx: invalid field number 0");
    put(&m, "\x0d\x01\x02\x03\x04", 5);
    expect_error(&m, "field 'ir_version': wire type 5, expected 0");
    put(&m, "\x21\x01\x02\x03\x04\x05\x06\x07", 8); /* field 4, fixed64, one byte short */
    expect_error(&m, "8-byte value past the end (7 bytes left)");
    put(&m, "\x25\x01\x02\x03", 4); /* field 4, fixed32, one byte short */
    expect_error(&m, "4-byte value past the end (3 bytes left)");
    expect_error(&m, "m.onnx: field 'graph': missing: not an ONNX model"); /* empty */
    pb g = {0};
    m = model_of(&g);
    f_msg(&m, 7, &g);
    expect_error(&m, "m.onnx: field 'graph': given 2 times");
}
END_TEST

START_TEST(onnx_nested_errors_named)
{
    /* a length past the end inside a node names the node */
    pb n = {0};
    f_str(&n, 3, "n0");
    f_str(&n, 4, "Relu");
    put(&n, "\x2a\x05\x0a", 3);
    pb m = model_node(&n);
    expect_error(&m, "m.onnx: graph.node[0] 'n0': field 'attribute': length 5 past the end");
    /* a broken packed run inside an attribute names node and attribute */
    pb a = {0};
    f_str(&n, 3, "Conv_0");
    f_str(&n, 4, "Conv");
    f_str(&a, 1, "pads");
    f_bytes(&a, 8, "\x01\x02\x83", 3);
    f_msg(&n, 5, &a);
    m = model_node(&n);
    expect_error(&m, "m.onnx: graph.node[0] 'Conv_0': attribute 'pads': field 'ints': "
                     "malformed varint in a packed run");
    /* an attribute without a name is named by its position */
    f_str(&n, 4, "Conv");
    f_str(&a, 1, "a");
    f_msg(&n, 5, &a);
    f_float(&a, 2, 1.0f);
    f_msg(&n, 5, &a);
    m = model_node(&n);
    expect_error(&m, "m.onnx: graph.node[0]: attribute[1]: field 'name': missing or empty");
    f_str(&n, 4, "LeakyRelu");
    f_str(&a, 1, "alpha");
    f_int(&a, 2, 1);
    f_msg(&n, 5, &a);
    m = model_node(&n);
    expect_error(&m, "graph.node[0]: attribute 'alpha': field 'f': wire type 0, expected 5");
    f_str(&a, 1, "scales");
    f_bytes(&a, 7, "\x00\x00\x80\x3f\x00", 5);
    f_str(&n, 4, "Resize");
    f_msg(&n, 5, &a);
    m = model_node(&n);
    expect_error(&m, "attribute 'scales': field 'floats': packed length 5 is not a multiple of 4");
    f_str(&n, 3, "nameless");
    m = model_node(&n);
    expect_error(&m, "m.onnx: graph.node[0] 'nameless': field 'op_type': missing or empty");
    /* embedded NUL bytes */
    f_bytes(&n, 3, "a\0b", 3);
    f_str(&n, 4, "Relu");
    m = model_node(&n);
    expect_error(&m, "m.onnx: graph.node[0] 'a': field 'name': contains a NUL byte");
    f_str(&n, 1, "ok");
    f_bytes(&n, 1, "x\0", 2);
    f_str(&n, 4, "Add");
    m = model_node(&n);
    expect_error(&m, "graph.node[0]: input[1]: contains a NUL byte");
    f_str(&n, 4, "Op");
    f_str(&a, 1, "s");
    f_bytes(&a, 4, "\0", 1);
    f_msg(&n, 5, &a);
    m = model_node(&n);
    expect_error(&m, "attribute 's': field 's': contains a NUL byte");
    f_str(&n, 4, "Op");
    f_str(&a, 1, "ss");
    f_str(&a, 9, "fine");
    f_bytes(&a, 9, "no\0", 3);
    f_msg(&n, 5, &a);
    m = model_node(&n);
    expect_error(&m, "attribute 'ss': strings[1]: contains a NUL byte");
    /* opsets */
    pb op = {0}, g = {0};
    m = model_of(&g);
    f_str(&op, 1, "ai.onnx");
    f_int(&op, 2, 11);
    f_msg(&m, 8, &op);
    expect_error(&m, "m.onnx: opset_import[1]: the ai.onnx opset is imported twice");
    f_int(&m, 1, 8);
    f_int(&op, 2, 0);
    f_msg(&m, 8, &op);
    f_msg(&m, 7, &g);
    expect_error(&m, "m.onnx: opset_import[0]: field 'version': 0 is not a valid opset version");
}
END_TEST

START_TEST(onnx_tensor_errors)
{
    int64_t d23[] = {2, 3};
    pb t = tensor_head("fc.weight", SF_ONNX_FLOAT, 2, d23);
    f_bytes(&t, 9, "0123456789abcdefghij", 20);
    pb m = model_init(&t);
    expect_error(&m, "m.onnx: graph.initializer[0] 'fc.weight': field 'raw_data': 20 bytes, but "
                     "float tensor of 6 elements need 24");
    int64_t d9[] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    t = tensor_head("r9", SF_ONNX_FLOAT, 9, d9);
    f_float(&t, 4, 1.0f);
    m = model_init(&t);
    expect_error(&m, "m.onnx: graph.initializer[0] 'r9': field 'dims': rank 9 above the limit 8");
    int64_t dneg[] = {3, -2};
    t = tensor_head("neg", SF_ONNX_FLOAT, 2, dneg);
    m = model_init(&t);
    expect_error(&m, "graph.initializer[0] 'neg': field 'dims': dimension 1 is -2");
    int64_t dbig[] = {1LL << 40, 1LL << 40, 1LL << 40};
    t = tensor_head("big", SF_ONNX_FLOAT, 3, dbig);
    m = model_init(&t);
    expect_error(&m, "'big': field 'dims': element count overflows");
    int64_t dbytes[] = {1LL << 62, 2};
    t = tensor_head("bytes", SF_ONNX_FLOAT, 2, dbytes);
    m = model_init(&t);
    expect_error(&m, "'bytes': field 'dims': byte size overflows");
    int64_t d3[] = {3};
    t = tensor_head("few", SF_ONNX_FLOAT, 1, d3);
    f_float(&t, 4, 1.0f);
    f_float(&t, 4, 2.0f);
    m = model_init(&t);
    expect_error(&m, "'few': field 'float_data': 2 entries for 3 elements");
    t = tensor_head("many", SF_ONNX_INT64, 1, d3);
    int64_t v4[] = {1, 2, 3, 4};
    f_packed_ints(&t, 7, v4, 4);
    m = model_init(&t);
    expect_error(&m, "'many': field 'int64_data': 4 entries for 3 elements");
    t = tensor_head("wrong", SF_ONNX_FLOAT, 1, d3);
    f_packed_ints(&t, 7, v4, 3);
    m = model_init(&t);
    expect_error(&m, "'wrong': field 'int64_data': cannot hold float elements (they go in "
                     "'float_data' or 'raw_data')");
    t = tensor_head("u8", SF_ONNX_UINT8, 1, d3);
    int64_t bad8[] = {1, 256, 3};
    f_packed_ints(&t, 5, bad8, 3);
    m = model_init(&t);
    expect_error(&m, "'u8': field 'int32_data': entry 1: 256 does not fit uint8");
    t = tensor_head("i8", SF_ONNX_INT8, 1, d3);
    int64_t badi8[] = {1, -129, 3};
    f_packed_ints(&t, 5, badi8, 3);
    m = model_init(&t);
    expect_error(&m, "'i8': field 'int32_data': entry 1: -129 does not fit int8");
    t = tensor_head("b", SF_ONNX_BOOL, 1, d3);
    int64_t bad_b[] = {0, 1, 2};
    f_packed_ints(&t, 5, bad_b, 3);
    m = model_init(&t);
    expect_error(&m, "'b': field 'int32_data': entry 2: 2 does not fit bool");
    t = tensor_head("u32", SF_ONNX_UINT32, 1, d3);
    int64_t bad32[] = {0, 1, 1LL << 32};
    f_packed_ints(&t, 11, bad32, 3);
    m = model_init(&t);
    expect_error(&m, "'u32': field 'uint64_data': entry 2: 4294967296 does not fit uint32");
    t = tensor_head("both", SF_ONNX_FLOAT, 1, d3);
    f_bytes(&t, 9, "012345678901", 12);
    f_float(&t, 4, 1.0f);
    m = model_init(&t);
    expect_error(&m, "'both': field 'raw_data': given together with field 'float_data'");
    t = tensor_head("none", SF_ONNX_FLOAT, 2, d23);
    m = model_init(&t);
    expect_error(&m, "'none': field 'raw_data': missing: no data for 6 elements");
    t = tensor_head("twice", SF_ONNX_FLOAT, 1, d3);
    f_bytes(&t, 9, "012345678901", 12);
    f_bytes(&t, 9, "012345678901", 12);
    m = model_init(&t);
    expect_error(&m, "'twice': field 'raw_data': given 2 times");
    t = tensor_head("s", SF_ONNX_STRING, 1, d3);
    f_str(&t, 6, "one");
    m = model_init(&t);
    expect_error(&m, "'s': field 'string_data': 1 entries for 3 elements");
    t = tensor_head("s", SF_ONNX_STRING, 1, d3);
    f_bytes(&t, 9, "abc", 3);
    m = model_init(&t);
    expect_error(&m, "'s': field 'raw_data': cannot hold strings");
    t = tensor_head("loc", SF_ONNX_FLOAT, 1, d3);
    f_int(&t, 14, 2);
    m = model_init(&t);
    expect_error(&m, "'loc': field 'data_location': 2 is neither DEFAULT (0) nor EXTERNAL (1)");
    t = tensor_head("dt", SF_ONNX_FLOAT, 1, d3);
    f_int(&t, 2, -1);
    m = model_init(&t);
    expect_error(&m, "'dt': field 'data_type': data type 18446744073709551615 is not valid");
    t = tensor_head("nul\0", SF_ONNX_FLOAT, 0, NULL);
    f_bytes(&t, 8, "x\0y", 3);
    m = model_init(&t);
    expect_error(&m, "graph.initializer[0] 'x': field 'name': contains a NUL byte");
    /* in a node attribute: named by node, attribute and tensor */
    pb n = {0}, a = {0};
    f_str(&n, 3, "c0");
    f_str(&n, 4, "Constant");
    f_str(&a, 1, "value");
    t = tensor_head("cv", SF_ONNX_FLOAT, 1, d3);
    f_bytes(&t, 9, "0123", 4);
    f_msg(&a, 5, &t);
    f_msg(&n, 5, &a);
    m = model_node(&n);
    expect_error(&m, "m.onnx: graph.node[0] 'c0': attribute 'value': tensor 'cv': field "
                     "'raw_data': 4 bytes, but float tensor of 3 elements need 12");
}
END_TEST

START_TEST(onnx_external_errors)
{
    int64_t d[] = {2};
    pb e = {0};
    pb t = tensor_head("w", SF_ONNX_FLOAT, 1, d);
    f_int(&t, 14, 1);
    f_str(&e, 1, "offset");
    f_str(&e, 2, "0");
    f_msg(&t, 13, &e);
    pb m = model_init(&t);
    expect_error(&m, "'w': field 'external_data': data_location is EXTERNAL but no 'location'");
    /* the last wraps to 10 in 64-bit arithmetic */
    static const char *bad[] = {
        "-1", "1x", "", "9223372036854775808", "+5", "18446744073709551626"};
    for (int i = 0; i < 6; i++) {
        t = tensor_head("w", SF_ONNX_FLOAT, 1, d);
        f_int(&t, 14, 1);
        f_str(&e, 1, "location");
        f_str(&e, 2, "w.bin");
        f_msg(&t, 13, &e);
        f_str(&e, 1, i % 2 ? "length" : "offset");
        f_str(&e, 2, bad[i]);
        f_msg(&t, 13, &e);
        m = model_init(&t);
        char msg[200];
        snprintf(msg, sizeof msg,
                 "graph.initializer[0] 'w': external_data[1] '%s': '%s' is not a non-negative "
                 "integer below 2^63",
                 i % 2 ? "length" : "offset", bad[i]);
        expect_error(&m, msg);
    }
    t = tensor_head("w", SF_ONNX_FLOAT, 1, d);
    f_int(&t, 14, 1);
    f_str(&e, 1, "location");
    f_str(&e, 2, "w.bin");
    f_msg(&t, 13, &e);
    f_str(&e, 1, "location");
    f_str(&e, 2, "v.bin");
    f_msg(&t, 13, &e);
    m = model_init(&t);
    expect_error(&m, "external_data[1] 'location': given twice");
    t = tensor_head("w", SF_ONNX_FLOAT, 1, d);
    f_int(&t, 14, 1);
    f_str(&e, 1, "location");
    f_msg(&t, 13, &e);
    m = model_init(&t);
    expect_error(&m, "external_data[0] 'location': empty location");
    t = tensor_head("w", SF_ONNX_FLOAT, 1, d);
    f_int(&t, 14, 1);
    f_str(&e, 1, "location");
    f_bytes(&e, 2, "a\0b", 3);
    f_msg(&t, 13, &e);
    m = model_init(&t);
    expect_error(&m, "external_data[0] 'location': field 'value': contains a NUL byte");
    t = tensor_head("w", SF_ONNX_FLOAT, 1, d);
    f_int(&t, 14, 1);
    f_str(&e, 1, "location");
    f_str(&e, 2, "w.bin");
    f_msg(&t, 13, &e);
    f_float(&t, 4, 1.0f);
    f_float(&t, 4, 2.0f);
    m = model_init(&t);
    expect_error(&m, "'w': field 'float_data': given for a tensor with external data");
}
END_TEST

START_TEST(onnx_value_errors)
{
    int64_t d9[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    pb g = {0};
    pb v = value_info("x", SF_ONNX_FLOAT, 9, d9);
    f_msg(&g, 11, &v);
    pb m = model_of(&g);
    expect_error(&m, "m.onnx: graph.input[0] 'x': type.tensor_type: shape: field 'dim': rank 9 "
                     "above the limit 8");
    /* a sequence of sequences ... of tensors, nested past the limit */
    pb tp = {0}, tt = {0};
    f_int(&tt, 1, SF_ONNX_FLOAT);
    f_msg(&tp, 1, &tt);
    for (int i = 0; i < 10; i++) {
        pb seq = {0}, outer = {0};
        f_msg(&seq, 1, &tp);
        f_msg(&outer, 4, &seq);
        tp = outer;
    }
    f_str(&v, 1, "deep");
    f_msg(&v, 2, &tp);
    f_msg(&g, 11, &v);
    m = model_of(&g);
    expect_error(&m, "messages nested more than 8 deep");
    ck_assert_msg(strstr(tu_diag(), "graph.input[0] 'deep': type.sequence_type.elem_type") != NULL,
                  "%s", tu_diag());
    /* two cases of the TypeProto oneof */
    f_msg(&tp, 1, &tt);
    f_msg(&tp, 4, &tt);
    f_str(&v, 1, "two");
    f_msg(&v, 2, &tp);
    f_msg(&g, 12, &v);
    m = model_of(&g);
    expect_error(&m,
                 "graph.output[0] 'two': type: field 'sequence_type': more than one type given");
    pb shape = {0}, dm = {0};
    f_int(&dm, 1, 3);
    f_str(&dm, 2, "N");
    f_msg(&shape, 1, &dm);
    f_msg(&tt, 2, &shape);
    f_msg(&tp, 1, &tt);
    f_str(&v, 1, "y");
    f_msg(&v, 2, &tp);
    f_msg(&g, 13, &v);
    m = model_of(&g);
    expect_error(&m, "graph.value_info[0] 'y': type.tensor_type: shape.dim[0]: both dim_value and "
                     "dim_param");
}
END_TEST

START_TEST(onnx_too_many_nodes)
{
    pb g = {0};
    for (int i = 0; i <= SF_ONNX_MAX_NODES; i++)
        put(&g, "\x0a\x00", 2); /* empty nodes: counted before any is read */
    pb m = model_of(&g);
    expect_error(&m, "m.onnx: graph: field 'node': 100001 nodes, more than 100000");
}
END_TEST

/* Every input shorter than a valid model is rejected, never read past. */
START_TEST(onnx_every_truncation)
{
    pb n = {0}, a = {0}, g = {0};
    f_str(&n, 4, "Conv");
    f_str(&a, 1, "pads");
    int64_t p[] = {1, 1, 1, 1};
    f_packed_ints(&a, 8, p, 4);
    f_msg(&n, 5, &a);
    f_msg(&g, 1, &n);
    int64_t d[] = {2};
    pb t = tensor_head("w", SF_ONNX_FLOAT, 1, d);
    f_bytes(&t, 9, "01234567", 8);
    f_msg(&g, 5, &t);
    pb full = model_of(&g);
    for (size_t len = 0; len < full.n; len++) {
        pb m = {0};
        put(&m, full.b, len);
        sf_onnx_model o;
        sf_status s = parse(&m, &o);
        ck_assert_msg(s == SF_EINPUT || s == SF_OK, "length %zu: status %d", len, (int)s);
    }
    sf_onnx_model o;
    ck_assert_int_eq(parse(&full, &o), SF_OK);
}
END_TEST

/* ---- memory, files, names ---------------------------------------------------------- */

static long g_count, g_fail_at;

static void *fail_nth(size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    return ++g_count == g_fail_at ? NULL : (void *)1;
}

/* The k-th allocation fails, for every k the parse performs: the result is
 * SF_EINTERNAL with "out of memory", never an input error or a crash. */
START_TEST(onnx_alloc_failures)
{
    pb g = {0}, n = {0}, a = {0};
    f_str(&n, 4, "Op");
    f_str(&n, 1, "x");
    f_str(&a, 1, "big");
    /* 1.2 MB: larger than an arena block, so each array is an allocation */
    static float many[300000];
    f_packed_floats(&a, 7, many, 300000);
    f_msg(&n, 5, &a);
    f_msg(&g, 1, &n);
    int64_t d[] = {300000};
    pb t = tensor_head("w", SF_ONNX_FLOAT, 1, d);
    f_packed_floats(&t, 4, many, 300000);
    f_msg(&g, 5, &t);
    pb full = model_of(&g);
    long k;
    for (k = 1;; k++) {
        sf_arena_free(&g_arena);
        sf_arena_init(&g_arena);
        pb m = {0};
        put(&m, full.b, full.n);
        g_count = 0;
        g_fail_at = k;
        sf_set_alloc_hook(fail_nth, NULL);
        tu_diag_capture();
        sf_onnx_model o;
        sf_status s = parse(&m, &o);
        sf_set_alloc_hook(NULL, NULL);
        if (s == SF_OK)
            break;
        ck_assert_msg(s == SF_EINTERNAL, "allocation %ld failed: status %d", k, (int)s);
        TU_ASSERT_DIAG("out of memory");
    }
    ck_assert_int_eq(k, 4); /* the first block, two large arrays */
    free(full.b);
}
END_TEST

START_TEST(onnx_read_file)
{
    char dir[256], path[512];
    tu_mkdtemp(dir, sizeof dir);
    pb n = {0};
    f_str(&n, 4, "Relu");
    pb m = model_node(&n);
    ck_assert_int_eq(tu_write_file(dir, "r.onnx", m.b, m.n), 0);
    free(m.b);
    snprintf(path, sizeof path, "%s/r.onnx", dir);
    sf_onnx_model o;
    ck_assert_int_eq(sf_onnx_read(&g_arena, path, &o), SF_OK);
    ck_assert_str_eq(o.base, "r.onnx");
    ck_assert_str_eq(o.nodes[0].op_type, "Relu");
    snprintf(path, sizeof path, "%s/missing.onnx", dir);
    ck_assert_int_eq(sf_onnx_read(&g_arena, path, &o), SF_EINPUT);
    TU_ASSERT_DIAG("missing.onnx: cannot open the model file");
    ck_assert_int_eq(sf_onnx_read(&g_arena, dir, &o), SF_EINPUT);
    TU_ASSERT_DIAG("the model file is a folder, not a regular file");
    tu_rmrf(dir);
}
END_TEST

START_TEST(onnx_dtype_table)
{
    ck_assert_int_eq(sf_onnx_dtype_size(SF_ONNX_FLOAT), 4);
    ck_assert_int_eq(sf_onnx_dtype_size(SF_ONNX_BFLOAT16), 2);
    ck_assert_int_eq(sf_onnx_dtype_size(SF_ONNX_UINT64), 8);
    ck_assert_int_eq(sf_onnx_dtype_size(SF_ONNX_STRING), 0);
    ck_assert_int_eq(sf_onnx_dtype_size(99), 0);
    ck_assert_str_eq(sf_onnx_dtype_name(SF_ONNX_FLOAT), "float");
    ck_assert_str_eq(sf_onnx_dtype_name(SF_ONNX_BFLOAT16), "bfloat16");
    ck_assert_str_eq(sf_onnx_dtype_name(SF_ONNX_FLOAT16), "float16");
    ck_assert_str_eq(sf_onnx_dtype_name(SF_ONNX_INT64), "int64");
    ck_assert_str_eq(sf_onnx_dtype_name(42), "type 42");
    ck_assert_str_eq(sf_onnx_dtype_name(-7), "type -7");
}
END_TEST

/* ---- the committed seeds against the onnx package --------------------------------------- */

#define SEED_DIR  "tests/fuzz/corpus/onnx"
#define SEED_JSON "tests/fuzz/onnx_seeds.json"

/* Element i of a tensor's bytes as a double. */
static double elem(const sf_onnx_tensor *t, size_t i)
{
    size_t es = sf_onnx_dtype_size(t->dtype);
    uint64_t u = le(t->data + i * es, (int)es);
    switch (t->dtype) {
    case SF_ONNX_FLOAT: {
        float f;
        uint32_t u32 = (uint32_t)u;
        memcpy(&f, &u32, 4);
        return f;
    }
    case SF_ONNX_DOUBLE: {
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    case SF_ONNX_FLOAT16: return sf_f16_to_f32((uint16_t)u);
    case SF_ONNX_BFLOAT16: return sf_bf16_to_f32((uint16_t)u);
    case SF_ONNX_INT8: return (int8_t)u;
    case SF_ONNX_INT16: return (int16_t)u;
    case SF_ONNX_INT32: return (int32_t)u;
    case SF_ONNX_INT64: return (double)(int64_t)u;
    default: return (double)u; /* unsigned, bool */
    }
}

static void check_tensor(const char *where, const cJSON *e, const sf_onnx_tensor *t)
{
    ck_assert_msg(strcmp(t->name, cJSON_GetObjectItem(e, "name")->valuestring) == 0, "%s: name %s",
                  where, t->name);
    ck_assert_msg(t->dtype == cJSON_GetObjectItem(e, "data_type")->valueint, "%s: dtype", where);
    const cJSON *dims = cJSON_GetObjectItem(e, "dims");
    ck_assert_msg(t->rank == cJSON_GetArraySize(dims), "%s: rank %d", where, t->rank);
    for (int i = 0; i < t->rank; i++)
        ck_assert_msg(t->dims[i] == (int64_t)cJSON_GetArrayItem(dims, i)->valuedouble,
                      "%s: dims[%d]", where, i);
    const cJSON *ext = cJSON_GetObjectItem(e, "external");
    if (ext) {
        ck_assert_msg(t->external, "%s: not external", where);
        ck_assert_str_eq(t->location, cJSON_GetObjectItem(ext, "location")->valuestring);
        const cJSON *off = cJSON_GetObjectItem(ext, "offset"),
                    *len = cJSON_GetObjectItem(ext, "length");
        ck_assert_int_eq(t->offset, off ? (int64_t)off->valuedouble : -1);
        ck_assert_int_eq(t->length, len ? (int64_t)len->valuedouble : -1);
        return;
    }
    ck_assert_msg(!t->external, "%s: external", where);
    const cJSON *vals = cJSON_GetObjectItem(e, "values");
    if (!vals)
        return; /* strings */
    ck_assert_msg(t->numel == (size_t)cJSON_GetArraySize(vals), "%s: numel %zu", where, t->numel);
    size_t i = 0;
    for (const cJSON *v = vals->child; v; v = v->next, i++)
        ck_assert_msg(elem(t, i) == v->valuedouble, "%s: element %zu: %.17g, onnx says %.17g",
                      where, i, elem(t, i), v->valuedouble);
}

static void check_value(const char *where, const cJSON *e, const sf_onnx_value *v)
{
    ck_assert_msg(strcmp(v->name, cJSON_GetObjectItem(e, "name")->valuestring) == 0, "%s", where);
    ck_assert_msg(strcmp(v->kind, cJSON_GetObjectItem(e, "kind")->valuestring) == 0, "%s: kind %s",
                  where, v->kind);
    ck_assert_msg(v->elem_type == cJSON_GetObjectItem(e, "elem_type")->valueint, "%s: elem_type",
                  where);
    const cJSON *dims = cJSON_GetObjectItem(e, "dims");
    if (cJSON_IsNull(dims)) {
        ck_assert_msg(v->rank == -1, "%s: rank %d", where, v->rank);
        return;
    }
    ck_assert_msg(v->rank == cJSON_GetArraySize(dims), "%s: rank %d", where, v->rank);
    for (int i = 0; i < v->rank; i++) {
        const cJSON *d = cJSON_GetArrayItem(dims, i);
        if (cJSON_IsString(d)) {
            ck_assert_msg(v->dims[i] == -1 && v->dim_param[i] &&
                              strcmp(v->dim_param[i], d->valuestring) == 0,
                          "%s: dims[%d]", where, i);
        } else if (cJSON_IsNull(d)) {
            ck_assert_msg(v->dims[i] == -1 && !v->dim_param[i], "%s: dims[%d]", where, i);
        } else {
            ck_assert_msg(v->dims[i] == (int64_t)d->valuedouble, "%s: dims[%d]", where, i);
        }
    }
}

static void check_strings(const char *where, const cJSON *arr, const char *const *s, int n)
{
    ck_assert_msg(n == cJSON_GetArraySize(arr), "%s: %d entries", where, n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(strcmp(s[i], cJSON_GetArrayItem(arr, i)->valuestring) == 0, "%s[%d]: '%s'",
                      where, i, s[i]);
}

static void check_attr(const char *where, const cJSON *e, const sf_onnx_attr *at)
{
    ck_assert_msg(strcmp(at->name, cJSON_GetObjectItem(e, "name")->valuestring) == 0, "%s", where);
    ck_assert_msg(at->type == cJSON_GetObjectItem(e, "type")->valueint, "%s: type %d", where,
                  at->type);
    const cJSON *v = cJSON_GetObjectItem(e, "value");
    switch (at->type) {
    case SF_ONNX_AT_FLOAT: ck_assert_msg(at->f == (float)v->valuedouble, "%s", where); break;
    case SF_ONNX_AT_INT: ck_assert_msg(at->i == (int64_t)v->valuedouble, "%s", where); break;
    case SF_ONNX_AT_STRING: ck_assert_str_eq(at->s, v->valuestring); break;
    case SF_ONNX_AT_TENSOR: check_tensor(where, v, at->t); break;
    case SF_ONNX_AT_FLOATS:
        ck_assert_int_eq(at->nfloats, cJSON_GetArraySize(v));
        for (int i = 0; i < at->nfloats; i++)
            ck_assert(at->floats[i] == (float)cJSON_GetArrayItem(v, i)->valuedouble);
        break;
    case SF_ONNX_AT_INTS:
        ck_assert_int_eq(at->nints, cJSON_GetArraySize(v));
        for (int i = 0; i < at->nints; i++)
            ck_assert_int_eq(at->ints[i], (int64_t)cJSON_GetArrayItem(v, i)->valuedouble);
        break;
    case SF_ONNX_AT_STRINGS: check_strings(where, v, at->strings, at->nstrings); break;
    default: break; /* graphs: the type only */
    }
}

static void check_seed(const char *file, const cJSON *e)
{
    char path[512];
    snprintf(path, sizeof path, SEED_DIR "/%s", file);
    sf_onnx_model o;
    ck_assert_msg(sf_onnx_read(&g_arena, path, &o) == SF_OK, "%s: %s", file, tu_diag());
    ck_assert_int_eq(o.ir_version, (int64_t)cJSON_GetObjectItem(e, "ir_version")->valuedouble);
    ck_assert_str_eq(o.producer_name, cJSON_GetObjectItem(e, "producer_name")->valuestring);
    ck_assert_str_eq(o.graph_name, cJSON_GetObjectItem(e, "graph_name")->valuestring);
    ck_assert_int_eq(o.opset, (int64_t)cJSON_GetObjectItem(e, "opset")->valuedouble);
    ck_assert_int_eq(o.nfunctions, cJSON_GetObjectItem(e, "functions")->valueint);
    ck_assert_int_eq(o.nsparse_inits, cJSON_GetObjectItem(e, "sparse_initializers")->valueint);
    const cJSON *ops = cJSON_GetObjectItem(e, "opset_import");
    ck_assert_int_eq(o.nopsets, cJSON_GetArraySize(ops));
    for (int i = 0; i < o.nopsets; i++) {
        const cJSON *op = cJSON_GetArrayItem(ops, i);
        ck_assert_str_eq(o.opsets[i].domain, cJSON_GetArrayItem(op, 0)->valuestring);
        ck_assert_int_eq(o.opsets[i].version, cJSON_GetArrayItem(op, 1)->valueint);
    }
    char w[1024];
    const cJSON *nodes = cJSON_GetObjectItem(e, "nodes");
    ck_assert_int_eq(o.nnodes, cJSON_GetArraySize(nodes));
    for (int i = 0; i < o.nnodes; i++) {
        const cJSON *ne = cJSON_GetArrayItem(nodes, i);
        const sf_onnx_node *nd = &o.nodes[i];
        snprintf(w, sizeof w, "%s: node[%d]", file, i);
        ck_assert_str_eq(nd->op_type, cJSON_GetObjectItem(ne, "op_type")->valuestring);
        ck_assert_str_eq(nd->name, cJSON_GetObjectItem(ne, "name")->valuestring);
        ck_assert_str_eq(nd->domain, cJSON_GetObjectItem(ne, "domain")->valuestring);
        check_strings(w, cJSON_GetObjectItem(ne, "input"), nd->inputs, nd->ninputs);
        check_strings(w, cJSON_GetObjectItem(ne, "output"), nd->outputs, nd->noutputs);
        const cJSON *attrs = cJSON_GetObjectItem(ne, "attribute");
        ck_assert_int_eq(nd->nattrs, cJSON_GetArraySize(attrs));
        for (int k = 0; k < nd->nattrs; k++) {
            char wa[1100];
            snprintf(wa, sizeof wa, "%s: attribute[%d]", w, k);
            check_attr(wa, cJSON_GetArrayItem(attrs, k), &nd->attrs[k]);
        }
    }
    const cJSON *inits = cJSON_GetObjectItem(e, "initializer");
    ck_assert_int_eq(o.ninits, cJSON_GetArraySize(inits));
    for (int i = 0; i < o.ninits; i++) {
        snprintf(w, sizeof w, "%s: initializer[%d]", file, i);
        check_tensor(w, cJSON_GetArrayItem(inits, i), &o.inits[i]);
    }
    static const char *const lists[] = {"input", "output", "value_info"};
    const sf_onnx_value *vals[] = {o.inputs, o.outputs, o.value_info};
    int counts[] = {o.ninputs, o.noutputs, o.nvalue_info};
    for (int l = 0; l < 3; l++) {
        const cJSON *arr = cJSON_GetObjectItem(e, lists[l]);
        ck_assert_int_eq(counts[l], cJSON_GetArraySize(arr));
        for (int i = 0; i < counts[l]; i++) {
            snprintf(w, sizeof w, "%s: %s[%d]", file, lists[l], i);
            check_value(w, cJSON_GetArrayItem(arr, i), &vals[l][i]);
        }
    }
}

START_TEST(onnx_seeds_match_onnx)
{
    size_t len;
    char *text = tu_read_file(SEED_JSON, &len);
    ck_assert_msg(text != NULL, "cannot read " SEED_JSON " (run from the repository root)");
    cJSON *root = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(root);
    int n = 0;
    for (const cJSON *e = cJSON_GetObjectItem(root, "seeds")->child; e; e = e->next, n++)
        check_seed(e->string, e);
    ck_assert_int_ge(n, 6);
    cJSON_Delete(root);
}
END_TEST

Suite *onnx_pb_suite(void)
{
    Suite *s = suite_create("onnx_pb");
    TCase *tc = tcase_create("decode");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, onnx_model_fields);
    tcase_add_test(tc, onnx_packed_and_unpacked);
    tcase_add_test(tc, onnx_typed_fields);
    tcase_add_test(tc, onnx_external_data);
    tcase_add_test(tc, onnx_value_kinds);
    tcase_add_test(tc, onnx_unknown_fields_skipped);
    tcase_add_test(tc, onnx_deep_unknown_is_skipped);
    suite_add_tcase(s, tc);

    tc = tcase_create("reject");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, onnx_framing_errors);
    tcase_add_test(tc, onnx_nested_errors_named);
    tcase_add_test(tc, onnx_tensor_errors);
    tcase_add_test(tc, onnx_external_errors);
    tcase_add_test(tc, onnx_value_errors);
    tcase_add_test(tc, onnx_too_many_nodes);
    tcase_add_test(tc, onnx_every_truncation);
    suite_add_tcase(s, tc);

    tc = tcase_create("io");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, onnx_alloc_failures);
    tcase_add_test(tc, onnx_read_file);
    tcase_add_test(tc, onnx_dtype_table);
    tcase_add_test(tc, onnx_seeds_match_onnx);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
