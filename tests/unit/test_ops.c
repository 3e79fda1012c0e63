/* test_ops.c - the op table (generator/ir/ops.def): every op has a family
 * with a shape rule and a step; every template section a step may expand
 * exists in each backend's model template; every elementwise op's runtime
 * function is implemented by each backend's runtime. */
#include <stdio.h>
#include <string.h>

#include "core/embedded.h"
#include "core/template.h"
#include "ir/op.h"
#include "suites.h"

/* The model template of each backend: where the op steps are written. */
static const char *const k_backend_templates[] = {"templates/cpu/model.c.in",
                                                  "templates/cuda/model.cu.in"};
/* Where each backend implements the elementwise functions. */
static const char *const k_backend_runtimes[] = {"runtime/cpu/", "runtime/cuda/"};

START_TEST(every_op_has_a_family)
{
    for (int op = 0; op < SF_OP_COUNT; op++) {
        const sf_op_def *d = sf_op_get((sf_op)op);
        ck_assert_msg(d->name && d->family, "op %d has no name or family", op);
        ck_assert_msg(d->family->shape && d->family->step && d->family->sections &&
                          (d->family->sections[0] || d->family->step == sf_family_linear.step),
                      "op %s: family %s lacks a shape rule, a step or its sections", d->name,
                      d->family->name);
        ck_assert_msg(d->in_min >= (op == SF_OP_CONSTANT ? 0 : 1) && d->in_min <= d->in_max &&
                          d->in_max <= SF_MAX_NODE_IN,
                      "op %s: arity %d..%d", d->name, d->in_min, d->in_max);
        ck_assert_int_eq(sf_op_lookup(d->name) == op || op == SF_OP_BMM, 1);
        for (const char *const *k = d->attrs; k && *k; k++)
            ck_assert_ptr_eq(sf_op_attr_key(*k), sf_op_attr_key(*k));
    }
    ck_assert_int_eq(sf_op_lookup("matmul"), SF_OP_LINEAR);
    ck_assert_int_eq(sf_op_lookup("gather"), SF_OP_EMBEDDING);
    ck_assert_int_eq(sf_op_lookup("nope"), -1);
}
END_TEST

/* _i: the backend */
START_TEST(every_op_has_a_step_in_each_backend)
{
    const sf_embedded_file *f = sf_embedded_find(k_backend_templates[_i]);
    ck_assert_ptr_nonnull(f);
    static sf_tpl t;
    ck_assert_int_eq(sf_tpl_parse(&t, f->path, (const char *)f->data, f->len), SF_OK);
    for (int op = 0; op < SF_OP_COUNT; op++) {
        const sf_op_family *fam = sf_op_get((sf_op)op)->family;
        for (const char *const *s = fam->sections; *s; s++) {
            int found = 0;
            for (int i = 0; i < t.nsections && !found; i++)
                found = strcmp(t.sec[i].name, *s) == 0;
            ck_assert_msg(found, "op %s: %s has no section '%s' (family %s)",
                          sf_op_get((sf_op)op)->name, f->path, *s, fam->name);
        }
    }
}
END_TEST

/* _i: the backend */
START_TEST(every_elementwise_op_is_in_each_runtime)
{
    const char *dir = k_backend_runtimes[_i];
    for (int op = 0; op < SF_OP_COUNT; op++) {
        const sf_op_def *d = sf_op_get((sf_op)op);
        if (!d->runtime)
            continue;
        /* implemented: a `case NAME:` in one of the backend's runtime sources */
        char want[96];
        snprintf(want, sizeof want, "case %s:", d->runtime);
        int found = 0;
        for (const sf_embedded_file *e = sf_embedded_files; e->path && !found; e++)
            found = strncmp(e->path, dir, strlen(dir)) == 0 && strstr((const char *)e->data, want);
        ck_assert_msg(found, "op %s: no '%s' in %s", d->name, want, dir);
    }
}
END_TEST

Suite *ops_suite(void)
{
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, every_op_has_a_family);
    tcase_add_loop_test(tc, every_op_has_a_step_in_each_backend, 0, 2);
    tcase_add_loop_test(tc, every_elementwise_op_is_in_each_runtime, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}
