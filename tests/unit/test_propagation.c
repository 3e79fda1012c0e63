/* test_propagation.c - SPA propagation (spa.c sf_spa_propagate): exactly-zero
 * channels forward, needed channels backward, on small built graphs. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "passes/spa.h"
#include "suites.h"
#include "test_util.h"

#define MODEL(inputs, outputs, nodes)                                             \
    "{'sparseflow':1,'name':'m','weights':'w.safetensors','inputs':[" inputs "]," \
    "'outputs':[" outputs "],'nodes':[" nodes "]}"

/* Compares a tensor's per-channel flags with a string of '0'/'1'. */
static void expect_flags(const sf_graph *g, const char *tensor, int which, const char *want)
{
    const sf_tensor *t = tu_t(g, tensor);
    ck_assert_msg(t != NULL, "no tensor %s", tensor);
    int64_t C = sf_tensor_channels(t);
    ck_assert_int_eq((int64_t)strlen(want), C);
    char got[256];
    for (int64_t c = 0; c < C; c++)
        got[c] = (which ? t->needed[c] : t->zero[c]) ? '1' : '0';
    got[C] = 0;
    ck_assert_msg(strcmp(got, want) == 0, "%s %s: got %s, expected %s", tensor,
                  which ? "needed" : "zero", got, want);
}
#define ZERO(g, t, s)   expect_flags(g, t, 0, s)
#define NEEDED(g, t, s) expect_flags(g, t, 1, s)

