/* test_program.c - the generated program's runtime side: the .npy header
 * grammar (sf_npy.c), what it agrees to read, atomic writes, and sf_main's
 * --profile table and --bench noise warning, driven by a fake model. */
#define _POSIX_C_SOURCE 200809L
#include "sf_main.h"
#include "sf_npy.h"
#include "suites.h"
#include "test_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char g_dir[256];
static void setup(void)
{
    tu_mkdtemp(g_dir, sizeof g_dir);
}
static void teardown(void)
{
    tu_rmrf(g_dir);
}

/* An .npy v1 image in buf with header dict `dict` and `nfloat` floats. */
static size_t npy_image(unsigned char *buf, size_t cap, const char *dict, size_t nfloat)
{
    size_t n = strlen(dict), pad = (64 - (10 + n + 1) % 64) % 64, hlen = n + pad + 1;
    ck_assert_uint_le(10 + hlen + 4 * nfloat, cap);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, ' ', pad);
    buf[10 + hlen - 1] = '\n';
    memset(buf + 10 + hlen, 0, 4 * nfloat);
    return 10 + hlen + 4 * nfloat;
}

/* Parses `dict` with `nfloat` data floats; returns 0 if accepted. */
static int parse(const char *dict, size_t nfloat, sf_npy *a, char *err, size_t errlen)
{
    static unsigned char buf[4096];
    size_t len = npy_image(buf, sizeof buf, dict, nfloat);
    int rc = sf_npy_parse("h.npy", buf, len, a, err, errlen);
    if (rc == 0)
        free(a->data);
    return rc;
}

START_TEST(npy_header_grammar_accepts)
{
    static const struct {
        const char *dict;
        int rank;
        size_t numel;
    } ok[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 2, 6},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3,)}", 2, 6},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 1, 5},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': ()}", 0, 1},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", 2, 0},
        {"{\"shape\":(2,3),\"descr\":\"<f4\",\"fortran_order\":False}", 2, 6},
        {"{\t'fortran_order' :\tFalse ,\n 'shape' : ( 2 , 3 ) , 'descr' : '<f4' , }", 2, 6},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        sf_npy a;
        char err[256] = "";
        ck_assert_msg(parse(ok[i].dict, ok[i].numel, &a, err, sizeof err) == 0, "%s: %s",
                      ok[i].dict, err);
        ck_assert_int_eq(a.rank, ok[i].rank);
        ck_assert_uint_eq(a.numel, ok[i].numel);
    }
}
END_TEST

START_TEST(npy_header_grammar_rejects)
{
    static const struct {
        const char *dict, *frag;
    } bad[] = {
        /* a decoy string holding a header, then the real (f8) descr */
        {"{'zz': \"'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), \", "
         "'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }",
         "'zz'"},
        {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2, 3), }", "fortran_order"},
        {"{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3), }", "fortran_order"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }", "fortran_order"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3), }", "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }", "shape"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", "trailing comma"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (,), }", "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3,,), }", "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }", "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, +3), }", "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 03), }", "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3L), }", "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1_0), }", "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0x3), }", "dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], }", "tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'shape': (6,)}", "twice"},
        {"{'descr': '<f4', 'fortran_order': False}", "'shape'"},
        {"{'descr': '<f4', 'shape': (2, 3)}", "'fortran_order'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } junk", "after"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "'}'"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}", "','"},
        {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2, 3)}", "escape"},
        {"{'descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}", "key"},
        {"{descr: '<f4', 'fortran_order': False, 'shape': (2, 3)}", "quoted"},
        {"{'descr': '<f4 ', 'fortran_order': False, 'shape': (2, 3)}", "dtype"},
        {"'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "'{'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sf_npy a;
        char err[256] = "";
        ck_assert_msg(parse(bad[i].dict, 6, &a, err, sizeof err) == -1, "accepted: %s",
                      bad[i].dict);
        ck_assert_ptr_null(a.data);
        ck_assert_msg(strstr(err, "h.npy") && strstr(err, bad[i].frag), "%s: '%s' not in: %s",
                      bad[i].dict, bad[i].frag, err);
    }
}
END_TEST

/* A FIFO nobody writes to, a folder and /dev/zero fail at once, naming the
 * file; a file whose size disagrees with its header fails before its data is
 * read. */
