/* suites.h - one Check suite per sfgen stage (tests/unit/test_*.c). */
#ifndef SF_TEST_SUITES_H
#define SF_TEST_SUITES_H

#include <check.h>

Suite *loader_suite(void);
Suite *verify_suite(void);
Suite *census_suite(void);
Suite *propagation_suite(void);
Suite *plan_suite(void);
Suite *template_suite(void);
Suite *pack_emit_suite(void);
Suite *output_suite(void);
Suite *runtime_suite(void);
Suite *alloc_suite(void);
Suite *sp24_suite(void);
Suite *ops_suite(void);
Suite *session_suite(void);
Suite *program_suite(void);
Suite *onnx_pb_suite(void);

#endif
