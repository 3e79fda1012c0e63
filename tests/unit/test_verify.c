/* test_verify.c - verify stage: desc + weights -> graph IR (verify.c):
 * shapes, weights, topological order, and the errors for bad graphs. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir/graph.h"
#include "suites.h"
#include "test_util.h"

#define FRAGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void setup(void)
{
    tu_diag_capture();
}
static void teardown(void)
{
    tu_diag_release();
}

/* fc weight [5][3] with distinct values, bias [5] */
static float g_w53[15], g_w35[15], g_b5[5];

static void fill(void)
{
    for (int o = 0; o < 5; o++) {
        g_b5[o] = 0.5f + (float)o;
        for (int k = 0; k < 3; k++)
            g_w53[o * 3 + k] = (float)(10 * o + k + 1);
    }
    for (int k = 0; k < 3; k++)
        for (int n = 0; n < 5; n++)
            g_w35[k * 5 + n] = (float)(100 + 10 * k + n);
}

#define W53                                        \
    {                                              \
        "w", "F32", 2, {5, 3}, g_w53, sizeof g_w53 \
    }
#define W35                                         \
    {                                               \
        "wm", "F32", 2, {3, 5}, g_w35, sizeof g_w35 \
    }
#define B5                                    \
    {                                         \
        "b", "F32", 1, {5}, g_b5, sizeof g_b5 \
    }

static int dims_are(const sf_tensor *t, int rank, const int64_t *d)
{
    if (!t || t->rank != rank)
        return 0;
    for (int i = 0; i < rank; i++)
        if (t->dims[i] != d[i])
            return 0;
    return 1;
}
#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define ASSERT_DIMS(g, name, rank, ...) \
    ck_assert_msg(dims_are(tu_t(g, name), rank, DIMS(__VA_ARGS__)), "tensor %s: wrong shape", name)

#define M1(inputs, outputs, nodes)                                                \
    "{'sparseflow':1,'name':'m','weights':'w.safetensors','inputs':[" inputs "]," \
    "'outputs':[" outputs "],'nodes':[" nodes "]}"

/* Builds a model that must fail with SF_EINPUT and messages naming the file
 * and every fragment. */
static void expect_bad(const char *json, const tu_tensor *t, int nt, const char *const *frags)
{
    tu_model m;
    tu_diag_capture();
    sf_status s = tu_model_build(&m, json, t, nt);
    ck_assert_msg(s == SF_EINPUT, "status %d; messages:\n%s", s, tu_diag());
    TU_ASSERT_DIAG("m.json");
    for (const char *const *p = frags; p && *p; p++)
        TU_ASSERT_DIAG(*p);
    tu_model_free(&m);
}

START_TEST(linear_rank2)
{
    fill();
    tu_tensor t[] = {W53, B5};
    tu_model m;
    ck_assert_int_eq(tu_model_build(&m,
                                    M1("{'name':'x','shape':[4,3]}", "'y'",
                                       "{'op':'linear','name':'fc','inputs':['x'],"
                                       "'outputs':['y'],'weight':'w','bias':'b'}"),
                                    t, 2),
                     SF_OK);
    sf_graph *g = &m.g;
    ck_assert_str_eq(g->name, "m");
    ck_assert_int_eq(g->nnodes, 1);
    ck_assert_int_eq(g->ntensors, 2);
    ASSERT_DIMS(g, "y", 2, 4, 5);
    const sf_node *n = &g->nodes[0];
    ck_assert_int_eq(n->op, SF_OP_LINEAR);
    ck_assert_str_eq(n->op_written, "linear");
    sf_linear *L = n->lin;
    ck_assert_ptr_nonnull(L);
    ck_assert_int_eq(L->out, 5);
    ck_assert_int_eq(L->in, 3);
    ck_assert_int_eq(L->from_matmul, 0);
    ck_assert_str_eq(L->weight_name, "w");
    ck_assert_str_eq(L->bias_name, "b");
    for (int o = 0; o < 5; o++) {
        ck_assert(L->bias[o] == 0.5f + (float)o);
        for (int k = 0; k < 3; k++)
            ck_assert(L->w[o * 3 + k] == (float)(10 * o + k + 1));
    }
    /* bookkeeping of tensors */
    const sf_tensor *x = tu_t(g, "x"), *y = tu_t(g, "y");
    ck_assert_int_eq(x->producer, -1);
    ck_assert_int_eq(x->input_index, 0);
    ck_assert_int_eq(x->output_index, -1);
    ck_assert_int_eq(x->nconsumers, 1);
    ck_assert_int_eq(y->producer, 0);
    ck_assert_int_eq(y->output_index, 0);
    ck_assert_int_eq(y->nconsumers, 0);
    ck_assert_int_eq(g->ninputs, 1);
    ck_assert_int_eq(g->noutputs, 1);
    ck_assert_int_eq(g->inputs[0], tu_tensor_id(g, "x"));
    ck_assert_int_eq(g->outputs[0], tu_tensor_id(g, "y"));
    ck_assert_ptr_nonnull(y->zero);
    ck_assert_ptr_nonnull(y->needed);
    ck_assert_int_eq(sf_tensor_channels(y), 5);
    ck_assert_int_eq(sf_tensor_inner(y), 5);
    tu_model_free(&m);
}
END_TEST

