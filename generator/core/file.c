/* file.c - reading an input file without blocking on special files. */
#define _POSIX_C_SOURCE 200809L
#include "core/sf.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m)    ? "a folder"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "a special file";
}

/* stat before opening: opening a FIFO for reading blocks until a writer
 * comes, and opening a device may act on it. O_NONBLOCK covers a path
 * swapped for a FIFO between the two calls; fstat checks what was opened. */
int sf_open_regular(const char *path, unsigned *mode)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return -1;
    if (!S_ISREG(sb.st_mode)) {
        if (mode)
            *mode = (unsigned)sb.st_mode;
        errno = EINVAL;
        return -1;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (mode)
            *mode = (unsigned)sb.st_mode;
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

sf_status sf_read_regular_file(sf_arena *a, const char *path, const char *base, const char *what,
                               size_t max, unsigned char **data, size_t *size)
{
    unsigned mode = 0;
    int fd = sf_open_regular(path, &mode);
    if (fd < 0 && errno == EINVAL && mode)
        return sf_error(SF_EINPUT, base, "the %s is %s, not a regular file", what,
                        kind_of((mode_t)mode));
    if (fd < 0)
        return sf_error(SF_EINPUT, base, "cannot open the %s: %s", what, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        sf_status s = sf_error(SF_EINPUT, base, "cannot read the %s: %s", what, strerror(errno));
        close(fd);
        return s;
    }
    /* regular: st_size is what there is to read (a file that changes while
     * being read is reported short, never over-read) */
    if (sb.st_size < 0 || (unsigned long long)sb.st_size > max) {
        close(fd);
        return sf_error(SF_EINPUT, base, "%s larger than %zu MiB", what, max >> 20);
    }
    size_t n = (size_t)sb.st_size, got = 0;
    unsigned char *buf = sf_arena_alloc(a, n + 1); /* zeroed: NUL-terminated */
    if (!buf) {
        close(fd);
        return sf_error(SF_EINTERNAL, NULL, "out of memory");
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            sf_status s =
                r < 0 ? sf_error(SF_EINPUT, base, "cannot read the %s: %s", what, strerror(errno))
                      : sf_error(SF_EINPUT, base,
                                 "read error (got %zu of %zu bytes: the %s "
                                 "shrank while being read)",
                                 got, n, what);
            close(fd);
            return s;
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    *size = n;
    return SF_OK;
}