START_TEST(linear_zero_rows_and_bias)
{
    static const float w1[12] = {1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const float b1[4] = {0, 0, 1, -0.0f}; /* -0 is a zero bias */
    static const float w2[6] = {0, 0, 0, 0, 4, 0};
    tu_tensor t[] = {{"w1", "F32", 2, {4, 3}, w1, sizeof w1},
                     {"b1", "F32", 1, {4}, b1, sizeof b1},
                     {"w2", "F32", 2, {2, 3}, w2, sizeof w2}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(
            &m,
            MODEL("{'name':'x','shape':[2,3]}", "'y1','y2'",
                  "{'op':'linear','inputs':['x'],'outputs':['y1'],'weight':'w1','bias':'b1'},"
                  "{'op':'linear','inputs':['x'],'outputs':['y2'],'weight':'w2'}"),
            t, 3),
        SF_OK);
    sf_spa_propagate(&m.g, 1);
    ZERO(&m.g, "x", "000");   /* graph inputs are never known zero */
    ZERO(&m.g, "y1", "0101"); /* row 2 has a nonzero bias */
    ZERO(&m.g, "y2", "10");   /* no bias: a zero row is a zero channel */
    NEEDED(&m.g, "y1", "1111");
    NEEDED(&m.g, "y2", "11");
    tu_model_free(&m);
}
END_TEST

START_TEST(zero_input_channel_makes_zero_output)
{
    /* h1[1] is zero; fc2 row 0 reads only h1[1] */
    static const float w1[9] = {1, 1, 1, 0, 0, 0, 2, 0, 2};
    static const float w2[6] = {0, 7, 0, 1, 0, 0};
    static const float b2[2] = {0, 0};
    static const float b2nz[2] = {3, 0};
    tu_tensor t[] = {{"w1", "F32", 2, {3, 3}, w1, sizeof w1},
                     {"w2", "F32", 2, {2, 3}, w2, sizeof w2},
                     {"b2", "F32", 1, {2}, b2, sizeof b2},
                     {"b2nz", "F32", 1, {2}, b2nz, sizeof b2nz}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(
            &m,
            MODEL("{'name':'x','shape':[2,3]}", "'y','z'",
                  "{'op':'linear','inputs':['x'],'outputs':['h1'],'weight':'w1'},"
                  "{'op':'relu','inputs':['h1'],'outputs':['a']},"
                  "{'op':'linear','inputs':['a'],'outputs':['y'],'weight':'w2','bias':'b2'},"
                  "{'op':'linear','inputs':['a'],'outputs':['z'],'weight':'w2','bias':'b2nz'}"),
            t, 4),
        SF_OK);
    sf_spa_propagate(&m.g, 1);
    ZERO(&m.g, "h1", "010");
    ZERO(&m.g, "a", "010");
    ZERO(&m.g, "y", "10");
    ZERO(&m.g, "z", "00"); /* the bias keeps channel 0 alive */
    tu_model_free(&m);
}
END_TEST

START_TEST(activations)
{
    static const float w[6] = {1, 1, 0, 0, 0, 0};
    static const float b[3] = {0, 0, 2};
    tu_tensor t[] = {{"w", "F32", 2, {3, 2}, w, sizeof w}, {"b", "F32", 1, {3}, b, sizeof b}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(
            &m,
            MODEL("{'name':'x','shape':[2,4,2]}", "'r','g','gt','s','t','sg','r2'",
                  "{'op':'linear','inputs':['x'],'outputs':['h'],'weight':'w','bias':'b'},"
                  "{'op':'relu','inputs':['h'],'outputs':['r']},"
                  "{'op':'gelu','inputs':['h'],'outputs':['g']},"
                  "{'op':'gelu','inputs':['h'],'outputs':['gt'],'approximate':'tanh'},"
                  "{'op':'silu','inputs':['h'],'outputs':['s']},"
                  "{'op':'tanh','inputs':['h'],'outputs':['t']},"
                  "{'op':'sigmoid','inputs':['h'],'outputs':['sg']},"
                  "{'op':'relu','inputs':['sg'],'outputs':['r2']}"),
            t, 2),
        SF_OK);
    sf_spa_propagate(&m.g, 1);
    ZERO(&m.g, "h", "010");
    ZERO(&m.g, "r", "010");
    ZERO(&m.g, "g", "010");
    ZERO(&m.g, "gt", "010");
    ZERO(&m.g, "s", "010");
    ZERO(&m.g, "t", "010");
    ZERO(&m.g, "sg", "000"); /* sigmoid(0) = 0.5 */
    ZERO(&m.g, "r2", "000");
    ck_assert(sf_op_keeps_zero(SF_OP_RELU) && sf_op_keeps_zero(SF_OP_GELU) &&
              sf_op_keeps_zero(SF_OP_SILU) && sf_op_keeps_zero(SF_OP_TANH));
    ck_assert(!sf_op_keeps_zero(SF_OP_SIGMOID));
    tu_model_free(&m);
}
END_TEST

START_TEST(add_and_mul)
{
    static const float wa[12] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}; /* zero rows 1, 2 */
    static const float wb[12] = {1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}; /* zero rows 2, 3 */
    tu_tensor t[] = {{"wa", "F32", 2, {4, 3}, wa, sizeof wa},
                     {"wb", "F32", 2, {4, 3}, wb, sizeof wb},
                     {"wx", "F32", 2, {4, 3}, wa, sizeof wa}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(&m,
                       MODEL("{'name':'x','shape':[2,3]},{'name':'u','shape':[2,4]}",
                             "'s','p','ss','su','pu'",
                             "{'op':'linear','inputs':['x'],'outputs':['ha'],'weight':'wa'},"
                             "{'op':'linear','inputs':['x'],'outputs':['hb'],'weight':'wb'},"
                             "{'op':'add','inputs':['ha','hb'],'outputs':['s']},"
                             "{'op':'mul','inputs':['ha','hb'],'outputs':['p']},"
                             "{'op':'add','inputs':['ha','ha'],'outputs':['ss']},"
                             "{'op':'add','inputs':['u','ha'],'outputs':['su']},"
                             "{'op':'mul','inputs':['u','ha'],'outputs':['pu']}"),
                       t, 3),
        SF_OK);
    sf_spa_propagate(&m.g, 1);
    ZERO(&m.g, "ha", "0110");
    ZERO(&m.g, "hb", "0011");
    ZERO(&m.g, "s", "0010"); /* both sides zero */
    ZERO(&m.g, "p", "0111"); /* either side zero */
    ZERO(&m.g, "ss", "0110");
    ZERO(&m.g, "su", "0000"); /* a graph input is never known zero */
    ZERO(&m.g, "pu", "0110");
    tu_model_free(&m);
}
END_TEST