START_TEST(linear_rank3_no_bias)
{
    fill();
    tu_tensor t[] = {W53};
    tu_model m;
    ck_assert_int_eq(tu_model_build(&m,
                                    M1("{'name':'x','shape':[2,6,3]}", "'y'",
                                       "{'op':'linear','name':'fc','inputs':['x'],"
                                       "'outputs':['y'],'weight':'w'}"),
                                    t, 1),
                     SF_OK);
    ASSERT_DIMS(&m.g, "y", 3, 2, 6, 5);
    ck_assert_ptr_null(m.g.nodes[0].lin->bias);
    ck_assert_ptr_null(m.g.nodes[0].lin->bias_name);
    ck_assert_int_eq(sf_tensor_inner(tu_t(&m.g, "y")), 30);
    tu_model_free(&m);
}
END_TEST

START_TEST(matmul_weight_transposed)
{
    fill();
    tu_tensor t[] = {W35};
    tu_model m;
    ck_assert_int_eq(tu_model_build(&m,
                                    M1("{'name':'x','shape':[2,7,3]}", "'y'",
                                       "{'op':'matmul','name':'mm','inputs':['x'],"
                                       "'outputs':['y'],'weight':'wm'}"),
                                    t, 1),
                     SF_OK);
    ASSERT_DIMS(&m.g, "y", 3, 2, 7, 5);
    const sf_node *n = &m.g.nodes[0];
    ck_assert_int_eq(n->op, SF_OP_LINEAR);
    ck_assert_str_eq(n->op_written, "matmul");
    sf_linear *L = n->lin;
    ck_assert_int_eq(L->from_matmul, 1);
    ck_assert_int_eq(L->out, 5);
    ck_assert_int_eq(L->in, 3);
    /* file: [K=3][N=5]; IR: [out=5][in=3] */
    for (int o = 0; o < 5; o++)
        for (int k = 0; k < 3; k++)
            ck_assert_msg(L->w[o * 3 + k] == (float)(100 + 10 * k + o), "w[%d][%d] = %g", o, k,
                          (double)L->w[o * 3 + k]);
    ck_assert_ptr_null(L->bias);
    tu_model_free(&m);
}
END_TEST

START_TEST(linear_half_precision_weights)
{
    static const uint16_t wh[6] = {0x3c00, 0x4000, 0x0000, 0xbc00, 0x3800, 0x0001};
    static const uint16_t bb[2] = {0x3f80, 0xc000}; /* bf16 1, -2 */
    tu_tensor t[] = {{"w", "F16", 2, {2, 3}, wh, sizeof wh}, {"b", "BF16", 1, {2}, bb, sizeof bb}};
    tu_model m;
    ck_assert_int_eq(tu_model_build(&m,
                                    M1("{'name':'x','shape':[1,3]}", "'y'",
                                       "{'op':'linear','inputs':['x'],"
                                       "'outputs':['y'],'weight':'w','bias':'b'}"),
                                    t, 2),
                     SF_OK);
    sf_linear *L = m.g.nodes[0].lin;
    static const float want[6] = {1, 2, 0, -1, 0.5f, 0x1p-24f};
    for (int i = 0; i < 6; i++)
        ck_assert(L->w[i] == want[i]);
    ck_assert(L->bias[0] == 1.0f && L->bias[1] == -2.0f);
    tu_model_free(&m);
}
END_TEST

