/*
 * copy.c - see copy.h. Order: the store first (it refuses a source in use or a target in use, so
 * nothing is uploaded for a copy that cannot happen), then the content, then the check of the
 * target. Messages go to stdout (the summary) and stderr (the reason of a failure).
 */
#include "copy.h"

#include "check.h"
#include "common/fsutil.h"
#include "net/content.h"
#include "store/copy.h"

#include <dirent.h>
#include <stddef.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WHO "vidgated copy"

typedef struct {
    const char *from, *to, *content_to;
} copy_args;

typedef struct {
    const char *flag;
    size_t offset;
    const char *help;
} copy_option;

static const copy_option g_options[] = {
    {"--from", offsetof(copy_args, from), "DIR: the data directory of the stopped node"},
    {"--to", offsetof(copy_args, to),
     "DATABASE_URL: a new PostgreSQL database (postgresql://… or key=value)"},
    {"--content-to", offsetof(copy_args, content_to),
     "URL: where the new nodes' content lives (--content: a directory, or s3://BUCKET/PREFIX?…)"},
};
#define N_OPTIONS (sizeof g_options / sizeof g_options[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: vidgated copy --from DIR --to DATABASE_URL [--content-to URL]\n"
               "       vidgated copy --from DIR --content-to URL   (the content alone)\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++)
        fprintf(f, "  %-13s %s\n", g_options[i].flag, g_options[i].help);
    fprintf(f, "\nThe node on DIR must be stopped for --to. The target database must hold no keys "
               "or tasks. Content\nalready at the target with the same size is skipped, so a "
               "content copy can be run again.\n");
}

/* "--flag VALUE" and "--flag=VALUE". 0, 1 (--help shown) or -1 (message printed). */
static int parse(int argc, char **argv, copy_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout), 1;
        size_t k = 0, n = 0;
        for (; k < N_OPTIONS; k++) {
            n = strlen(g_options[k].flag);
            if (!strncmp(argv[i], g_options[k].flag, n) && (!argv[i][n] || argv[i][n] == '='))
                break;
        }
        const char *value = k < N_OPTIONS && argv[i][n] == '=' ? argv[i] + n + 1
                            : k < N_OPTIONS && i + 1 < argc    ? argv[++i]
                                                               : NULL;
        if (!value) {
            fprintf(stderr, WHO ": unknown option or missing value: %s\n\n", argv[i]);
            return usage(stderr), -1;
        }
        *(const char **)((char *)a + g_options[k].offset) = value;
    }
    if (!a->from || (!a->to && !a->content_to)) {
        fprintf(stderr, WHO ": --from and at least one of --to, --content-to are needed\n\n");
        return usage(stderr), -1;
    }
    return 0;
}

/* ---- the store ------------------------------------------------------------------------------- */

static int copy_store(const copy_args *a)
{
    char path[PATH_MAX + 16], *secret = NULL, err[1024];
    snprintf(path, sizeof path, "%s/secret", a->from);
    /* As the server reads it (vidgated.c load_secret): its first 64 characters, if it has them. */
    if (vg_read_file(path, 256, &secret, NULL) == 0) {
        secret[strcspn(secret, "\r\n")] = '\0';
        if (strlen(secret) < 64)
            secret[0] = '\0';
        else
            secret[64] = '\0';
    }
    vg_store_copy_options o = {.source_dir = a->from, .target = a->to, .presign_secret = secret};
    vg_store_copy_report r;
    vg_status rc = vg_store_copy(&o, &r, err, sizeof err);
    free(secret);
    if (rc != VG_OK) {
        fprintf(stderr, WHO ": %s\n", err);
        return 1;
    }
    printf("store: %s/vidgate.db copied into the target database (one transaction):\n", a->from);
    for (size_t i = 0; i < r.tables; i++)
        printf("  %-20s %10lld rows\n", r.table[i].name, (long long)r.table[i].rows);
    printf("  %-20s %10lld rows\n", "total", (long long)r.rows);
    fflush(stdout);
    return 0;
}

/* ---- the content ----------------------------------------------------------------------------- */

typedef struct {
    vg_content *c;
    size_t root_len; /* of the source directory, so that a path's rest is its key */
    int64_t files, bytes, kept, kept_bytes, skipped;
} walk;

/* Copies one file unless the target has it with the same size. Staging leftovers (".part-") and
 * names that are not content keys are left behind (counted as skipped). */
