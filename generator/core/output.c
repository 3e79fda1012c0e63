/* output.c - atomic, change-only writing of the output folder. */
#define _POSIX_C_SOURCE 200809L
#include "core/output.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* 1 when path is a regular file holding exactly these bytes. A FIFO or
 * device there is not read (that could block) but replaced. */
static int same_content(const char *path, const sf_buf *b)
{
    int fd = sf_open_regular(path, NULL);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
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

static void remove_tmp(const char *tmp, const sf_files *fs)
{
    char path[4096];
    for (int i = 0; i < fs->n; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, fs->f[i].name);
        unlink(path);
    }
    rmdir(tmp);
}

sf_status sf_output_write(const char *outdir_arg, const sf_files *fs)
{
    char outdir[3000], tmp[3100], path[4096], dst[4096];
    size_t n = strlen(outdir_arg);
    if (n == 0 || n >= sizeof outdir)
        return sf_error(SF_EUSAGE, NULL, "-o: output folder name empty or too long");
    memcpy(outdir, outdir_arg, n + 1);
    while (n > 1 && outdir[n - 1] == '/')
        outdir[--n] = 0;

    struct stat sb;
    int exists = stat(outdir, &sb) == 0;
    if (exists && !S_ISDIR(sb.st_mode))
        return sf_error(SF_EINPUT, outdir, "exists and is not a folder");

    snprintf(tmp, sizeof tmp, "%s.sfgen-tmp-XXXXXX", outdir);
    if (!mkdtemp(tmp))
        return io_error(outdir, "cannot create a temporary folder beside it (does its parent "
                                "folder exist?)");
    /* mkdtemp makes it private; the output folder gets the usual mode */
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp, 0777 & ~mask);
    for (int i = 0; i < fs->n; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, fs->f[i].name);
        if (write_file(path, &fs->f[i].buf)) {
            sf_status s = io_error(path, "cannot write");
            remove_tmp(tmp, fs);
            return s;
        }
    }
    if (!exists) {
        if (rename(tmp, outdir) != 0) {
            sf_status s = io_error(outdir, "cannot rename the temporary folder into place");
            remove_tmp(tmp, fs);
            return s;
        }
        return SF_OK;
    }
    /* existing folder: replace only what changed, so make rebuilds only that */
    sf_status s = SF_OK;
    for (int i = 0; i < fs->n && !s; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, fs->f[i].name);
        snprintf(dst, sizeof dst, "%s/%s", outdir, fs->f[i].name);
        if (same_content(dst, &fs->f[i].buf))
            continue;
        if (rename(path, dst) != 0)
            s = io_error(dst, "cannot replace");
    }
    remove_tmp(tmp, fs);
    return s;
}