START_TEST(npy_reads_regular_files_only)
{
    char path[512], err[256];
    sf_npy a;
    snprintf(path, sizeof path, "%s/fifo.npy", g_dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(sf_npy_read(path, &a, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "fifo.npy: not a regular file"), "%s", err);
    ck_assert_int_eq(sf_npy_read(g_dir, &a, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "not a regular file"), "%s", err);
    ck_assert_int_eq(sf_npy_read("/dev/zero", &a, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "/dev/zero: not a regular file"), "%s", err);

    /* declared 2 floats, 256 MiB present (sparse): rejected by its size */
    unsigned char buf[256];
    size_t len =
        npy_image(buf, sizeof buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 2);
    ck_assert_int_eq(tu_write_file(g_dir, "long.npy", buf, len), 0);
    snprintf(path, sizeof path, "%s/long.npy", g_dir);
    ck_assert_int_eq(truncate(path, (off_t)256 << 20), 0);
    ck_assert_int_eq(sf_npy_read(path, &a, err, sizeof err), -1);
    ck_assert_msg(strstr(err, "longer than its shape"), "%s", err);
    ck_assert_ptr_null(a.data);
}
END_TEST

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

/* sf_npy_write replaces a file whole and leaves no temporary behind. */
START_TEST(npy_write_replaces_whole)
{
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/o.npy", g_dir);
    ck_assert_int_eq(tu_write_file(g_dir, "o.npy", "old", 3), 0);
    float v[3] = {1, 2, 3};
    int64_t d = 3;
    ck_assert_msg(sf_npy_write(path, v, 1, &d, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(count_entries(g_dir), 1);
    sf_npy a;
    ck_assert_msg(sf_npy_read(path, &a, err, sizeof err) == 0, "%s", err);
    ck_assert(a.numel == 3 && a.data[2] == 3.0f);
    free(a.data);
    /* a temporary that cannot be created: the old file stays */
    char tmp[600];
    snprintf(path, sizeof path, "%s/no/o.npy", g_dir);
    ck_assert_int_eq(sf_npy_write_temp(path, v, 1, &d, tmp, sizeof tmp, err, sizeof err), -1);
    ck_assert_str_eq(tmp, "");
    ck_assert_int_eq(count_entries(g_dir), 1);
}
END_TEST

/* ---- sf_main on a fake model ------------------------------------------------------------- */

static const char *const fk_names[] = {"embed", "a_layer_with_a_name_far_longer_than_the_column",
                                       "head"};
static const char *const fk_kernels[] = {"embedding", "nm_compressed_2:4_long_kernel", "dense"};
static const double fk_flops[] = {10, 2000, 300};
static int fk_calls;

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1e3), (long)((ms - 1e3 * (long)(ms / 1e3)) * 1e6)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Copies in to out; after the 3 warm-up runs, runs 9 and 10 of 10 are slow. */
static int fk_run(const float *const *in, float *const *out, int batch, void *arena,
                  double *step_ms, float *cache, int cache_len)
{
    (void)arena, (void)cache, (void)cache_len;
    int call = fk_calls++;
    memcpy(out[0], in[0], sizeof(float) * 4 * (size_t)batch);
    if (step_ms)
        for (int s = 0; s < 3; s++)
            step_ms[s] += 0.5 * (s + 1);
    sleep_ms(call >= 11 ? 40.0 : 1.0);
    return 0;
}

static const char *fk_strerror(int code)
{
    return code ? "error" : "ok";
}

static const sf_io_desc fk_in[] = {{"x", 2, {2, 4}, 0}}, fk_out[] = {{"y", 2, {2, 4}, 0}};
static const sf_model_desc fk_model = {
    .name = "fake",
    .inputs = fk_in,
    .outputs = fk_out,
    .nin = 1,
    .nout = 1,
    .max_batch = 2,
    .arena_bytes = 64,
    .default_threads = 1,
    .nsteps = 3,
    .step_names = fk_names,
    .step_kernels = fk_kernels,
    .step_flops = fk_flops,
    .run = fk_run,
    .strerror = fk_strerror,
};

/* Runs sf_main with argv, stdout and stderr captured into *out and *err. */
static int run_main(int argc, char **argv, char **out, char **err)
{
    char po[512], pe[512];
    snprintf(po, sizeof po, "%s/stdout", g_dir);
    snprintf(pe, sizeof pe, "%s/stderr", g_dir);
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600),
        fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert(so >= 0 && se >= 0 && fo >= 0 && fe >= 0);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = sf_main(argc, argv, &fk_model);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(fo), close(fe), close(so), close(se);
    size_t n;
    *out = tu_read_file(po, &n);
    *err = tu_read_file(pe, &n);
    return rc;
}

/* Every line of the --profile table has the same length: the columns line
 * up however long a step's name or kernel is. */
START_TEST(profile_columns_aligned)
{
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/x.npy", g_dir);
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int64_t dims[2] = {2, 4};
    ck_assert_msg(sf_npy_write(path, x, 2, dims, err, sizeof err) == 0, "%s", err);
    char *argv[] = {"fake", "--input", path, "--profile", NULL};
    char *out, *er;
    ck_assert_int_eq(run_main(4, argv, &out, &er), 0);
    int lines = 0;
    size_t len0 = 0;
    for (char *l = out, *nl; (nl = strchr(l, '\n')); l = nl + 1, lines++) {
        size_t len = (size_t)(nl - l);
        if (!lines)
            len0 = len;
        ck_assert_msg(len == len0, "line %d is %zu wide, the header %zu:\n%s", lines, len, len0,
                      out);
    }
    ck_assert_int_eq(lines, 4);
    ck_assert_ptr_nonnull(strstr(out, fk_names[1]));
    free(out);
    free(er);
}
END_TEST

/* --bench warns on stderr when p90 is far above the median; stdout keeps its
 * one line. */
START_TEST(bench_warns_when_noisy)
{
    char *argv[] = {"fake", "--bench", "10", NULL};
    char *out, *er;
    fk_calls = 0;
    ck_assert_int_eq(run_main(3, argv, &out, &er), 0);
    ck_assert_int_eq(fk_calls, 13);
    ck_assert_msg(!strncmp(out, "median_ms=", 10) && strchr(out, '\n') == out + strlen(out) - 1,
                  "%s", out);
    ck_assert_msg(strstr(er, "fake: warning: p90 is") && strstr(er, "the median"), "stderr: %s",
                  er);
    free(out);
    free(er);
}
END_TEST

Suite *program_suite(void)
{
    Suite *s = suite_create("program");
    TCase *tc = tcase_create("npy");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, npy_header_grammar_accepts);
    tcase_add_test(tc, npy_header_grammar_rejects);
    tcase_add_test(tc, npy_reads_regular_files_only);
    tcase_add_test(tc, npy_write_replaces_whole);
    suite_add_tcase(s, tc);
    tc = tcase_create("main");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, profile_columns_aligned);
    tcase_add_test(tc, bench_warns_when_noisy);
    suite_add_tcase(s, tc);
    return s;
}