START_TEST(unary_shapes_and_ops)
{
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(
            &m,
            M1("{'name':'x','shape':[2,3,4]}", "'y'",
               "{'op':'relu','name':'r','inputs':['x'],'outputs':['a']},"
               "{'op':'gelu','name':'g1','inputs':['a'],'outputs':['b']},"
               "{'op':'gelu','name':'g2','inputs':['b'],'outputs':['c'],'approximate':'tanh'},"
               "{'op':'gelu','name':'g3','inputs':['c'],'outputs':['d'],'approximate':'none'},"
               "{'op':'silu','name':'s','inputs':['d'],'outputs':['e']},"
               "{'op':'sigmoid','name':'sg','inputs':['e'],'outputs':['f']},"
               "{'op':'tanh','name':'t','inputs':['f'],'outputs':['y']}"),
            NULL, 0),
        SF_OK);
    sf_graph *g = &m.g;
    static const char *const names[] = {"a", "b", "c", "d", "e", "f", "y"};
    for (int i = 0; i < 7; i++)
        ASSERT_DIMS(g, names[i], 3, 2, 3, 4);
    ck_assert_int_eq(g->nodes[tu_node(g, "r")].op, SF_OP_RELU);
    ck_assert_int_eq(g->nodes[tu_node(g, "g1")].op, SF_OP_GELU);
    ck_assert_int_eq(g->nodes[tu_node(g, "g1")].gelu_tanh, 0);
    ck_assert_int_eq(g->nodes[tu_node(g, "g2")].gelu_tanh, 1);
    ck_assert_int_eq(g->nodes[tu_node(g, "g3")].gelu_tanh, 0);
    ck_assert_int_eq(g->nodes[tu_node(g, "s")].op, SF_OP_SILU);
    ck_assert_int_eq(g->nodes[tu_node(g, "sg")].op, SF_OP_SIGMOID);
    ck_assert_int_eq(g->nodes[tu_node(g, "t")].op, SF_OP_TANH);
    for (int i = 0; i < g->nnodes; i++) {
        ck_assert(sf_op_is_unary(g->nodes[i].op));
        ck_assert_int_eq(g->nodes[i].nin, 1);
        ck_assert_ptr_null(g->nodes[i].lin);
    }
    ck_assert(!sf_op_is_unary(SF_OP_ADD) && !sf_op_is_unary(SF_OP_MUL) &&
              !sf_op_is_unary(SF_OP_LINEAR));
    ck_assert_str_eq(sf_op_name(SF_OP_SIGMOID), "sigmoid");
    tu_model_free(&m);
}
END_TEST

START_TEST(binary_broadcasting)
{
    tu_model m;
    ck_assert_int_eq(tu_model_build(&m,
                                    M1("{'name':'a','shape':[2,1,3]},{'name':'b','shape':[2,5,3]},"
                                       "{'name':'c','shape':[2,5,1]},{'name':'d','shape':[2,1,1]},"
                                       "{'name':'p','shape':[2,4]},{'name':'q','shape':[2,1]}",
                                       "'y1','y2','y3','y4','y5','y6'",
                                       "{'op':'add','inputs':['a','b'],'outputs':['y1']},"
                                       "{'op':'mul','inputs':['c','a'],'outputs':['y2']},"
                                       "{'op':'add','inputs':['d','c'],'outputs':['y3']},"
                                       "{'op':'mul','inputs':['q','p'],'outputs':['y4']},"
                                       "{'op':'add','inputs':['p','q'],'outputs':['y5']},"
                                       "{'op':'mul','inputs':['b','b'],'outputs':['y6']}"),
                                    NULL, 0),
                     SF_OK);
    sf_graph *g = &m.g;
    ASSERT_DIMS(g, "y1", 3, 2, 5, 3);
    ASSERT_DIMS(g, "y2", 3, 2, 5, 3);
    ASSERT_DIMS(g, "y3", 3, 2, 5, 1);
    ASSERT_DIMS(g, "y4", 2, 2, 4);
    ASSERT_DIMS(g, "y5", 2, 2, 4);
    ASSERT_DIMS(g, "y6", 3, 2, 5, 3);
    ck_assert_int_eq(g->nodes[0].op, SF_OP_ADD);
    ck_assert_int_eq(g->nodes[1].op, SF_OP_MUL);
    ck_assert_int_eq(g->nodes[0].nin, 2);
    ck_assert_int_eq(g->nodes[0].in[0], tu_tensor_id(g, "a"));
    ck_assert_int_eq(g->nodes[0].in[1], tu_tensor_id(g, "b"));
    ck_assert_int_eq(tu_t(g, "b")->nconsumers, 3); /* y1 and twice by y6 */
    tu_model_free(&m);
}
END_TEST

START_TEST(binary_mismatch)
{
    expect_bad(M1("{'name':'p','shape':[2,4]},{'name':'q','shape':[2,3]}", "'y'",
                  "{'op':'add','name':'s','inputs':['p','q'],'outputs':['y']}"),
               NULL, 0, FRAGS("node 's'", "field 'inputs'", "'p'", "'q'"));
    expect_bad(M1("{'name':'p','shape':[2,4]},{'name':'q','shape':[2,1,4]}", "'y'",
                  "{'op':'mul','name':'s','inputs':['p','q'],'outputs':['y']}"),
               NULL, 0, FRAGS("node 's'", "field 'inputs'"));
    expect_bad(M1("{'name':'p','shape':[2,3,4]},{'name':'q','shape':[2,2,4]}", "'y'",
                  "{'op':'mul','name':'s','inputs':['p','q'],'outputs':['y']}"),
               NULL, 0, FRAGS("node 's'", "field 'inputs'"));
}
END_TEST

