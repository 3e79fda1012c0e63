/* test_template.c - the template expander (template.c): sections, ${var}
 * substitution, literal dollars, and the internal errors when templates and
 * generator disagree. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "core/embedded.h"
#include "core/template.h"
#include "test_util.h"

static void setup(void)
{
    tu_diag_capture();
}
static void teardown(void)
{
    tu_diag_release();
}

static sf_tpl g_tpl; /* large: keep it off the stack */
static sf_vars g_vars;

static sf_status parse(const char *text)
{
    return sf_tpl_parse(&g_tpl, "t.c.in", text, strlen(text));
}

/* Expands `section`; returns the status, the text in out (static). */
static sf_status expand(const char *section, const char **out)
{
    static sf_buf b;
    sf_buf_free(&b);
    sf_buf_init(&b);
    sf_status s = sf_tpl_expand(&g_tpl, section, &g_vars, &b);
    *out = b.data ? b.data : "";
    return s;
}

static void expect(const char *section, const char *want)
{
    const char *got;
    ck_assert_int_eq(expand(section, &got), SF_OK);
    ck_assert_str_eq(got, want);
}

START_TEST(sections_parse)
{
    ck_assert_int_eq(parse("Preamble: ignored, even with ${vars} and //@@ inside a line.\n"
                           "//@@ head\n"
                           "int a;\n"
                           "//@@   spaced   \n"
                           "x\n"
                           "\n"
                           "#@@ make\n"
                           "all:\n"
                           "//@@ empty\n"
                           "//@@ last\n"
                           "no newline at the end"),
                     SF_OK);
    ck_assert_int_eq(g_tpl.nsections, 5);
    ck_assert_str_eq(g_tpl.sec[0].name, "head");
    ck_assert_str_eq(g_tpl.sec[1].name, "spaced");
    ck_assert_str_eq(g_tpl.sec[2].name, "make");
    ck_assert_str_eq(g_tpl.sec[3].name, "empty");
    ck_assert_str_eq(g_tpl.sec[4].name, "last");
    sf_vars_clear(&g_vars);
    expect("head", "int a;\n");
    expect("spaced", "x\n\n");
    expect("make", "all:\n");
    expect("empty", "");
    expect("last", "no newline at the end");
}
END_TEST

START_TEST(crlf_marker)
{
    ck_assert_int_eq(parse("//@@ a\r\nline\r\n//@@ b\r\n"), SF_OK);
    ck_assert_int_eq(g_tpl.nsections, 2);
    ck_assert_str_eq(g_tpl.sec[0].name, "a");
    ck_assert_str_eq(g_tpl.sec[1].name, "b");
    sf_vars_clear(&g_vars);
    expect("a", "line\r\n");
}
END_TEST

START_TEST(substitution)
{
    ck_assert_int_eq(parse("//@@ s\n"
                           "static void ${FN}_rb${RB}(float *y) { y[${R}] = ${W}; }\n"
                           "${A}${B}${A}\n"
                           "${LONG_NAME_2}\n"),
                     SF_OK);
    sf_vars_clear(&g_vars);
    ck_assert_int_eq(sf_vars_set(&g_vars, "FN", "%s", "mlp_l0_fc1"), 0);
    ck_assert_int_eq(sf_vars_set(&g_vars, "RB", "%d", 3), 0);
    ck_assert_int_eq(sf_vars_set(&g_vars, "R", "%d", 7), 0);
    ck_assert_int_eq(sf_vars_set(&g_vars, "W", "%.1ff", 2.5), 0);
    ck_assert_int_eq(sf_vars_set(&g_vars, "A", "<%s>", "a"), 0);
    ck_assert_int_eq(sf_vars_set(&g_vars, "B", "%s", ""), 0);
    ck_assert_int_eq(sf_vars_set(&g_vars, "LONG_NAME_2", "%s", "${A} stays as written"), 0);
    expect("s", "static void mlp_l0_fc1_rb3(float *y) { y[7] = 2.5f; }\n"
                "<a><a>\n"
                "${A} stays as written\n");
    /* expansion appends to what the buffer holds */
    sf_buf b;
    sf_buf_init(&b);
    sf_buf_printf(&b, "before|");
    ck_assert_int_eq(sf_tpl_expand(&g_tpl, "s", &g_vars, &b), SF_OK);
    ck_assert_int_eq(strncmp(b.data, "before|static void mlp_l0", 25), 0);
    sf_buf_free(&b);
}
END_TEST

