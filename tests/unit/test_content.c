/*
 * test_content.c - the content handle (net/content.h) without a bucket server: URLs accepted and
 * refused, keys, the directory form (publish, fetch, stat, delete), and a bucket nobody answers
 * for (every call fails in bounded time, the background fetch reports its failure).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/clock.h"
#include "common/fsutil.h"
#include "net/content.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/vg-test-content-%d", (int)getpid());
    vg_rm_rf(g_dir);
    return vg_mkdir_p(g_dir, 0700);
}

static int teardown(void **state)
{
    (void)state;
    vg_rm_rf(g_dir);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_urls(void **state)
{
    (void)state;
    char err[256], files[300];
    vg_content *c = NULL;
    snprintf(files, sizeof files, "%s/files", g_dir);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    static const struct {
        const char *url, *why;
    } refused[] = {
        {"s3://bucket/p?endpoint=http://127.0.0.1:9", "AWS_ACCESS_KEY_ID"},
        {"relative/dir", "neither"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(vg_content_open(refused[i].url, files, &c, err, sizeof err), VG_INVALID);
        assert_null(c);
        if (!strstr(err, refused[i].why)) fail_msg("%s: %s", refused[i].url, err);
    }
    setenv("AWS_ACCESS_KEY_ID", "AK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
    static const char *const bad[] = {
        "s3://ab/p?endpoint=http://127.0.0.1:9",        /* bucket too short */
        "s3://Bucket/p?endpoint=http://127.0.0.1:9",    /* upper case */
        "s3://bucket/../p?endpoint=http://127.0.0.1:9", /* a prefix leaving its place */
        "s3://bucket/p?endpoint=ftp://127.0.0.1:9",
        "s3://bucket/p?endpoint=http://127.0.0.1:9&region=US_EAST",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (vg_content_open(bad[i], files, &c, err, sizeof err) != VG_INVALID)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(vg_content_open("s3://my-bucket//a/b/?endpoint=http%3A%2F%2F127.0.0.1%3A9/",
                                     files, &c, err, sizeof err),
                     VG_OK);
    assert_true(vg_content_is_remote(c));
    assert_string_equal(vg_content_dir(c), files);
    assert_non_null(strstr(vg_content_describe(c), "my-bucket/a/b/ at http://127.0.0.1:9 "));
    assert_null(strstr(vg_content_describe(c), "SK")); /* never the secret */
    vg_content_close(c);
}

static void test_keys(void **state)
{
    (void)state;
    char err[256], path[512];
    vg_content *c = NULL;
    assert_int_equal(vg_content_open(g_dir, "/nowhere", &c, err, sizeof err), VG_OK);
    assert_false(vg_content_is_remote(c));
    static const char *const bad[] = {"", "/abs", "a/../b", "..", "a//b", "a/", "a b", "a?b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (vg_content_path(c, bad[i], path, sizeof path) == 0) fail_msg("accepted \"%s\"", bad[i]);
    assert_int_equal(vg_content_path(c, "assets/abc", path, sizeof path), 0);
    char want[512];
    snprintf(want, sizeof want, "%s/assets/abc", g_dir);
    assert_string_equal(path, want);
    vg_content_close(c);
}

static void test_directory(void **state)
{
    (void)state;
    char err[256], tmp[512], path[600];
    vg_content *c = NULL;
    char dir[300];
    snprintf(dir, sizeof dir, "file://%s/content", g_dir);
    assert_int_equal(vg_content_open(dir, "/nowhere", &c, err, sizeof err), VG_OK);
    snprintf(tmp, sizeof tmp, "%s/task_x.1", g_dir);
    assert_int_equal(vg_mkdir_p(tmp, 0700), 0);
    snprintf(path, sizeof path, "%s/video.mp4", tmp);
    write_file(path, "0123456789");
    /* an earlier attempt's leftovers are replaced */
    snprintf(path, sizeof path, "%s/content/task_x/stale", g_dir);
    assert_int_equal(vg_mkdir_p(path, 0700), 0);
    assert_int_equal(vg_content_publish_dir(c, tmp, "task_x", err, sizeof err), VG_OK);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(access(path, F_OK), -1);
    int64_t size = 0;
    assert_int_equal(vg_content_stat(c, "task_x/video.mp4", &size), VG_OK);
    assert_int_equal(size, 10);
    assert_int_equal(vg_content_stat(c, "task_x/thumbnail.jpg", &size), VG_NOTFOUND);
    assert_int_equal(vg_content_put(c, "task_x/video.mp4", err, sizeof err), VG_OK);
    assert_int_equal(vg_content_fetch(c, "task_x/video.mp4", err, sizeof err), VG_OK);
    assert_int_equal(vg_content_fetch(c, "task_y/video.mp4", err, sizeof err), VG_NOTFOUND);
    assert_int_equal(vg_content_fetch_start(c, "task_x/video.mp4", "task_x"), VG_OK);
    assert_int_equal(vg_content_fetch_start(c, "task_y/video.mp4", "task_y"), VG_NOTFOUND);
    vg_content_delete_task_later(c, "task_x"); /* nothing to do without a bucket */
    assert_int_equal(vg_content_delete_task(c, "task_x"), VG_OK);
    assert_int_equal(vg_content_stat(c, "task_x/video.mp4", &size), VG_NOTFOUND);
    assert_int_equal(vg_content_delete(c, "task_x/video.mp4"), VG_OK); /* already gone */
    vg_content_close(c);
}