START_TEST(linear_mismatch)
{
    fill();
    tu_tensor t[] = {W53,
                     B5,
                     W35,
                     {"b4", "F32", 1, {4}, g_b5, 16},
                     {"w1", "F32", 1, {15}, g_w53, sizeof g_w53},
                     {"w0", "F32", 2, {0, 3}, NULL, 0}};
    /* K of the weight differs from the input's last dimension */
    expect_bad(M1("{'name':'x','shape':[4,5]}", "'y'",
                  "{'op':'linear','name':'fc','inputs':['x'],'outputs':['y'],'weight':'w'}"),
               t, 6, FRAGS("node 'fc'", "field 'weight'", "'w'"));
    expect_bad(M1("{'name':'x','shape':[4,5]}", "'y'",
                  "{'op':'matmul','name':'mm','inputs':['x'],'outputs':['y'],'weight':'wm'}"),
               t, 6, FRAGS("node 'mm'", "field 'weight'"));
    expect_bad(M1("{'name':'x','shape':[4,3]}", "'y'",
                  "{'op':'linear','name':'fc','inputs':['x'],'outputs':['y'],'weight':'w',"
                  "'bias':'b4'}"),
               t, 6, FRAGS("node 'fc'", "field 'bias'", "'b4'"));
    expect_bad(M1("{'name':'x','shape':[4,3]}", "'y'",
                  "{'op':'linear','name':'fc','inputs':['x'],'outputs':['y'],'weight':'nope'}"),
               t, 6, FRAGS("node 'fc'", "field 'weight'", "'nope'"));
    expect_bad(M1("{'name':'x','shape':[4,3]}", "'y'",
                  "{'op':'linear','name':'fc','inputs':['x'],'outputs':['y'],'weight':'w1'}"),
               t, 6, FRAGS("node 'fc'", "field 'weight'", "rank"));
    expect_bad(M1("{'name':'x','shape':[4,3]}", "'y'",
                  "{'op':'linear','name':'fc','inputs':['x'],'outputs':['y'],'weight':'w0'}"),
               t, 6, FRAGS("node 'fc'", "field 'weight'"));
    expect_bad(M1("{'name':'x','shape':[4,3]}", "'y'",
                  "{'op':'linear','name':'fc','inputs':['x'],'outputs':['y']}"),
               t, 6, FRAGS("node 'fc'", "field 'weight'", "missing"));
    expect_bad(M1("{'name':'x','shape':[4,3]}", "'y'",
                  "{'op':'matmul','name':'mm','inputs':['x'],'outputs':['y'],'weight':'wm',"
                  "'bias':'b'}"),
               t, 6, FRAGS("node 'mm'", "field 'bias'"));
    /* a linear needs [batch, ..., features] */
    expect_bad(M1("{'name':'x','shape':[3]}", "'y'",
                  "{'op':'linear','name':'fc','inputs':['x'],'outputs':['y'],'weight':'w'}"),
               t, 6, FRAGS("node 'fc'", "field 'inputs'"));
}
END_TEST

/* Every node comes after the producers of its inputs; order is a permutation. */
static void check_topo(const sf_graph *g)
{
    int *pos = calloc((size_t)g->nnodes, sizeof *pos);
    for (int i = 0; i < g->nnodes; i++)
        pos[i] = -1;
    for (int oi = 0; oi < g->nnodes; oi++) {
        int n = g->order[oi];
        ck_assert(n >= 0 && n < g->nnodes);
        ck_assert_msg(pos[n] < 0, "node %d twice in the order", n);
        pos[n] = oi;
    }
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nin; j++) {
            int p = g->tensors[g->nodes[i].in[j]].producer;
            if (p >= 0)
                ck_assert_msg(pos[p] < pos[i], "node %s before its producer %s", g->nodes[i].name,
                              g->nodes[p].name);
        }
    free(pos);
}

START_TEST(topo_order_out_of_order)
{
    fill();
    tu_tensor t[] = {W53};
    tu_model m;
    /* listed last to first; shapes only work out in dependency order */
    ck_assert_int_eq(
        tu_model_build(
            &m,
            M1("{'name':'x','shape':[2,3]}", "'y'",
               "{'op':'add','name':'sum','inputs':['h2','h3'],'outputs':['y']},"
               "{'op':'tanh','name':'t','inputs':['h1'],'outputs':['h3']},"
               "{'op':'relu','name':'r','inputs':['h1'],'outputs':['h2']},"
               "{'op':'linear','name':'fc','inputs':['x'],'outputs':['h1'],'weight':'w'}"),
            t, 1),
        SF_OK);
    sf_graph *g = &m.g;
    check_topo(g);
    ck_assert_int_eq(g->order[0], tu_node(g, "fc"));
    ck_assert_int_eq(g->order[3], tu_node(g, "sum"));
    ASSERT_DIMS(g, "h1", 2, 2, 5);
    ASSERT_DIMS(g, "h3", 2, 2, 5);
    ASSERT_DIMS(g, "y", 2, 2, 5);
    /* json order is kept in the node array */
    ck_assert_str_eq(g->nodes[0].name, "sum");
    ck_assert_int_eq(g->nodes[3].json_index, 3);
    tu_model_free(&m);
}
END_TEST

