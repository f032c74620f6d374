/*
 * fsutil.h - small file-system helpers: directories, recursive removal, whole small files.
 * All return 0 on success and -1 with errno set.
 */
#ifndef VG_FSUTIL_H
#define VG_FSUTIL_H
#include <stddef.h>
#include <sys/types.h>

/** mkdir -p with the given mode for created directories. */
int vg_mkdir_p(const char *path, mode_t mode);
/** rm -rf of a directory tree or a file; a missing path is success. */
int vg_rm_rf(const char *path);
/** write() of all len bytes to fd (retried on EINTR and short writes); -1 on an error. */
int vg_write_all(int fd, const void *data, size_t len);
/** Writes data to path via a temporary file + fsync + rename, created with mode. */
int vg_write_file(const char *path, const void *data, size_t len, mode_t mode);
/** Reads a small file (≤ max bytes) into a malloc'd NUL-terminated buffer. */
int vg_read_file(const char *path, size_t max, char **out, size_t *len);
/** fsync() of a directory, so a rename inside it is durable. */
int vg_fsync_dir(const char *path);

#endif
