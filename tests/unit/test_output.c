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
#include "emit/names.h"
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
    ck_assert_int_eq(tu_count_entries(out), 5); /* and the marker */
    struct stat mk = stat_of(out, SF_OUTPUT_MARKER);
    ck_assert(S_ISREG(mk.st_mode));
    expect_only("out");
    struct stat sb;
    ck_assert_int_eq(stat(out, &sb), 0);
    ck_assert(S_ISDIR(sb.st_mode));
    /* the mode of mkdir (docs/CLI.md), not mkdtemp's 0700 */
    mode_t mask = umask(0);
    umask(mask);
    ck_assert_uint_eq(sb.st_mode & 0777, 0777 & ~mask);
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

/* A folder sfgen did not write (no marker) and that is not empty is left
 * alone unless forced: it may be the user's project with its own Makefile. */
START_TEST(foreign_folder_refused)
{
    char out[512];
    snprintf(out, sizeof out, "%s/proj", g_dir);
    ck_assert_int_eq(mkdir(out, 0777), 0);
    ck_assert_int_eq(tu_write_file(out, "Makefile", "mine:\n", 6), 0);
    add(g_fs, "Makefile", "all:\n");
    add(g_fs, "m.c", "int x;\n");
    tu_diag_capture();
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_EINPUT);
    TU_ASSERT_DIAG("proj");
    TU_ASSERT_DIAG("--force");
    expect_content(out, "Makefile", "mine:\n");
    ck_assert_int_eq(tu_count_entries(out), 1);
    expect_only("proj");

    sf_output_opts o = {1, NULL, NULL};
    ck_assert_int_eq(sf_output_write_opts(out, g_fs, &o), SF_OK);
    expect_content(out, "Makefile", "all:\n");
    expect_content(out, "m.c", "int x;\n");
    stat_of(out, SF_OUTPUT_MARKER);
    expect_only("proj");
    /* now it is sfgen's: no --force needed any more */
    set(g_fs, "m.c", "int y;\n");
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    expect_content(out, "m.c", "int y;\n");
}
END_TEST

START_TEST(empty_folder_accepted)
{
    char out[512];
    snprintf(out, sizeof out, "%s/empty", g_dir);
    ck_assert_int_eq(mkdir(out, 0777), 0);
    add(g_fs, "m.c", "int x;\n");
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    expect_content(out, "m.c", "int x;\n");
    stat_of(out, SF_OUTPUT_MARKER);
    expect_only("empty");
}
END_TEST

/* A folder where a generated file goes stops the update before any file is
 * replaced: old and new are never mixed. */
START_TEST(folder_in_the_way_changes_nothing)
{
    char out[512], path[600];
    snprintf(out, sizeof out, "%s/out", g_dir);
    add(g_fs, "a.c", "int a;\n");
    add(g_fs, "report.json", "{}\n");
    add(g_fs, "z.c", "int z;\n");
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_OK);
    snprintf(path, sizeof path, "%s/report.json", out);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    set(g_fs, "a.c", "int a = 1;\n");
    set(g_fs, "report.json", "{\"v\": 2}\n");
    set(g_fs, "z.c", "int z = 1;\n");
    tu_diag_capture();
    ck_assert_int_eq(sf_output_write(out, g_fs), SF_EINPUT);
    TU_ASSERT_DIAG("report.json");
    expect_content(out, "a.c", "int a;\n");
    expect_content(out, "z.c", "int z;\n");
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

/* --report is staged with the folder and put in place first; a report that
 * cannot be written leaves no output folder. */