START_TEST(topo_order_long_chain_reversed)
{
    /* 12 unary nodes listed in reverse, plus a side branch */
    char nodes[4096] = "";
    for (int i = 11; i >= 0; i--) {
        char in[16], out[16], nd[160];
        snprintf(in, sizeof in, i ? "t%d" : "x", i - 1);
        snprintf(out, sizeof out, i == 11 ? "y" : "t%d", i);
        snprintf(nd, sizeof nd, "%s{'op':'%s','name':'n%d','inputs':['%s'],'outputs':['%s']}",
                 i == 11 ? "" : ",", i % 2 ? "relu" : "tanh", i, in, out);
        strcat(nodes, nd);
    }
    strcat(nodes, ",{'op':'mul','name':'side','inputs':['t7','t2'],'outputs':['z']}");
    char json[8192];
    snprintf(json, sizeof json,
             "{'sparseflow':1,'name':'m','weights':'w.safetensors',"
             "'inputs':[{'name':'x','shape':[3,4]}],'outputs':['y','z'],'nodes':[%s]}",
             nodes);
    tu_model m;
    ck_assert_int_eq(tu_model_build(&m, json, NULL, 0), SF_OK);
    ck_assert_int_eq(m.g.nnodes, 13);
    check_topo(&m.g);
    tu_model_free(&m);
}
END_TEST

START_TEST(cycle_detected)
{
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'relu','name':'a','inputs':['t2'],'outputs':['t1']},"
                  "{'op':'tanh','name':'b','inputs':['t1'],'outputs':['t2']},"
                  "{'op':'add','name':'c','inputs':['x','t2'],'outputs':['y']}"),
               NULL, 0, FRAGS("cycle"));
    /* a node reading its own output */
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'add','name':'self','inputs':['x','y'],'outputs':['y']}"),
               NULL, 0, FRAGS("node 'self'", "cycle"));
    /* a cycle beside a valid path */
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'relu','name':'ok','inputs':['x'],'outputs':['y']},"
                  "{'op':'relu','name':'p','inputs':['u'],'outputs':['v']},"
                  "{'op':'relu','name':'q','inputs':['w'],'outputs':['u']},"
                  "{'op':'relu','name':'r','inputs':['v'],'outputs':['w']}"),
               NULL, 0, FRAGS("cycle"));
}
END_TEST

START_TEST(duplicate_names)
{
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'relu','name':'n','inputs':['x'],'outputs':['a']},"
                  "{'op':'relu','name':'n','inputs':['a'],'outputs':['y']}"),
               NULL, 0, FRAGS("node 'n'", "nodes[1]", "duplicate"));
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'relu','name':'n1','inputs':['x'],'outputs':['y']},"
                  "{'op':'tanh','name':'n2','inputs':['x'],'outputs':['y']}"),
               NULL, 0, FRAGS("node 'n2'", "field 'outputs'", "'y'"));
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'relu','name':'n1','inputs':['x'],'outputs':['x']},"
                  "{'op':'tanh','name':'n2','inputs':['x'],'outputs':['y']}"),
               NULL, 0, FRAGS("node 'n1'", "field 'outputs'", "'x'"));
    expect_bad(M1("{'name':'x','shape':[2,3]},{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'relu','inputs':['x'],'outputs':['y']}"),
               NULL, 0, FRAGS("input 'x'", "duplicate"));
    expect_bad(
        M1("{'name':'x','shape':[2,3]}", "'y','y'", "{'op':'relu','inputs':['x'],'outputs':['y']}"),
        NULL, 0, FRAGS("outputs[1]", "duplicate"));
}
END_TEST

static const sf_st_tensor *no_tensor(const sf_weights *w, const char *name)
{
    (void)w;
    (void)name;
    return NULL;
}

/* SF_MAX_NODES concat nodes, each reading the previous tensor 16 times,
 * every node and tensor name 1 KB long with a common prefix, and a graph
 * output no node makes: every name is resolved before the error. Names go
 * through an index; comparing each with every earlier one took seconds. */