START_TEST(dollar_literals)
{
    ck_assert_int_eq(parse("#@@ make\n"
                           "$(CC) -o $@ $^ $$HOME $$$$ $${X} cost: 5$\n"
                           "#@@ tail\n"
                           "end $"),
                     SF_OK);
    sf_vars_clear(&g_vars);
    ck_assert_int_eq(sf_vars_set(&g_vars, "X", "x"), 0);
    expect("make", "$(CC) -o $@ $^ $HOME $$ ${X} cost: 5$\n");
    expect("tail", "end $");
}
END_TEST

START_TEST(unknown_variable)
{
    ck_assert_int_eq(parse("//@@ s\nint ${KNOWN} = ${MISSING};\n//@@ u\nx ${UNTERMINATED\n"),
                     SF_OK);
    sf_vars_clear(&g_vars);
    sf_vars_set(&g_vars, "KNOWN", "k");
    const char *out;
    tu_diag_capture();
    ck_assert_int_eq(expand("s", &out), SF_EINTERNAL);
    TU_ASSERT_DIAG("MISSING");
    TU_ASSERT_DIAG("t.c.in");
    ck_assert_int_eq(expand("u", &out), SF_EINTERNAL);
    ck_assert_int_eq(expand("s", &out), SF_EINTERNAL);
    /* no variables at all */
    sf_buf b;
    sf_buf_init(&b);
    ck_assert_int_eq(sf_tpl_expand(&g_tpl, "s", NULL, &b), SF_EINTERNAL);
    sf_buf_free(&b);
    /* ${} names no variable */
    ck_assert_int_eq(parse("//@@ e\n${}\n"), SF_OK);
    ck_assert_int_eq(expand("e", &out), SF_EINTERNAL);
}
END_TEST

START_TEST(unknown_section)
{
    ck_assert_int_eq(parse("//@@ a\nx\n"), SF_OK);
    sf_vars_clear(&g_vars);
    const char *out;
    tu_diag_capture();
    ck_assert_int_eq(expand("b", &out), SF_EINTERNAL);
    TU_ASSERT_DIAG("'b'");
    ck_assert_int_eq(expand("", &out), SF_EINTERNAL);
    ck_assert_int_eq(expand("A", &out), SF_EINTERNAL); /* names are case-sensitive */
}
END_TEST

START_TEST(bad_sections)
{
    tu_diag_capture();
    ck_assert_int_eq(parse("//@@ a\nx\n//@@ b\ny\n//@@ a\nz\n"), SF_EINTERNAL);
    TU_ASSERT_DIAG("'a'");
    ck_assert_int_eq(parse("//@@ a\nx\n#@@ a\n"), SF_EINTERNAL);
    ck_assert_int_eq(parse("//@@\nx\n"), SF_EINTERNAL); /* no name */
    ck_assert_int_eq(parse("//@@    \nx\n"), SF_EINTERNAL);
    /* a 47-character name fits, 48 does not */
    char text[256];
    snprintf(text, sizeof text, "//@@ %047d\nx\n", 0);
    ck_assert_int_eq(parse(text), SF_OK);
    snprintf(text, sizeof text, "//@@ %048d\nx\n", 0);
    ck_assert_int_eq(parse(text), SF_EINTERNAL);
    /* too many sections */
    char *many = malloc(64 * (SF_TPL_MAX_SECTIONS + 1));
    many[0] = 0;
    for (int i = 0; i < SF_TPL_MAX_SECTIONS; i++)
        sprintf(many + strlen(many), "//@@ s%d\n", i);
    ck_assert_int_eq(parse(many), SF_OK);
    sprintf(many + strlen(many), "//@@ s%d\n", SF_TPL_MAX_SECTIONS);
    ck_assert_int_eq(parse(many), SF_EINTERNAL);
    free(many);
}
END_TEST

