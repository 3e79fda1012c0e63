/* test_main.c - runs every unit-test suite (make test-unit). One suite per
 * stage of sfgen; CK_RUN_SUITE=name / CK_RUN_CASE=name select a subset. */
#include "suites.h"

#include <stdlib.h>

int main(void)
{
    SRunner *sr = srunner_create(loader_suite());
    srunner_add_suite(sr, verify_suite());
    srunner_add_suite(sr, census_suite());
    srunner_add_suite(sr, propagation_suite());
    srunner_add_suite(sr, plan_suite());
    srunner_add_suite(sr, template_suite());
    srunner_add_suite(sr, pack_emit_suite());
    srunner_add_suite(sr, output_suite());
    srunner_add_suite(sr, runtime_suite());
    srunner_add_suite(sr, alloc_suite());
    srunner_add_suite(sr, sp24_suite());
    srunner_add_suite(sr, ops_suite());
    srunner_add_suite(sr, session_suite());
    srunner_add_suite(sr, program_suite());
    srunner_add_suite(sr, onnx_pb_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