START_TEST(names_checked_in_linear_time)
{
    enum { N = SF_MAX_NODES, L = 1024 };
    sf_arena a;
    sf_arena_init(&a);
    sf_desc_input in = {"x", 2, {2, 3}};
    static const char *outs[] = {"ghost"};
    sf_desc d = {"/m/m.json", "m.json", "m", "/m/w", &in, 1, outs, 1, NULL, N};
    d.nodes = sf_arena_array(&a, N, sizeof *d.nodes);
    char **tname = sf_arena_array(&a, N, sizeof *tname);
    ck_assert_ptr_nonnull(d.nodes);
    ck_assert_ptr_nonnull(tname);
    for (int i = 0; i < N; i++) {
        sf_desc_node *n = &d.nodes[i];
        char *nn = sf_arena_alloc(&a, L + 16);
        tname[i] = sf_arena_alloc(&a, L + 16);
        n->inputs = sf_arena_array(&a, 16, sizeof *n->inputs);
        ck_assert(nn && tname[i] && n->inputs);
        memset(nn, 'n', L);
        memset(tname[i], 'n', L);
        snprintf(nn + L, 16, "_n%d", i);
        snprintf(tname[i] + L, 16, "_t%d", i);
        n->op = "concat";
        n->name = nn;
        n->index = i;
        for (int j = 0; j < 16; j++)
            n->inputs[j] = i ? tname[i - 1] : "x";
        n->ninputs = 16;
        n->outputs = (const char **)&tname[i];
        n->noutputs = 1;
    }
    sf_weights w = {"w", no_tensor, NULL};
    sf_graph g;
    memset(&g, 0, sizeof g);
    sf_arena_init(&g.arena);
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0); /* CPU time: load does not matter */
    ck_assert_int_eq(sf_graph_build(&d, &w, &g), SF_EINPUT);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
    TU_ASSERT_DIAG("m.json: field 'outputs[0]': tensor 'ghost' is not produced by any node");
    ck_assert_msg(took < 2.0, "took %.2f s of CPU time", took);
    sf_arena_free(&a);
}
END_TEST

START_TEST(bad_nodes)
{
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'conv3d','name':'c','inputs':['x'],'outputs':['y']}"),
               NULL, 0, FRAGS("node 'c'", "field 'op'", "conv3d"));
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'relu','name':'r','inputs':['x','x'],'outputs':['y']}"),
               NULL, 0, FRAGS("node 'r'", "field 'inputs'"));
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'add','name':'s','inputs':['x'],'outputs':['y']}"),
               NULL, 0, FRAGS("node 's'", "field 'inputs'"));
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'relu','name':'r','inputs':['ghost'],'outputs':['y']}"),
               NULL, 0, FRAGS("node 'r'", "field 'inputs'", "'ghost'"));
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'relu','name':'r','inputs':['x'],'outputs':['y','z']}"),
               NULL, 0, FRAGS("node 'r'", "field 'outputs'"));
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'relu','name':'r','inputs':['x'],'outputs':['y'],'weight':'w'}"),
               NULL, 0, FRAGS("node 'r'", "field 'weight'"));
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'tanh','name':'r','inputs':['x'],'outputs':['y'],'bias':'b'}"),
               NULL, 0, FRAGS("node 'r'", "field 'bias'"));
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'relu','name':'r','inputs':['x'],'outputs':['y'],"
                  "'approximate':'tanh'}"),
               NULL, 0, FRAGS("node 'r'", "field 'approximate'"));
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'gelu','name':'g','inputs':['x'],'outputs':['y'],"
                  "'approximate':'fast'}"),
               NULL, 0, FRAGS("node 'g'", "field 'approximate'", "fast"));
}
END_TEST

START_TEST(bad_graph_io)
{
    expect_bad(
        M1("{'name':'x','shape':[2,3]}", "'x'", "{'op':'relu','inputs':['x'],'outputs':['y']}"),
        NULL, 0, FRAGS("outputs[0]", "'x'"));
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'nowhere'",
                  "{'op':'relu','inputs':['x'],'outputs':['y']}"),
               NULL, 0, FRAGS("outputs[0]", "'nowhere'"));
    /* every input's first dimension is the same maximum batch */
    expect_bad(M1("{'name':'x','shape':[2,3]},{'name':'z','shape':[4,3]}", "'y'",
                  "{'op':'add','inputs':['x','z'],'outputs':['y']}"),
               NULL, 0, FRAGS("input 'z'", "field 'shape'"));
    /* names become C identifiers in the generated code */
    expect_bad(
        M1("{'name':'x-1','shape':[2,3]}", "'y'", "{'op':'relu','inputs':['x-1'],'outputs':['y']}"),
        NULL, 0, FRAGS("input 'x-1'"));
    expect_bad(M1("{'name':'x','shape':[2,3]}", "'y.out'",
                  "{'op':'relu','inputs':['x'],'outputs':['y.out']}"),
               NULL, 0, FRAGS("outputs[0]", "'y.out'"));
    /* too many elements in one tensor */
    expect_bad(M1("{'name':'x','shape':[65536,65536]}", "'y'",
                  "{'op':'relu','inputs':['x'],'outputs':['y']}"),
               NULL, 0, FRAGS("input 'x'"));
}
END_TEST

