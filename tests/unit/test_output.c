/* test_output.c - writing the generated folder (output.c): atomic creation,
 * change-only updates, no temporary folder left, bad output paths. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/output.h"
#include "suites.h"
#include "test_util.h"

static char g_dir[256];
static sf_files *g_fs;

static void setup(void)
{
    tu_diag_capture();
    tu_mkdtemp(g_dir, sizeof g_dir);
    g_fs = malloc(sizeof *g_fs);
    sf_files_init(g_fs);
}

static void teardown(void)
{
    sf_files_free(g_fs);
    free(g_fs);
    tu_rmrf(g_dir);
    tu_diag_release();
}

static void add(sf_files *fs, const char *name, const char *text)
{
    sf_buf *b = sf_files_add(fs, name);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(sf_buf_append(b, text, strlen(text)), 0);
}

static void set(sf_files *fs, const char *name, const char *text)
{
    for (int i = 0; i < fs->n; i++)
        if (strcmp(fs->f[i].name, name) == 0) {
            fs->f[i].buf.len = 0;
            ck_assert_int_eq(sf_buf_append(&fs->f[i].buf, text, strlen(text)), 0);
            return;
        }
    ck_abort_msg("no file %s", name);
}

static void expect_content(const char *dir, const char *name, const char *want)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    size_t len;
    char *got = tu_read_file(path, &len);
    ck_assert_msg(got != NULL, "%s missing", path);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_int_eq(memcmp(got, want, len), 0);
    free(got);
}

static struct stat stat_of(const char *dir, const char *name)
{
    char path[512];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert_msg(stat(path, &sb) == 0, "cannot stat %s", path);
    return sb;
}

/* Only `only` (and nothing like a temporary folder) is in g_dir. */
static void expect_only(const char *only)
{
    DIR *d = opendir(g_dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        n++;
        ck_assert_msg(only && strcmp(e->d_name, only) == 0,
                      "unexpected entry %s beside the "
                      "output folder",
                      e->d_name);
    }
    closedir(d);
    ck_assert_int_eq(n, only ? 1 : 0);
}

START_TEST(new_folder)
{
    char out[512];
    snprintf(out, sizeof out, "%s/out", g_dir);
    add(g_fs, "Makefile", "all:\n");
    add(g_fs, "m.c", "int x;\n");
    add(g_fs, "empty.txt", "");
    add(g_fs, "m.weights", "SFWB\0\0");
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    expect_content(out, "Makefile", "all:\n");
    expect_content(out, "m.c", "int x;\n");
    expect_content(out, "empty.txt", "");
    ck_assert_int_eq(tu_count_entries(out), 4);
    expect_only("out");
    struct stat sb;
    ck_assert_int_eq(stat(out, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
}
END_TEST

START_TEST(binary_content)
{
    char out[512];
    snprintf(out, sizeof out, "%s/bin", g_dir);
    sf_buf *b = sf_files_add(g_fs, "blob");
    unsigned char bytes[300];
    for (int i = 0; i < 300; i++)
        bytes[i] = (unsigned char)(i * 7);
    sf_buf_append(b, bytes, sizeof bytes);
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/blob", out);
    size_t len;
    char *got = tu_read_file(path, &len);
    ck_assert_uint_eq(len, 300);
    ck_assert_int_eq(memcmp(got, bytes, 300), 0);
    free(got);
}
END_TEST

START_TEST(existing_folder_changed_only)
{
    char out[512];
    snprintf(out, sizeof out, "%s/out", g_dir);
    add(g_fs, "a.c", "int a;\n");
    add(g_fs, "b.c", "int b;\n");
    add(g_fs, "c.h", "#define C 1\n");
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    struct stat a0 = stat_of(out, "a.c"), b0 = stat_of(out, "b.c"), c0 = stat_of(out, "c.h");
    /* a file the user put there is left alone */
    ck_assert_int_eq(tu_write_file(out, "notes.txt", "mine", 4), 0);

    sleep(1); /* a rewritten file would get a later mtime */
    set(g_fs, "b.c", "int b = 2;\n");
    set(g_fs, "c.h", "#define C 2\n"); /* same length, other bytes */
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    struct stat a1 = stat_of(out, "a.c"), b1 = stat_of(out, "b.c"), c1 = stat_of(out, "c.h");
    /* unchanged: the very same file */
    ck_assert_uint_eq(a1.st_ino, a0.st_ino);
    ck_assert_int_eq(a1.st_mtime, a0.st_mtime);
    ck_assert_int_eq(a1.st_mtim.tv_nsec, a0.st_mtim.tv_nsec);
    /* changed: replaced with the new content */
    expect_content(out, "b.c", "int b = 2;\n");
    expect_content(out, "c.h", "#define C 2\n");
    ck_assert(b1.st_ino != b0.st_ino || b1.st_mtime > b0.st_mtime);
    ck_assert(c1.st_ino != c0.st_ino || c1.st_mtime > c0.st_mtime);
    expect_content(out, "a.c", "int a;\n");
    expect_content(out, "notes.txt", "mine");
    expect_only("out");

    /* a file that is new in this run, and one deleted by the user, appear */
    add(g_fs, "d.c", "int d;\n");
    char path[600];
    snprintf(path, sizeof path, "%s/a.c", out);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    expect_content(out, "d.c", "int d;\n");
    expect_content(out, "a.c", "int a;\n");
    expect_only("out");

    /* writing the same again touches nothing */
    struct stat all0[4] = {stat_of(out, "a.c"), stat_of(out, "b.c"), stat_of(out, "c.h"),
                           stat_of(out, "d.c")};
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    struct stat all1[4] = {stat_of(out, "a.c"), stat_of(out, "b.c"), stat_of(out, "c.h"),
                           stat_of(out, "d.c")};
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(all1[i].st_ino, all0[i].st_ino);
        ck_assert_int_eq(all1[i].st_mtim.tv_nsec, all0[i].st_mtim.tv_nsec);
    }
}
END_TEST

START_TEST(prefix_and_longer_files_replaced)
{
    /* same_content must not accept a file that is a prefix or an extension */
    char out[512];
    snprintf(out, sizeof out, "%s/out", g_dir);
    add(g_fs, "p.c", "abcdef");
    add(g_fs, "q.c", "abc");
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    set(g_fs, "p.c", "abc");
    set(g_fs, "q.c", "abcdef");
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    expect_content(out, "p.c", "abc");
    expect_content(out, "q.c", "abcdef");
    set(g_fs, "p.c", "");
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    expect_content(out, "p.c", "");
}
END_TEST

START_TEST(trailing_slash)
{
    char out[512], plain[512];
    snprintf(out, sizeof out, "%s/out//", g_dir);
    snprintf(plain, sizeof plain, "%s/out", g_dir);
    add(g_fs, "a.c", "int a;\n");
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    expect_content(plain, "a.c", "int a;\n");
    expect_only("out");
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    expect_only("out");
}
END_TEST

START_TEST(regular_file_as_outdir)
{
    ck_assert_int_eq(tu_write_file(g_dir, "taken", "data", 4), 0);
    char out[512];
    snprintf(out, sizeof out, "%s/taken", g_dir);
    add(g_fs, "a.c", "int a;\n");
    tu_diag_capture();
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_EINPUT);
    TU_ASSERT_DIAG("taken");
    expect_content(g_dir, "taken", "data");
    expect_only("taken");
}
END_TEST

