/* fsutil.c - see fsutil.h. */
#include "common/fsutil.h"

#include "common/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vg_mkdir_p(const char *path, mode_t mode)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return errno = EINVAL, -1;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, mode) && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) && errno != EEXIST) return -1;
    return 0;
}

int vg_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st)) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *child = vg_asprintf("%s/%s", path, e->d_name);
        if (vg_rm_rf(child)) rc = -1;
        free(child);
    }
    closedir(d);
    if (rmdir(path)) rc = -1;
    return rc;
}

int vg_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int vg_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    char *tmp = vg_asprintf("%s.tmp%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    int rc = -1;
    if (fd < 0 || vg_write_all(fd, data, len)) goto out;
    if (fsync(fd) || close(fd)) {
        fd = -1;
        goto out;
    }
    fd = -1;
    rc = rename(tmp, path);
out:
    if (fd >= 0) close(fd);
    if (rc) unlink(tmp);
    free(tmp);
    return rc;
}

int vg_read_file(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char *buf = vg_malloc(max + 1);
    size_t n = fread(buf, 1, max + 1, f);
    fclose(f);
    if (n > max) {
        free(buf);
        return errno = EFBIG, -1;
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return 0;
}

int vg_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}