/* GENERATOR BUG (verify.c sf_graph_build vs graph.h): the header promises
 * "On failure the graph is freed", but sf_graph_build returns with its arena
 * still allocated (only sf_graph_load frees); a caller that trusts the
 * header leaks the graph. */
START_TEST(build_failure_frees_graph)
{
    tu_model m;
    ck_assert_int_eq(tu_model_build(&m,
                                    M1("{'name':'x','shape':[2,3]}", "'y'",
                                       "{'op':'relu','inputs':['ghost'],'outputs':['y']}"),
                                    NULL, 0),
                     SF_EINPUT);
    ck_assert_msg(m.g.arena.head == NULL && m.g.nodes == NULL && m.g.tensors == NULL,
                  "GENERATOR BUG (verify.c): sf_graph_build failed but left its graph "
                  "allocated, though graph.h says it is freed on failure");
    tu_model_free(&m);
}
END_TEST

START_TEST(graph_load_files)
{
    fill();
    char dir[256], path[400];
    tu_mkdtemp(dir, sizeof dir);
    tu_tensor t[] = {W53, B5};
    tu_write_model(dir,
                   "{'sparseflow':1,'name':'net','weights':'net.safetensors',"
                   "'inputs':[{'name':'x','shape':[4,3]}],'outputs':['y'],'nodes':["
                   "{'op':'linear','name':'fc','inputs':['x'],'outputs':['h'],"
                   "'weight':'w','bias':'b'},"
                   "{'op':'gelu','name':'act','inputs':['h'],'outputs':['y']}]}",
                   "net.safetensors", t, 2, path, sizeof path);
    sf_graph g;
    ck_assert_int_eq(sf_graph_load(path, &g), SF_OK);
    /* everything the graph keeps outlives the loader's scratch memory */
    ck_assert_str_eq(g.name, "net");
    ck_assert_str_eq(g.model_base, "model.json");
    ck_assert_str_eq(g.nodes[0].name, "fc");
    ck_assert_str_eq(g.nodes[0].op_written, "linear");
    ck_assert_str_eq(g.nodes[1].name, "act");
    ck_assert_str_eq(g.nodes[0].lin->weight_name, "w");
    ck_assert_str_eq(g.nodes[0].lin->bias_name, "b");
    ck_assert_str_eq(g.tensors[g.outputs[0]].name, "y");
    ck_assert_str_eq(g.tensors[g.inputs[0]].name, "x");
    ASSERT_DIMS(&g, "h", 2, 4, 5);
    ck_assert(g.nodes[0].lin->w[14] == 43.0f);
    ck_assert(g.nodes[0].lin->bias[4] == 4.5f);
    sf_graph_free(&g);
    ck_assert_ptr_null(g.arena.head);

    /* the weights file is looked up beside the model */
    tu_write_model(dir,
                   "{'sparseflow':1,'name':'net','weights':'missing.safetensors',"
                   "'inputs':[{'name':'x','shape':[4,3]}],'outputs':['y'],'nodes':["
                   "{'op':'relu','inputs':['x'],'outputs':['y']}]}",
                   "net.safetensors", t, 2, path, sizeof path);
    tu_diag_capture();
    ck_assert_int_eq(sf_graph_load(path, &g), SF_EINPUT);
    TU_ASSERT_DIAG("missing.safetensors");
    ck_assert_ptr_null(g.arena.head);
    /* an invalid graph frees everything */
    tu_write_model(dir,
                   "{'sparseflow':1,'name':'net','weights':'net.safetensors',"
                   "'inputs':[{'name':'x','shape':[4,3]}],'outputs':['y'],'nodes':["
                   "{'op':'linear','inputs':['x'],'outputs':['y'],'weight':'zz'}]}",
                   "net.safetensors", t, 2, path, sizeof path);
    ck_assert_int_eq(sf_graph_load(path, &g), SF_EINPUT);
    ck_assert_ptr_null(g.arena.head);
    tu_rmrf(dir);
}
END_TEST