START_TEST(vars_set)
{
    sf_vars_clear(&g_vars);
    ck_assert_int_eq(g_vars.n, 0);
    ck_assert_int_eq(sf_vars_set(&g_vars, "A", "%d", 1), 0);
    ck_assert_int_eq(sf_vars_set(&g_vars, "B", "%d", 2), 0);
    ck_assert_int_eq(sf_vars_set(&g_vars, "A", "%s", "one"), 0); /* replace */
    ck_assert_int_eq(g_vars.n, 2);
    ck_assert_int_eq(parse("//@@ s\n${A}${B}\n"), SF_OK);
    expect("s", "one2\n");

    /* value: 255 characters fit, 256 do not */
    char v[300];
    memset(v, 'v', sizeof v);
    v[255] = 0;
    ck_assert_int_eq(sf_vars_set(&g_vars, "V", "%s", v), 0);
    v[255] = 'v';
    v[256] = 0;
    ck_assert_int_eq(sf_vars_set(&g_vars, "V", "%s", v), -1);
    /* key: 31 characters fit, 32 do not */
    char k[40];
    memset(k, 'k', sizeof k);
    k[31] = 0;
    ck_assert_int_eq(sf_vars_set(&g_vars, k, "x"), 0);
    k[31] = 'k';
    k[32] = 0;
    ck_assert_int_eq(sf_vars_set(&g_vars, k, "x"), -1);

    /* table: SF_TPL_MAX_VARS variables, then overflow; replacing still works */
    sf_vars_clear(&g_vars);
    for (int i = 0; i < SF_TPL_MAX_VARS; i++) {
        char key[16];
        snprintf(key, sizeof key, "K%d", i);
        ck_assert_int_eq(sf_vars_set(&g_vars, key, "%d", i), 0);
    }
    ck_assert_int_eq(sf_vars_set(&g_vars, "ONE_MORE", "x"), -1);
    ck_assert_int_eq(g_vars.n, SF_TPL_MAX_VARS);
    ck_assert_int_eq(sf_vars_set(&g_vars, "K7", "seven"), 0);
    ck_assert_int_eq(parse("//@@ s\n${K0}/${K7}/${K95}\n"), SF_OK);
    expect("s", "0/seven/95\n");
}
END_TEST

START_TEST(embedded_templates_parse)
{
    /* every template compiled into sfgen parses, has sections and no duplicates */
    int n = 0;
    for (const sf_embedded_file *f = sf_embedded_files; f->path; f++) {
        if (strncmp(f->path, "templates/", 10) != 0)
            continue;
        n++;
        ck_assert_msg(parse((const char *)f->data) == SF_OK, "%s does not parse", f->path);
        ck_assert_msg(g_tpl.nsections > 0, "%s has no sections", f->path);
        ck_assert_uint_eq(strlen((const char *)f->data), f->len);
    }
    ck_assert_int_ge(n, 10);
    ck_assert_ptr_nonnull(sf_embedded_find("templates/banner.in"));
    ck_assert_ptr_nonnull(sf_embedded_find("runtime/cpu/sf_ops.c"));
    ck_assert_ptr_null(sf_embedded_find("templates/nope.in"));
}
END_TEST

/* ---- loops and conditionals ------------------------------------------------ */

static void add_item(const char *list, const char *name, const char *dims)
{
    ck_assert_int_eq(sf_vars_item(&g_vars, list), 0);
    ck_assert_int_eq(sf_vars_item_set(&g_vars, list, "NAME", "%s", name), 0);
    if (dims)
        ck_assert_int_eq(sf_vars_item_set(&g_vars, list, "DIMS", "%s", dims), 0);
}