START_TEST(missing_parent)
{
    char out[512];
    snprintf(out, sizeof out, "%s/no/such/dir", g_dir);
    add(g_fs, "a.c", "int a;\n");
    sf_status s = sf_output_write(out, g_fs);
    ck_assert_int_ne(s, SF_OK);
    expect_only(NULL);
    ck_assert_int_eq(sf_output_write("", g_fs), SF_EUSAGE);
}
END_TEST

START_TEST(write_failure_leaves_nothing)
{
    /* a file that cannot be written (its folder does not exist) */
    char out[512];
    snprintf(out, sizeof out, "%s/out", g_dir);
    add(g_fs, "a.c", "int a;\n");
    add(g_fs, "sub/b.c", "int b;\n");
    add(g_fs, "c.c", "int c;\n");
    ck_assert_int_ne(sf_output_write(out, g_fs), SF_OK);
    expect_only(NULL);
}
END_TEST

START_TEST(write_failure_existing_folder_untouched)
{
    char out[512];
    snprintf(out, sizeof out, "%s/out", g_dir);
    add(g_fs, "a.c", "int a;\n");
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    set(g_fs, "a.c", "int a = 1;\n");
    add(g_fs, "sub/b.c", "int b;\n");
    ck_assert_int_ne(sf_output_write(out, g_fs), SF_OK);
    expect_content(out, "a.c", "int a;\n");
    expect_only("out");
}
END_TEST

/* A FIFO squatting on a generated file's name in an existing folder is
 * replaced, not read: opening it to compare contents would wait forever
 * for a writer (the tcase timeout fails the test). */
START_TEST(fifo_in_existing_folder_replaced)
{
    char out[512], path[600];
    snprintf(out, sizeof out, "%s/out", g_dir);
    add(g_fs, "Makefile", "all:\n");
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    snprintf(path, sizeof path, "%s/Makefile", out);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkfifo(path, 0644), 0);
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    struct stat sb;
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert(S_ISREG(sb.st_mode));
    expect_content(out, "Makefile", "all:\n");
    expect_only("out");
}
END_TEST

Suite *output_suite(void)
{
    Suite *s = suite_create("output");
    TCase *tc = tcase_create("output");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, new_folder);
    tcase_add_test(tc, binary_content);
    tcase_add_test(tc, existing_folder_changed_only);
    tcase_add_test(tc, prefix_and_longer_files_replaced);
    tcase_add_test(tc, trailing_slash);
    tcase_add_test(tc, regular_file_as_outdir);
    tcase_add_test(tc, missing_parent);
    tcase_add_test(tc, write_failure_leaves_nothing);
    tcase_add_test(tc, write_failure_existing_folder_untouched);
    tcase_add_test(tc, fifo_in_existing_folder_replaced);
    tcase_set_timeout(tc, 20);
    suite_add_tcase(s, tc);
    return s;
}