/* vg_content_import into a directory: a copy under the key (its directories made, the source's
 * mtime kept), a bad key refused, a file already in place left alone. */
static void test_import_directory(void **state)
{
    (void)state;
    char err[256], src[300], dir[300], path[600];
    vg_content *c = NULL;
    snprintf(dir, sizeof dir, "%s/imported", g_dir);
    assert_int_equal(vg_content_open(dir, "/nowhere", &c, err, sizeof err), VG_OK);
    snprintf(src, sizeof src, "%s/source.bin", g_dir);
    write_file(src, "some bytes");
    struct timespec times[2] = {{.tv_sec = 1700000000}, {.tv_sec = 1700000000}};
    assert_int_equal(utimensat(AT_FDCWD, src, times, 0), 0);
    assert_int_equal(vg_content_import(c, "assets/abc", src, err, sizeof err), VG_OK);
    snprintf(path, sizeof path, "%s/assets/abc", dir);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 10);
    assert_int_equal(sb.st_mtime, 1700000000);
    assert_int_equal(vg_content_import(c, "../escape", src, err, sizeof err), VG_INVALID);
    assert_int_equal(vg_content_import(c, "assets/abc", path, err, sizeof err), VG_OK);
    int64_t size = 0;
    assert_int_equal(vg_content_stat(c, "assets/abc", &size), VG_OK);
    assert_int_equal(size, 10);
    vg_content_close(c);
}

static void test_unreachable_bucket(void **state)
{
    (void)state;
    char err[256], files[300], path[512];
    vg_content *c = NULL;
    snprintf(files, sizeof files, "%s/cache", g_dir);
    setenv("AWS_ACCESS_KEY_ID", "AK", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SK", 1);
    /* port 9 (discard) on loopback: nothing listens in the test environment */
    assert_int_equal(
        vg_content_open("s3://bucket/p?endpoint=http://127.0.0.1:9", files, &c, err, sizeof err),
        VG_OK);
    assert_int_equal(vg_content_path(c, "t/video.mp4", path, sizeof path), 0);
    char tdir[512];
    snprintf(tdir, sizeof tdir, "%s/t", files);
    assert_int_equal(vg_mkdir_p(tdir, 0700), 0);
    write_file(path, "abc");
    err[0] = '\0';
    assert_int_equal(vg_content_put(c, "t/video.mp4", err, sizeof err), VG_ERR);
    assert_non_null(strstr(err, "PUT t/video.mp4"));
    assert_int_equal(vg_content_fetch(c, "t/video.mp4", err, sizeof err), VG_OK); /* cached */
    assert_int_equal(vg_content_fetch(c, "t/other.mp4", err, sizeof err), VG_ERR);
    int64_t size;
    assert_int_equal(vg_content_stat(c, "t/video.mp4", &size), VG_ERR);
    /* a background fetch: running, then failed; one fetch per key */
    assert_int_equal(vg_content_fetch_start(c, "t/thumbnail.jpg", "t"), VG_AGAIN);
    int64_t deadline = vg_now_ms() + 10000;
    int st;
    while ((st = vg_content_fetch_state(c, "t/thumbnail.jpg")) == VG_AGAIN &&
           vg_now_ms() < deadline)
        usleep(10000);
    assert_int_equal(st, VG_ERR);
    assert_int_equal(vg_content_path(c, "t/thumbnail.jpg", path, sizeof path), 0);
    assert_int_equal(access(path, F_OK), -1); /* nothing half-written is left in its place */
    vg_content_delete_task_later(c, "t");     /* done (and failing) before close returns */
    vg_content_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_directory),
        cmocka_unit_test(test_import_directory),
        cmocka_unit_test(test_unreachable_bucket),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