static int copy_file_to(walk *w, const char *path, const struct stat *sb)
{
    const char *key = path + w->root_len + 1;
    char local[PATH_MAX], err[512];
    int64_t size = -1;
    if (strstr(key, ".part-") || vg_content_path(w->c, key, local, sizeof local)) {
        w->skipped++;
        return 0;
    }
    int st = vg_content_stat(w->c, key, &size);
    if (st == VG_OK && size == (int64_t)sb->st_size) {
        w->kept++;
        w->kept_bytes += size;
        return 0;
    }
    if (st == VG_ERR) {
        fprintf(stderr, WHO ": cannot look up %s at the target\n", key);
        return -1;
    }
    if (vg_content_import(w->c, key, path, err, sizeof err) != VG_OK) {
        fprintf(stderr, WHO ": %s\n", err);
        return -1;
    }
    w->files++;
    w->bytes += (int64_t)sb->st_size;
    return 0;
}

static int walk_dir(walk *w, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, WHO ": cannot read %s\n", dir);
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[PATH_MAX];
        struct stat sb;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path ||
            lstat(path, &sb))
            continue;
        if (S_ISDIR(sb.st_mode))
            rc = walk_dir(w, path);
        else if (S_ISREG(sb.st_mode))
            rc = copy_file_to(w, path, &sb);
    }
    closedir(d);
    return rc;
}

/* Opens the target of the content before anything is copied, so that a bad URL or missing
 * credentials stop the command before the store is copied. w->c stays NULL when DIR/files does
 * not exist (nothing to copy). */
static int open_content(const copy_args *a, walk *w, char root[PATH_MAX])
{
    char files[PATH_MAX + 8], err[1024];
    snprintf(files, sizeof files, "%s/files", a->from);
    if (!realpath(files, root)) return 0;
    /* A bucket's cache is the source directory itself: the handle reads nothing else there. */
    w->root_len = strlen(root);
    if (vg_content_open(a->content_to, root, &w->c, err, sizeof err) != VG_OK) {
        fprintf(stderr, WHO ": %s\n", err);
        return -1;
    }
    /* One HEAD: a bucket that cannot be reached (or refuses the credentials) answers an error,
     * not "no such object". */
    int64_t size;
    if (vg_content_stat(w->c, "copy-probe", &size) == VG_ERR) {
        fprintf(stderr, WHO ": cannot reach %s\n", vg_content_describe(w->c));
        vg_content_close(w->c);
        w->c = NULL;
        return -1;
    }
    return 0;
}

static int copy_content(const copy_args *a, walk *w, const char *root)
{
    char there[PATH_MAX];
    if (!w->c) {
        printf("content: %s/files does not exist, nothing to copy\n", a->from);
        return 0;
    }
    if (!vg_content_is_remote(w->c) && realpath(vg_content_dir(w->c), there) &&
        !strcmp(there, root)) {
        printf("content: %s is already the target directory\n", root);
        return 0;
    }
    int rc = walk_dir(w, root) ? 1 : 0;
    printf("content: %lld files (%lld bytes) copied to %s; %lld already there (%lld bytes); %lld "
           "skipped (partial or not content)\n",
           (long long)w->files, (long long)w->bytes, vg_content_describe(w->c), (long long)w->kept,
           (long long)w->kept_bytes, (long long)w->skipped);
    if (rc)
        printf("content: stopped by the error above; `vidgated copy --from %s --content-to URL` "
               "copies the rest (the store is not copied again)\n",
               a->from);
    return rc;
}

int vg_copy_main(int argc, char **argv)
{
    copy_args a;
    walk w = {0};
    char root[PATH_MAX];
    int rc = parse(argc, argv, &a);
    if (rc) return rc > 0 ? 0 : 2;
    if (a.content_to && open_content(&a, &w, root)) return 1;
    if (a.to && copy_store(&a)) {
        vg_content_close(w.c);
        return 1;
    }
    if (a.content_to)
        rc = copy_content(&a, &w, root);
    else
        printf("content: not copied; it stays in %s/files. The new nodes need it: share that "
               "directory (--content DIR), or copy it with --content-to (again at any time).\n",
               a.from);
    vg_content_close(w.c);
    fflush(stdout);
    if (rc || !a.to) return rc;
    printf("check of the target:\n");
    fflush(stdout);
    vg_store_options o = {.backend = "postgresql", .database = a.to, .node = "copy"};
    return vg_check_store(&o, WHO) ? 1 : 0;
}