/* The new element-wise ops follow the op table's zero rules: erf, sqrt and
 * hardswish keep zeros (KEEP), sub is zero where both sides are (BOTH), and
 * clip, hardsigmoid, div, pow and where know nothing (CHAN). */
START_TEST(table_zero_rules)
{
    static const float wa[12] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}; /* zero rows 1, 2 */
    static const float wb[12] = {1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}; /* zero rows 2, 3 */
    tu_tensor t[] = {{"wa", "F32", 2, {4, 3}, wa, sizeof wa},
                     {"wb", "F32", 2, {4, 3}, wb, sizeof wb}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(&m,
                       MODEL("{'name':'x','shape':[2,3]}", "'e','q','hs','d','c','hg','v','pw','w'",
                             "{'op':'linear','inputs':['x'],'outputs':['ha'],'weight':'wa'},"
                             "{'op':'linear','inputs':['x'],'outputs':['hb'],'weight':'wb'},"
                             "{'op':'erf','inputs':['ha'],'outputs':['e']},"
                             "{'op':'sqrt','inputs':['hb'],'outputs':['q']},"
                             "{'op':'hardswish','inputs':['ha'],'outputs':['hs']},"
                             "{'op':'sub','inputs':['ha','hb'],'outputs':['d']},"
                             "{'op':'clip','inputs':['ha'],'outputs':['c'],'min':-1,'max':1},"
                             "{'op':'hardsigmoid','inputs':['ha'],'outputs':['hg']},"
                             "{'op':'div','inputs':['ha','hb'],'outputs':['v']},"
                             "{'op':'pow','inputs':['ha','hb'],'outputs':['pw']},"
                             "{'op':'where','inputs':['ha','hb','ha'],'outputs':['w']}"),
                       t, 2),
        SF_OK);
    sf_spa_propagate(&m.g, 1);
    ZERO(&m.g, "e", "0110");
    ZERO(&m.g, "q", "0011");
    ZERO(&m.g, "hs", "0110");
    ZERO(&m.g, "d", "0010");
    ZERO(&m.g, "c", "0000");
    ZERO(&m.g, "hg", "0000"); /* hardsigmoid(0) = 0.5 */
    ZERO(&m.g, "v", "0000");
    ZERO(&m.g, "pw", "0000"); /* 0^0 = 1 */
    ZERO(&m.g, "w", "0000");
    tu_model_free(&m);
}
END_TEST

START_TEST(broadcast_channels)
{
    static const float wa[8] = {1, 1, 1, 0, 0, 0, 0, 1}; /* ha [2,4], zero channel 2 */
    static const float wq[2] = {0, 0};                   /* hq [2,1], zero */
    static const float wr[2] = {1, 0};                   /* hr [2,1], nonzero */
    tu_tensor t[] = {{"wa", "F32", 2, {4, 2}, wa, sizeof wa},
                     {"wq", "F32", 2, {1, 2}, wq, sizeof wq},
                     {"wr", "F32", 2, {1, 2}, wr, sizeof wr}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(&m,
                       MODEL("{'name':'x','shape':[3,2]}", "'s','p','sr','pr'",
                             "{'op':'linear','inputs':['x'],'outputs':['ha'],'weight':'wa'},"
                             "{'op':'linear','inputs':['x'],'outputs':['hq'],'weight':'wq'},"
                             "{'op':'linear','inputs':['x'],'outputs':['hr'],'weight':'wr'},"
                             "{'op':'add','inputs':['ha','hq'],'outputs':['s']},"
                             "{'op':'mul','inputs':['hq','ha'],'outputs':['p']},"
                             "{'op':'add','inputs':['hr','ha'],'outputs':['sr']},"
                             "{'op':'mul','inputs':['ha','hr'],'outputs':['pr']}"),
                       t, 3),
        SF_OK);
    sf_spa_propagate(&m.g, 1);
    ZERO(&m.g, "hq", "1");
    ZERO(&m.g, "s", "0010");
    ZERO(&m.g, "p", "1111");
    ZERO(&m.g, "sr", "0000");
    ZERO(&m.g, "pr", "0010");
    /* a broadcast operand's single channel is needed when any output channel is */
    NEEDED(&m.g, "hq", "1");
    NEEDED(&m.g, "hr", "1");
    tu_model_free(&m);
}
END_TEST

