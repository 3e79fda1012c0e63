/* test_session.c - the public C API (include/sparseflow.h): sessions keep
 * their own options, diagnostics and allocation hook, and run side by side
 * on different threads with the same results as one at a time. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sparseflow.h"
#include "suites.h"
#include "test_util.h"

#define MODEL "tests/golden/tiny.json"

typedef struct {
    char lines[4096];
    int n;
} sink_buf;

static void sink(const char *line, void *ctx)
{
    sink_buf *b = ctx;
    size_t used = strlen(b->lines);
    snprintf(b->lines + used, sizeof b->lines - used, "%s\n", line);
    b->n++;
}

START_TEST(options_checked)
{
    sf_session *s = sf_session_new();
    sink_buf b = {{0}, 0};
    sf_session_set_sink(s, sink, &b);
    ck_assert_int_eq(sf_session_option(s, "--threads", "4"), SF_OK);
    ck_assert_int_eq(sf_session_option(s, "--dense", NULL), SF_OK);
    ck_assert_int_eq(sf_session_option(s, "--threads", "0"), SF_EUSAGE);
    ck_assert_int_eq(sf_session_option(s, "--target", "tpu"), SF_EUSAGE);
    ck_assert_int_eq(sf_session_option(s, "--bogus", NULL), SF_EUSAGE);
    ck_assert_int_eq(sf_session_option(s, "--dense", "1"), SF_EUSAGE);
    ck_assert_int_eq(sf_session_option(s, "-o", "x"), SF_EUSAGE);
    ck_assert_int_eq(sf_session_errors(s), 5);
    ck_assert_int_eq(b.n, 5);
    ck_assert_ptr_nonnull(strstr(sf_session_last_error(s), "'-o'"));
    ck_assert_ptr_nonnull(strstr(b.lines, "unknown option '--bogus'"));
    sf_session_free(s);
}
END_TEST

START_TEST(inspect_text_and_json)
{
    sf_session *s = sf_session_new();
    char *text = NULL, *json = NULL;
    ck_assert_int_eq(sf_session_inspect(s, MODEL, 0, &text), SF_OK);
    ck_assert_int_eq(sf_session_inspect(s, MODEL, 1, &json), SF_OK);
    ck_assert_ptr_nonnull(strstr(text, "fc1"));
    ck_assert_ptr_nonnull(strstr(json, "\"arena_bytes\"")); /* planned before any emit */
    ck_assert_int_eq(json[0], '{');
    ck_assert_int_eq(sf_session_errors(s), 0);
    sf_text_free(text);
    sf_text_free(json);
    sf_session_free(s);
}
END_TEST

START_TEST(errors_stay_in_their_session)
{
    tu_diag_capture(); /* this thread's own context, outside any session */
    sf_session *a = sf_session_new(), *b = sf_session_new();
    sink_buf ba = {{0}, 0}, bb = {{0}, 0};
    sf_session_set_sink(a, sink, &ba);
    sf_session_set_sink(b, sink, &bb);
    char *text = NULL;
    ck_assert_int_eq(sf_session_inspect(a, "no/such/model.json", 0, &text), SF_EINPUT);
    ck_assert_ptr_null(text);
    ck_assert_int_eq(sf_session_inspect(b, MODEL, 0, &text), SF_OK);
    sf_text_free(text);
    ck_assert_int_eq(sf_session_errors(a), 1);
    ck_assert_int_eq(sf_session_errors(b), 0);
    ck_assert_ptr_nonnull(strstr(ba.lines, "model.json: cannot open"));
    ck_assert_str_eq(bb.lines, "");
    ck_assert_str_eq(sf_session_last_error(b), "");
    ck_assert_int_eq(tu_diag_lines(), 0); /* saw none of the sessions' messages */
    tu_diag_release();
    sf_session_free(a);
    sf_session_free(b);
}
END_TEST

static void *fail_all(size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    return NULL;
}

START_TEST(alloc_hook_per_session)
{
    sf_session *s = sf_session_new(), *ok = sf_session_new();
    sink_buf b = {{0}, 0};
    sf_session_set_sink(s, sink, &b);
    sf_session_set_alloc_hook(s, fail_all, NULL);
    char *text = NULL;
    ck_assert_int_eq(sf_session_inspect(s, MODEL, 1, &text), SF_EINTERNAL);
    ck_assert_ptr_nonnull(strstr(b.lines, "out of memory"));
    ck_assert_int_eq(sf_session_inspect(ok, MODEL, 1, &text), SF_OK); /* unaffected */
    sf_text_free(text);
    sf_session_free(s);
    sf_session_free(ok);
}
END_TEST