START_TEST(for_and_if)
{
    ck_assert_int_eq(parse("//@@ s\n"
                           "int f(\n"
                           "$for T in INS\n"
                           "    const float *${T.NAME}, /* [${T.DIMS}] of ${M} */\n"
                           "$endfor\n"
                           "    int batch);\n"
                           "  $if CACHE\n"
                           "cache ${CACHE}\n"
                           "  $else\n"
                           "no cache\n"
                           "  $endif\n"
                           "$if !CACHE\n"
                           "negated\n"
                           "$endif\n"
                           "$for A in INS\n"
                           "$for B in OUTS\n"
                           "${A.NAME}x${B.NAME}$if A.DIMS\n"
                           "$if B.DIMS\n"
                           "!\n"
                           "$endif\n"
                           "$endfor\n"
                           "$endfor\n"
                           "$for T in EMPTY\n"
                           "never\n"
                           "$endfor\n"),
                     SF_OK);
    sf_vars_clear(&g_vars);
    sf_vars_set(&g_vars, "M", "m");
    sf_vars_set(&g_vars, "CACHE", "0");
    ck_assert_int_eq(sf_vars_list(&g_vars, "INS"), 0);
    ck_assert_int_eq(sf_vars_list(&g_vars, "OUTS"), 0);
    ck_assert_int_eq(sf_vars_list(&g_vars, "EMPTY"), 0);
    add_item("INS", "x", "B, 4");
    add_item("INS", "ids", "B");
    add_item("OUTS", "y", "");
    add_item("OUTS", "z", "1");
    expect("s", "int f(\n"
                "    const float *x, /* [B, 4] of m */\n"
                "    const float *ids, /* [B] of m */\n"
                "    int batch);\n"
                "no cache\n"
                "negated\n"
                "xxy$if A.DIMS\nxxz$if A.DIMS\n!\nidsxy$if A.DIMS\nidsxz$if A.DIMS\n!\n");
    /* values of any length; re-creating a list empties it */
    char big[1000];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ck_assert_int_eq(sf_vars_list(&g_vars, "INS"), 0);
    add_item("INS", big, "1");
    sf_vars_set(&g_vars, "CACHE", "8");
    const char *got;
    ck_assert_int_eq(expand("s", &got), SF_OK);
    ck_assert_ptr_nonnull(strstr(got, big));
    ck_assert_ptr_nonnull(strstr(got, "cache 8\n"));
    ck_assert_ptr_null(strstr(got, "const float *x"));
    sf_vars_clear(&g_vars);
}
END_TEST

START_TEST(directive_errors)
{
    static const char *const bad[][2] = {
        {"//@@ s\n$for T in INS\nx\n", "unterminated '$for'"},
        {"//@@ s\n$if C\nx\n$endfor\n", "mismatched '$endfor'"},
        {"//@@ s\nx\n$endif\n", "unbalanced '$endif'"},
        {"//@@ s\n$for T in NOPE\n$endfor\n", "no list 'NOPE'"},
        {"//@@ s\n$for T of INS\n$endfor\n", "expected '$for NAME in LIST'"},
        {"//@@ s\n$if MISSING\n$endif\n", "no value for condition 'MISSING'"},
        {"//@@ s\n$for T in INS\n${T.NOKEY}\n$endfor\n", "no value for ${T.NOKEY}"},
        {"//@@ s\n$for T in INS\n$else\n$endfor\n", "misplaced '$else'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sf_vars_clear(&g_vars);
        sf_vars_set(&g_vars, "C", "1");
        ck_assert_int_eq(sf_vars_list(&g_vars, "INS"), 0);
        add_item("INS", "x", NULL);
        ck_assert_int_eq(parse(bad[i][0]), SF_OK);
        tu_diag_capture();
        const char *got;
        ck_assert_int_eq(expand("s", &got), SF_EINTERNAL);
        ck_assert_msg(strstr(tu_diag(), bad[i][1]) && strstr(tu_diag(), "t.c.in"), "case %zu: %s",
                      i, tu_diag());
    }
    sf_vars_clear(&g_vars);
    ck_assert_int_eq(sf_vars_item(&g_vars, "NOLIST"), -1);
    ck_assert_int_eq(sf_vars_item_set(&g_vars, "NOLIST", "K", "v"), -1);
}
END_TEST

Suite *template_suite(void)
{
    Suite *s = suite_create("template");
    TCase *tc = tcase_create("template");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sections_parse);
    tcase_add_test(tc, crlf_marker);
    tcase_add_test(tc, substitution);
    tcase_add_test(tc, dollar_literals);
    tcase_add_test(tc, unknown_variable);
    tcase_add_test(tc, unknown_section);
    tcase_add_test(tc, bad_sections);
    tcase_add_test(tc, vars_set);
    tcase_add_test(tc, embedded_templates_parse);
    tcase_add_test(tc, for_and_if);
    tcase_add_test(tc, directive_errors);
    suite_add_tcase(s, tc);
    return s;
}