START_TEST(constant_channels)
{
    /* k [1,2,4]: channel 1 zero in both rows, channel 3 zero in one; a
     * scalar s [1] = 0; an image constant c [1,3,1,1] with channel 0 zero */
    static const float kv[8] = {1, 0, 2, 0, 3, 0, 0, 5};
    static const float sv[1] = {0};
    static const float cv[3] = {0, 1, 2};
    tu_tensor t[] = {{"kv", "F32", 3, {1, 2, 4}, kv, sizeof kv},
                     {"sv", "F32", 1, {1}, sv, sizeof sv},
                     {"cv", "F32", 4, {1, 3, 1, 1}, cv, sizeof cv}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(&m,
                       MODEL("{'name':'x','shape':[3,2,4]},{'name':'im','shape':[3,3,2,2]}",
                             "'p','q','r','e','ci','si'",
                             "{'op':'constant','inputs':[],'outputs':['k'],'weight':'kv'},"
                             "{'op':'constant','inputs':[],'outputs':['s'],'weight':'sv'},"
                             "{'op':'constant','inputs':[],'outputs':['c'],'weight':'cv'},"
                             "{'op':'mul','inputs':['k','x'],'outputs':['p']},"
                             "{'op':'add','inputs':['x','k'],'outputs':['q']},"
                             "{'op':'mul','inputs':['x','s'],'outputs':['r']},"
                             "{'op':'expand','inputs':['k'],'outputs':['e'],'shape':[2,4]},"
                             "{'op':'mul','inputs':['im','c'],'outputs':['ci']},"
                             "{'op':'mul','inputs':['s','im'],'outputs':['si']}"),
                       t, 3),
        SF_OK);
    ck_assert(tu_t(&m.g, "k")->is_const && tu_t(&m.g, "k")->dims[0] == 1);
    ck_assert(!tu_t(&m.g, "p")->is_const && tu_t(&m.g, "p")->dims[0] == 3);
    sf_spa_propagate(&m.g, 1);
    ZERO(&m.g, "k", "0100");
    ZERO(&m.g, "p", "0100"); /* 0 times x */
    ZERO(&m.g, "q", "0000"); /* x + 0 is x */
    ZERO(&m.g, "e", "0100"); /* expand keeps the zero channel */
    ZERO(&m.g, "ci", "100"); /* channel axis 1 of the image lines up with the constant's */
    ZERO(&m.g, "r", "1111"); /* x times a zero [1]: it lines up with the last axis */
    /* with an image, the [1]'s axis is not the channel axis: not counted zero */
    ZERO(&m.g, "si", "000");
    NEEDED(&m.g, "s", "1");
    tu_model_free(&m);
}
END_TEST

START_TEST(backward_unread_channel)
{
    /* fc2 never reads channel 2 of a; fc1 row 2 alone reads x[1] */
    static const float w1[12] = {1, 0, 1, 1, 0, 0, 0, 5, 0, 0, 0, 1};
    static const float w2[8] = {1, 1, 0, 1, 0, 2, 0, 3};
    tu_tensor t[] = {{"w1", "F32", 2, {4, 3}, w1, sizeof w1},
                     {"w2", "F32", 2, {2, 4}, w2, sizeof w2}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(
            &m,
            MODEL("{'name':'x','shape':[2,3]}", "'y'",
                  "{'op':'linear','name':'fc1','inputs':['x'],'outputs':['h'],'weight':'w1'},"
                  "{'op':'relu','inputs':['h'],'outputs':['a']},"
                  "{'op':'linear','name':'fc2','inputs':['a'],'outputs':['y'],'weight':'w2'}"),
            t, 2),
        SF_OK);
    sf_spa_propagate(&m.g, 1);
    ZERO(&m.g, "h", "0000");
    NEEDED(&m.g, "y", "11");
    NEEDED(&m.g, "a", "1101");
    NEEDED(&m.g, "h", "1101"); /* through relu */
    NEEDED(&m.g, "x", "101");  /* only the unneeded row 2 reads x[1] */
    tu_model_free(&m);
}
END_TEST