static uint32_t rng(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Graphs rewired at random (names swapped for other names) build or are
 * rejected with SF_EINPUT; a graph that builds is consistent. */
START_TEST(rewired_graphs)
{
    static const char *const model =
        "{'sparseflow':1,'name':'m','weights':'w.safetensors',"
        "'inputs':[{'name':'x','shape':[2,4]},{'name':'u','shape':[2,1]}],'outputs':['y','z'],"
        "'nodes':["
        "{'op':'linear','name':'fc1','inputs':['x'],'outputs':['h1'],'weight':'w44','bias':'b4'},"
        "{'op':'relu','name':'r','inputs':['h1'],'outputs':['a1']},"
        "{'op':'mul','name':'m1','inputs':['a1','u'],'outputs':['p']},"
        "{'op':'matmul','name':'mm','inputs':['p'],'outputs':['h2'],'weight':'w43'},"
        "{'op':'add','name':'s','inputs':['h2','h2'],'outputs':['y']},"
        "{'op':'linear','name':'fc2','inputs':['a1'],'outputs':['z'],'weight':'w34'}]}";
    static const char *const pool[] = {"x",   "u",      "h1",     "a1",   "p",   "h2",   "y",
                                       "z",   "w44",    "w43",    "w34",  "b4",  "relu", "add",
                                       "mul", "matmul", "linear", "tanh", "fc1", "r",    "s"};
    static float w44[16], w43[12], w34[12], b4[4];
    for (int i = 0; i < 16; i++)
        w44[i] = (float)(i % 3);
    for (int i = 0; i < 12; i++)
        w43[i] = w34[i] = (float)(i % 2);
    tu_tensor t[] = {{"w44", "F32", 2, {4, 4}, w44, sizeof w44},
                     {"w43", "F32", 2, {4, 3}, w43, sizeof w43},
                     {"w34", "F32", 2, {3, 4}, w34, sizeof w34},
                     {"b4", "F32", 1, {4}, b4, sizeof b4}};
    uint32_t seed = 5;
    int built = 0;
    for (int iter = 0; iter < 1500; iter++) {
        char text[2048];
        snprintf(text, sizeof text, "%s", model);
        int edits = 1 + (int)(rng(&seed) % 3);
        for (int e = 0; e < edits; e++) {
            /* the n-th quoted string after the top-level keys */
            int nq = 0;
            for (const char *q = text; (q = strchr(q, '\'')); q++)
                nq++;
            int pick = (int)(rng(&seed) % (uint32_t)(nq / 2));
            char *q = text;
            for (int i = 0; i <= 2 * pick; i++)
                q = strchr(q, '\'') + 1;
            char *end = strchr(q, '\'');
            if (strncmp(q, "sparseflow", 10) == 0 || end - q > 12 || q[-2] == '{' ||
                (end[1] == ':'))
                continue; /* keep keys; swap values only */
            const char *rep = pool[rng(&seed) % (sizeof pool / sizeof pool[0])];
            char tail[2048];
            snprintf(tail, sizeof tail, "%s", end);
            snprintf(q, sizeof text - (size_t)(q - text), "%s%s", rep, tail);
        }
        tu_model m;
        tu_diag_capture();
        sf_status st = tu_model_build(&m, text, t, 4);
        ck_assert_msg(st == SF_OK || st == SF_EINPUT, "status %d for %s:\n%s", st, text, tu_diag());
        if (st == SF_OK) {
            built++;
            check_topo(&m.g);
            for (int i = 0; i < m.g.nnodes; i++) {
                const sf_node *n = &m.g.nodes[i];
                const sf_tensor *in = &m.g.tensors[n->in[0]], *out = &m.g.tensors[n->out];
                ck_assert_int_eq(out->dims[0], 2);
                if (n->lin) {
                    ck_assert_int_eq(n->lin->in, sf_tensor_channels(in));
                    ck_assert_int_eq(n->lin->out, sf_tensor_channels(out));
                } else if (n->nin == 1) {
                    ck_assert(dims_are(out, in->rank, in->dims));
                }
            }
        } else {
            ck_assert_int_ge(tu_diag_lines(), 1);
        }
        tu_model_free(&m);
    }
    ck_assert_int_gt(built, 0);
}
END_TEST

Suite *verify_suite(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tcase_create("shapes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, linear_rank2);
    tcase_add_test(tc, linear_rank3_no_bias);
    tcase_add_test(tc, matmul_weight_transposed);
    tcase_add_test(tc, linear_half_precision_weights);
    tcase_add_test(tc, unary_shapes_and_ops);
    tcase_add_test(tc, binary_broadcasting);
    tcase_add_test(tc, binary_mismatch);
    tcase_add_test(tc, linear_mismatch);
    suite_add_tcase(s, tc);

    tc = tcase_create("graph");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, topo_order_out_of_order);
    tcase_add_test(tc, topo_order_long_chain_reversed);
    tcase_add_test(tc, cycle_detected);
    tcase_add_test(tc, duplicate_names);
    tcase_add_test(tc, names_checked_in_linear_time);
    tcase_add_test(tc, bad_nodes);
    tcase_add_test(tc, bad_graph_io);
    tcase_add_test(tc, build_failure_frees_graph);
    tcase_add_test(tc, graph_load_files);
    tcase_add_test(tc, rewired_graphs);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