START_TEST(report_with_the_folder)
{
    char out[512], rep[512], bad[512];
    snprintf(out, sizeof out, "%s/out", g_dir);
    snprintf(rep, sizeof rep, "%s/r.json", g_dir);
    snprintf(bad, sizeof bad, "%s/nonexistent/r.json", g_dir);
    add(g_fs, "a.c", "int a;\n");
    sf_buf r;
    sf_buf_init(&r);
    ck_assert_int_eq(sf_buf_append(&r, "{\"r\": 1}\n", 9), 0);
    sf_output_opts o = {0, bad, &r};
    tu_diag_capture();
    ck_assert_int_ne(sf_output_write_opts(out, g_fs, &o), SF_OK);
    TU_ASSERT_DIAG("nonexistent/r.json");
    expect_only(NULL);

    o.report = g_dir; /* a folder */
    ck_assert_int_ne(sf_output_write_opts(out, g_fs, &o), SF_OK);
    expect_only(NULL);

    o.report = rep;
    ck_assert_int_eq(sf_output_write_opts(out, g_fs, &o), SF_OK);
    expect_content(g_dir, "r.json", "{\"r\": 1}\n");
    expect_content(out, "a.c", "int a;\n");
    ck_assert_int_eq(tu_count_entries(g_dir), 2);

    /* a failed folder update leaves the earlier report too */
    char path[600];
    snprintf(path, sizeof path, "%s/a.c", out);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(mkdir(path, 0777), 0);
    r.len = 0;
    ck_assert_int_eq(sf_buf_append(&r, "{\"r\": 2}\n", 9), 0);
    set(g_fs, "a.c", "int a = 2;\n");
    ck_assert_int_eq(sf_output_write_opts(out, g_fs, &o), SF_EINPUT);
    expect_content(g_dir, "r.json", "{\"r\": 1}\n");
    ck_assert_int_eq(tu_count_entries(g_dir), 2);
    sf_buf_free(&r);
}
END_TEST

/* A model name that makes two generated names one (names.c), on a stand-in
 * folder: the checks follow the files and Makefile actually emitted. */
static sf_status check_names(const char *model, const char *makefile)
{
    sf_graph g;
    memset(&g, 0, sizeof g);
    g.name = model;
    g.model_base = "m.json";
    sf_files_free(g_fs);
    sf_files_init(g_fs);
    char src[200], prog[600];
    size_t n = 0;
    snprintf(src, sizeof src, "%s.c", model);
    add(g_fs, src, "int x;\n");
    add(g_fs, "rt.c", "int rt;\n");
    add(g_fs, "rt.h", "\n");
    for (const char *p = makefile; *p && n < sizeof prog - 80; p++) /* '@': the model */
        n += (size_t)(*p == '@' ? snprintf(prog + n, 80, "%s", model) : (prog[n] = *p, 1));
    prog[n] = 0;
    add(g_fs, "Makefile", prog);
    return sf_emit_check_names(&g, g_fs);
}

START_TEST(model_names_that_clash)
{
    static const char mk[] = "# targets\nall: @\n\n@: @.o rt.o\n\t$(CC) -o prog\n"
                             "clean:\n\trm -f *.o\n.PHONY: all clean\n";
    tu_diag_capture();
    ck_assert_int_eq(check_names("mlp", mk), SF_OK);
    ck_assert_int_eq(check_names("rt", mk), SF_EINPUT); /* rt.c twice */
    TU_ASSERT_DIAG("m.json: field 'name': 'rt'");
    TU_ASSERT_DIAG("'rt.c'");
    ck_assert_int_eq(check_names("all", mk), SF_EINPUT); /* all: all */
    TU_ASSERT_DIAG("target 'all'");
    ck_assert_int_eq(check_names("clean", mk), SF_EINPUT); /* two recipes */
    TU_ASSERT_DIAG("target 'clean'");
    ck_assert_int_eq(check_names("Makefile", mk), SF_EINPUT);
    ck_assert_int_eq(check_names("GNUmakefile", mk), SF_EINPUT);
    ck_assert_int_eq(check_names("makefile", mk), SF_EINPUT);
    ck_assert_int_eq(check_names("sf", mk), SF_EINPUT); /* the runtime's prefix */
    ck_assert_int_eq(check_names("SF_net", mk), SF_EINPUT);
    ck_assert_int_eq(check_names("sfc_ctx", mk), SF_EINPUT);
    ck_assert_int_eq(check_names("sfnet", mk), SF_OK);
    ck_assert_int_eq(check_names("cleaner", mk), SF_OK);
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
    tcase_add_test(tc, foreign_folder_refused);
    tcase_add_test(tc, empty_folder_accepted);
    tcase_add_test(tc, folder_in_the_way_changes_nothing);
    tcase_add_test(tc, report_with_the_folder);
    tcase_add_test(tc, model_names_that_clash);
    tcase_add_test(tc, fifo_in_existing_folder_replaced);
    tcase_set_timeout(tc, 20);
    suite_add_tcase(s, tc);
    return s;
}