START_TEST(backward_zero_rows_read_nothing)
{
    /* fc1 row 1 is zero, so fc2 row 0 (reading only h[1]) is zero too, and
     * no one needs what fc2 row 0 would have read */
    static const float w1[6] = {1, 0, 0, 0, 0, 1};
    static const float w2[6] = {0, 3, 0, 1, 0, 0};
    tu_tensor t[] = {{"w1", "F32", 2, {3, 2}, w1, sizeof w1},
                     {"w2", "F32", 2, {2, 3}, w2, sizeof w2}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(&m,
                       MODEL("{'name':'x','shape':[2,2]}", "'y'",
                             "{'op':'linear','inputs':['x'],'outputs':['h'],'weight':'w1'},"
                             "{'op':'linear','inputs':['h'],'outputs':['y'],'weight':'w2'}"),
                       t, 2),
        SF_OK);
    sf_spa_propagate(&m.g, 1);
    ZERO(&m.g, "h", "010");
    ZERO(&m.g, "y", "10");
    NEEDED(&m.g, "y", "11"); /* outputs: needed even where zero */
    NEEDED(&m.g, "h", "100");
    NEEDED(&m.g, "x", "10");
    tu_model_free(&m);
}
END_TEST

START_TEST(outputs_always_needed)
{
    /* h is a graph output and also feeds fc2, which reads only h[1] */
    static const float w1[6] = {1, 0, 0, 1, 0, 0};
    static const float w2[3] = {0, 1, 0};
    tu_tensor t[] = {{"w1", "F32", 2, {3, 2}, w1, sizeof w1},
                     {"w2", "F32", 2, {1, 3}, w2, sizeof w2}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(&m,
                       MODEL("{'name':'x','shape':[2,2]}", "'y','h'",
                             "{'op':'linear','inputs':['x'],'outputs':['h'],'weight':'w1'},"
                             "{'op':'linear','inputs':['h'],'outputs':['y'],'weight':'w2'}"),
                       t, 2),
        SF_OK);
    sf_spa_propagate(&m.g, 1);
    ZERO(&m.g, "h", "001");
    NEEDED(&m.g, "h", "111");
    NEEDED(&m.g, "x", "11");
    tu_model_free(&m);
}
END_TEST