/* Threads each generate the model in their own session and folder, half of
 * them also failing on a bad model first: every output equals the one made
 * alone, and every session counts only its own errors. */
typedef struct {
    char dir[512];
    int bad;
    sf_status st;
    int errors;
    char *c_file;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    sf_session *s = sf_session_new();
    sink_buf b = {{0}, 0};
    sf_session_set_sink(s, sink, &b);
    sf_session_option(s, "--kernel", "nm_compressed");
    for (int rep = 0; rep < 3; rep++) {
        if (j->bad)
            sf_session_generate(s, "no/such.json", j->dir);
        j->st = sf_session_generate(s, MODEL, j->dir);
    }
    j->errors = sf_session_errors(s);
    char path[600];
    snprintf(path, sizeof path, "%s/tiny.c", j->dir);
    j->c_file = tu_read_file(path, NULL);
    sf_session_free(s);
    return NULL;
}

START_TEST(sessions_on_threads)
{
    enum { N = 6 };
    char root[400];
    tu_mkdtemp(root, sizeof root);
    job jobs[N + 1];
    pthread_t th[N];
    memset(jobs, 0, sizeof jobs);
    snprintf(jobs[N].dir, sizeof jobs[N].dir, "%s/alone", root);
    run_job(&jobs[N]);
    ck_assert_int_eq(jobs[N].st, SF_OK);
    ck_assert_ptr_nonnull(jobs[N].c_file);
    for (int i = 0; i < N; i++) {
        snprintf(jobs[i].dir, sizeof jobs[i].dir, "%s/t%d", root, i);
        jobs[i].bad = i % 2;
        ck_assert_int_eq(pthread_create(&th[i], NULL, run_job, &jobs[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(jobs[i].st, SF_OK);
        ck_assert_int_eq(jobs[i].errors, jobs[i].bad ? 3 : 0);
        ck_assert_ptr_nonnull(jobs[i].c_file);
        ck_assert_str_eq(jobs[i].c_file, jobs[N].c_file);
        free(jobs[i].c_file);
    }
    free(jobs[N].c_file);
    tu_rmrf(root);
}
END_TEST

/* The library honours the output folder's rule like sfgen: a non-empty
 * folder sfgen did not write needs ("--force", NULL). */
START_TEST(force_through_the_library)
{
    char root[400], out[500];
    tu_mkdtemp(root, sizeof root);
    snprintf(out, sizeof out, "%s/app", root);
    ck_assert_int_eq(mkdir(out, 0777), 0);
    ck_assert_int_eq(tu_write_file(out, "Makefile", "mine:\n", 6), 0);
    sf_session *s = sf_session_new();
    sink_buf b = {{0}, 0};
    sf_session_set_sink(s, sink, &b);
    ck_assert_int_eq(sf_session_generate(s, MODEL, out), SF_EINPUT);
    ck_assert_ptr_nonnull(strstr(sf_session_last_error(s), "--force"));
    ck_assert_int_eq(tu_count_entries(out), 1);
    ck_assert_int_eq(sf_session_option(s, "--gpu-kernel", "sp24"), SF_OK);
    ck_assert_int_eq(sf_session_generate(s, MODEL, out), SF_EUSAGE); /* no --target cuda */
    sf_session_free(s);
    s = sf_session_new();
    sf_session_set_sink(s, sink, &b);
    ck_assert_int_eq(sf_session_option(s, "--force", NULL), SF_OK);
    ck_assert_int_eq(sf_session_generate(s, MODEL, out), SF_OK);
    ck_assert_int_gt(tu_count_entries(out), 5);
    sf_session_free(s);
    tu_rmrf(root);
}
END_TEST

Suite *session_suite(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, options_checked);
    tcase_add_test(tc, inspect_text_and_json);
    tcase_add_test(tc, errors_stay_in_their_session);
    tcase_add_test(tc, alloc_hook_per_session);
    tcase_add_test(tc, sessions_on_threads);
    tcase_add_test(tc, force_through_the_library);
    suite_add_tcase(s, tc);
    return s;
}
