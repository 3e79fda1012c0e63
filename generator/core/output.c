/* output.c - atomic, change-only writing of the output folder and the
 * --report file (docs/CLI.md, "What it does"). */
#define _POSIX_C_SOURCE 200809L
#include "core/output.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The marker's text is fixed, so a regenerated folder keeps it untouched. */
static const char k_marker_text[] =
    "This folder was written by sfgen (SparseFlow). sfgen writes into an existing\n"
    "folder only when it holds this file or is empty, unless --force is given.\n";

static sf_status io_error(const char *path, const char *what)
{
    return sf_error(SF_EINPUT, path, "%s: %s", what, strerror(errno));
}

static int write_file(const char *path, const sf_buf *b)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = b->len == 0 || fwrite(b->data, 1, b->len, f) == b->len;
    ok = fclose(f) == 0 && ok;
    return ok ? 0 : -1;
}

/* 1 when path is a regular file holding exactly these bytes (anything else,
 * a FIFO included, is never opened). */
static int same_content(const char *path, const sf_buf *b)
{
    struct stat sb;
    if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || (size_t)sb.st_size != b->len)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char chunk[65536];
    size_t off = 0, n;
    int same = 1;
    while (same && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (off + n > b->len || memcmp(chunk, b->data + off, n) != 0)
            same = 0;
        off += n;
    }
    fclose(f);
    return same && off == b->len;
}

/* The files to write: the generated ones, then the marker. */
static const char *file_name(const sf_files *fs, int i)
{
    return i < fs->n ? fs->f[i].name : SF_OUTPUT_MARKER;
}

static const sf_buf *file_buf(const sf_files *fs, int i, const sf_buf *marker)
{
    return i < fs->n ? &fs->f[i].buf : marker;
}

static void remove_tmp(const char *tmp, const sf_files *fs)
{
    char path[4096];
    for (int i = 0; i <= fs->n; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, file_name(fs, i));
        unlink(path);
    }
    rmdir(tmp);
}

/* What an existing folder holds: 0 nothing, 1 the marker (and maybe more),
 * 2 other entries only, -1 unreadable. */
static int folder_state(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int other = 0, marker = 0;
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (!strcmp(e->d_name, SF_OUTPUT_MARKER))
            marker = 1;
        else
            other = 1;
    }
    closedir(d);
    if (marker) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, SF_OUTPUT_MARKER);
        marker = lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
    }
    return marker ? 1 : other ? 2 : 0;
}

/* Writes the report to a temporary file beside its destination; *tmp gets
 * that file's name. */
static sf_status stage_report(const char *report, const sf_buf *b, char *tmp, size_t cap)
{
    struct stat sb;
    if (stat(report, &sb) == 0 && S_ISDIR(sb.st_mode))
        return sf_error(SF_EINPUT, report, "cannot write the report file: it is a folder");
    if ((size_t)snprintf(tmp, cap, "%s.sfgen-tmp-XXXXXX", report) >= cap)
        return sf_error(SF_EINPUT, report, "cannot write the report file: name too long");
    int fd = mkstemp(tmp);
    if (fd < 0)
        return io_error(report, "cannot create the report file");
    /* mkstemp makes it private; the report gets the usual mode of a new file */
    mode_t mask = umask(0);
    umask(mask);
    int ok = fchmod(fd, 0666 & ~mask) == 0;
    ok = ok && (b->len == 0 || (size_t)write(fd, b->data, b->len) == b->len);
    ok = close(fd) == 0 && ok;
    if (!ok) {
        sf_status s = io_error(report, "cannot write the report file");
        unlink(tmp);
        return s;
    }
    return SF_OK;
}

sf_status sf_output_write(const char *outdir, const sf_files *fs)
{
    sf_output_opts o = {0, NULL, NULL};
    return sf_output_write_opts(outdir, fs, &o);
}

sf_status sf_output_write_opts(const char *outdir_arg, const sf_files *fs, const sf_output_opts *o)
{
    char outdir[3000], tmp[3100], path[4096], dst[4096], rtmp[4200] = "";
    size_t n = strlen(outdir_arg);
    if (n == 0 || n >= sizeof outdir)
        return sf_error(SF_EUSAGE, NULL, "-o: output folder name empty or too long");
    memcpy(outdir, outdir_arg, n + 1);
    while (n > 1 && outdir[n - 1] == '/')
        outdir[--n] = 0;
    const sf_buf marker = {(char *)k_marker_text, sizeof k_marker_text - 1, 0, 0};

    struct stat sb;
    int exists = stat(outdir, &sb) == 0;
    if (exists && !S_ISDIR(sb.st_mode))
        return sf_error(SF_EINPUT, outdir, "exists and is not a folder");
    if (exists) {
        /* a folder sfgen did not make may hold the user's own files
         * (a Makefile, sources): never replace them unasked */
        int st = folder_state(outdir);
        if (st < 0)
            return io_error(outdir, "cannot read the folder");
        if (st == 2 && !o->force)
            return sf_error(SF_EINPUT, outdir,
                            "the folder is not empty and was not written by sfgen (it has no "
                            "'%s' file): choose another folder, or give --force to write "
                            "into it anyway",
                            SF_OUTPUT_MARKER);
    }

    /* the report first, then the folder, both staged: any failure up to the
     * commit below leaves neither (docs/CLI.md) */
    sf_status s = SF_OK;
    if (o->report && (s = stage_report(o->report, o->report_data, rtmp, sizeof rtmp)))
        return s;

    snprintf(tmp, sizeof tmp, "%s.sfgen-tmp-XXXXXX", outdir);
    if (!mkdtemp(tmp)) {
        s = io_error(outdir, "cannot create a temporary folder beside it (does its parent "
                             "folder exist?)");
        goto fail_report;
    }
    /* mkdtemp makes it private; the output folder gets the usual mode */
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp, 0777 & ~mask);
    for (int i = 0; i <= fs->n; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, file_name(fs, i));
        if (write_file(path, file_buf(fs, i, &marker))) {
            s = io_error(path, "cannot write");
            goto fail_tmp;
        }
    }
    /* an existing folder: every file to replace must be replaceable before
     * the first one is (a folder in the way cannot be renamed over) */
    for (int i = 0; exists && i <= fs->n; i++) {
        snprintf(dst, sizeof dst, "%s/%s", outdir, file_name(fs, i));
        if (lstat(dst, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            s = sf_error(SF_EINPUT, dst,
                         "is a folder where sfgen writes a file: nothing was written; "
                         "remove or rename it");
            goto fail_tmp;
        }
    }
    if (o->report && rename(rtmp, o->report) != 0) {
        s = io_error(o->report, "cannot write the report file");
        goto fail_tmp;
    }
    if (!exists) {
        if (rename(tmp, outdir) != 0) {
            s = io_error(outdir, "cannot rename the temporary folder into place");
            remove_tmp(tmp, fs);
        }
        return s;
    }
    /* existing folder: replace only what changed, so make rebuilds only that */
    for (int i = 0; i <= fs->n && !s; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, file_name(fs, i));
        snprintf(dst, sizeof dst, "%s/%s", outdir, file_name(fs, i));
        if (same_content(dst, file_buf(fs, i, &marker)))
            continue;
        if (rename(path, dst) != 0)
            s = io_error(dst, "cannot replace");
    }
    remove_tmp(tmp, fs);
    return s;

fail_tmp:
    remove_tmp(tmp, fs);
fail_report:
    if (o->report)
        unlink(rtmp);
    return s;
}