START_TEST(several_consumers)
{
    static const float w1[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    static const float w2[4] = {1, 0, 0, 0};
    static const float w3[4] = {0, 0, 2, 0};
    tu_tensor t[] = {{"w1", "F32", 2, {4, 4}, w1, sizeof w1},
                     {"w2", "F32", 2, {1, 4}, w2, sizeof w2},
                     {"w3", "F32", 2, {1, 4}, w3, sizeof w3}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(&m,
                       MODEL("{'name':'x','shape':[2,4]}", "'y','z'",
                             "{'op':'linear','inputs':['x'],'outputs':['h'],'weight':'w1'},"
                             "{'op':'tanh','inputs':['h'],'outputs':['a']},"
                             "{'op':'linear','inputs':['a'],'outputs':['y'],'weight':'w2'},"
                             "{'op':'linear','inputs':['a'],'outputs':['z'],'weight':'w3'}"),
                       t, 3),
        SF_OK);
    sf_spa_propagate(&m.g, 1);
    NEEDED(&m.g, "a", "1010");
    NEEDED(&m.g, "h", "1010");
    NEEDED(&m.g, "x", "1010");
    tu_model_free(&m);
}
END_TEST

START_TEST(binary_backward)
{
    /* only channel 0 of s is read; add and mul pass the need to both sides */
    static const float wf[3] = {1, 0, 0};
    tu_tensor t[] = {{"wf", "F32", 2, {1, 3}, wf, sizeof wf}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(&m,
                       MODEL("{'name':'x','shape':[2,3]},{'name':'u','shape':[2,1]}", "'y'",
                             "{'op':'relu','inputs':['x'],'outputs':['a']},"
                             "{'op':'tanh','inputs':['x'],'outputs':['b']},"
                             "{'op':'add','inputs':['a','b'],'outputs':['s']},"
                             "{'op':'mul','inputs':['s','u'],'outputs':['p']},"
                             "{'op':'linear','inputs':['p'],'outputs':['y'],'weight':'wf'}"),
                       t, 1),
        SF_OK);
    sf_spa_propagate(&m.g, 1);
    NEEDED(&m.g, "p", "100");
    NEEDED(&m.g, "s", "100");
    NEEDED(&m.g, "a", "100");
    NEEDED(&m.g, "b", "100");
    NEEDED(&m.g, "u", "1");
    NEEDED(&m.g, "x", "100");
    tu_model_free(&m);
}
END_TEST

START_TEST(propagate_off)
{
    static const float w1[12] = {1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const float w2[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    tu_tensor t[] = {{"w1", "F32", 2, {4, 3}, w1, sizeof w1},
                     {"w2", "F32", 2, {2, 4}, w2, sizeof w2}};
    tu_model m;
    ck_assert_int_eq(
        tu_model_build(&m,
                       MODEL("{'name':'x','shape':[2,3]}", "'y'",
                             "{'op':'linear','inputs':['x'],'outputs':['h'],'weight':'w1'},"
                             "{'op':'sigmoid','inputs':['h'],'outputs':['a']},"
                             "{'op':'linear','inputs':['a'],'outputs':['y'],'weight':'w2'}"),
                       t, 2),
        SF_OK);
    sf_spa_propagate(&m.g, 1);
    ZERO(&m.g, "h", "0111");
    NEEDED(&m.g, "a", "1000");
    /* off: everything nonzero and needed, whatever ran before */
    sf_spa_propagate(&m.g, 0);
    for (int i = 0; i < m.g.ntensors; i++) {
        const sf_tensor *tt = &m.g.tensors[i];
        for (int64_t c = 0; c < sf_tensor_channels(tt); c++) {
            ck_assert_msg(!tt->zero[c], "%s[%lld] zero", tt->name, (long long)c);
            ck_assert_msg(tt->needed[c], "%s[%lld] not needed", tt->name, (long long)c);
        }
    }
    /* and on again gives the same answer as the first time */
    sf_spa_propagate(&m.g, 1);
    ZERO(&m.g, "h", "0111");
    ZERO(&m.g, "y", "01");
    NEEDED(&m.g, "a", "1000");
    tu_model_free(&m);
}
END_TEST

Suite *propagation_suite(void)
{
    Suite *s = suite_create("propagation");
    TCase *tc = tcase_create("forward");
    tcase_add_test(tc, linear_zero_rows_and_bias);
    tcase_add_test(tc, zero_input_channel_makes_zero_output);
    tcase_add_test(tc, activations);
    tcase_add_test(tc, add_and_mul);
    tcase_add_test(tc, broadcast_channels);
    tcase_add_test(tc, constant_channels);
    tcase_add_test(tc, table_zero_rules);
    suite_add_tcase(s, tc);
    tc = tcase_create("backward");
    tcase_add_test(tc, backward_unread_channel);
    tcase_add_test(tc, backward_zero_rows_read_nothing);
    tcase_add_test(tc, outputs_always_needed);
    tcase_add_test(tc, several_consumers);
    tcase_add_test(tc, binary_backward);
    tcase_add_test(tc, propagate_off);
    suite_add_tcase(s, tc);
    return s;
}
