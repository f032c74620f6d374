/* test_http.c - route matching, JSON depth counting, presigned URLs, and the common helpers they
 * rest on (ids, base64, constant-time compare, config precedence). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/config.h"
#include "common/crypto.h"
#include "common/ids.h"
#include "core/presign.h"
#include "http/reqpool.h"
#include "http/router.h"
#include "http/sendfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_route_match(void **state)
{
    (void)state;
    vg_ctx c;
    memset(&c, 0, sizeof c);
    const char *p = "/v1/videos/task_ABC/content";
    assert_true(vg_route_match("/v1/videos/{id}/content", p, strlen(p), &c));
    assert_int_equal(c.nparams, 1);
    assert_string_equal(c.params[0], "task_ABC");
    assert_false(vg_route_match("/v1/videos/{id}", p, strlen(p), &c));
    assert_false(vg_route_match("/v1/videos/{id}/content", "/v1/videos//content", 19, &c));
    const char *f = "/files/task_X/video";
    assert_true(vg_route_match("/files/{id}/{variant}", f, strlen(f), &c));
    assert_string_equal(c.params[1], "video");
    assert_true(vg_route_match("/healthz", "/healthz", 8, &c));
    assert_false(vg_route_match("/healthz", "/healthz/", 9, &c));
    char longseg[300];
    memset(longseg, 'a', sizeof longseg);
    memcpy(longseg, "/files/", 7);
    assert_false(vg_route_match("/files/{id}", longseg, sizeof longseg, &c));
}

static void test_json_depth(void **state)
{
    (void)state;
    const char *a = "{\"a\":[1,{\"b\":2}]}";
    assert_int_equal(vg_json_depth(a, strlen(a), 32), 3);
    const char *s = "{\"a\":\"[[[[{{{{\"}";
    assert_int_equal(vg_json_depth(s, strlen(s), 32), 1);
    const char *e = "{\"a\":\"\\\"[[[\"}";
    assert_int_equal(vg_json_depth(e, strlen(e), 32), 1);
    char deep[100];
    memset(deep, '[', 50);
    memset(deep + 50, ']', 50);
    assert_true(vg_json_depth(deep, 100, 32) > 32);
}

static void test_presign(void **state)
{
    (void)state;
    char url[512];
    vg_presign_url("s3cret", "http://h:1", "files", "task_A", "video", 2000, url, sizeof url);
    assert_non_null(strstr(url, "http://h:1/files/task_A/video?expires=2000&sig="));
    const char *sig = strstr(url, "sig=") + 4;
    assert_int_equal(vg_presign_check("s3cret", "files", "task_A", "video", "2000", sig, 1999), 0);
    assert_int_equal(vg_presign_check("s3cret", "files", "task_A", "video", "2000", sig, 2000), -2);
    assert_int_equal(vg_presign_check("s3cret", "files", "task_A", "video", "2001", sig, 1), -1);
    assert_int_equal(vg_presign_check("s3cret", "files", "task_B", "video", "2000", sig, 1), -1);
    assert_int_equal(vg_presign_check("s3cret", "files", "task_A", "thumbnail", "2000", sig, 1),
                     -1);
    assert_int_equal(vg_presign_check("other", "files", "task_A", "video", "2000", sig, 1), -1);
    assert_int_equal(vg_presign_check("s3cret", "files", "task_A", "video", NULL, sig, 1), -1);
    assert_int_equal(vg_presign_check("s3cret", "files", "task_A", "video", "2000", "ab", 1), -1);
}

static void test_range_parse(void **state)
{
    (void)state;
    off_t a, b;
    assert_int_equal(vg_range_parse("bytes=100-199", 1000, &a, &b), 1);
    assert_int_equal(a, 100);
    assert_int_equal(b, 199);
    assert_int_equal(vg_range_parse("bytes=900-", 1000, &a, &b), 1);
    assert_int_equal(b, 999);
    assert_int_equal(vg_range_parse("bytes=900-5000", 1000, &a, &b), 1);
    assert_int_equal(b, 999);
    assert_int_equal(vg_range_parse("bytes=-100", 1000, &a, &b), 1);
    assert_int_equal(a, 900);
    assert_int_equal(vg_range_parse("bytes=-5000", 1000, &a, &b), 1);
    assert_int_equal(a, 0);
    assert_int_equal(vg_range_parse("bytes=1000-", 1000, &a, &b), -1);
    assert_int_equal(vg_range_parse("bytes=-0", 1000, &a, &b), -1);
    assert_int_equal(vg_range_parse(NULL, 1000, &a, &b), 0);
    assert_int_equal(vg_range_parse("bytes=5-1", 1000, &a, &b), 0);
    assert_int_equal(vg_range_parse("bytes=0-1,5-6", 1000, &a, &b), 0);
    assert_int_equal(vg_range_parse("items=0-1", 1000, &a, &b), 0);
    assert_int_equal(vg_range_parse("bytes=x-1", 1000, &a, &b), 0);
}

static void test_ids(void **state)
{
    (void)state;
    char a[VG_ID_MAX], b[VG_ID_MAX];
    vg_id_new("task_", a);
    vg_id_new("task_", b);
    assert_int_equal(strlen(a), 31);
    assert_true(vg_id_valid(a, "task_"));
    assert_false(vg_id_valid(a, "key_"));
    assert_string_not_equal(a, b);
    assert_true(strncmp(a, b, 5 + 9) <= 0); /* the leading time digits do not go backwards */
    char k[VG_KEY_SECRET_LEN + 1];
    vg_key_secret_new(k);
    assert_int_equal(strlen(k), 43);
    assert_memory_equal(k, "sk-", 3);
}

static void test_crypto(void **state)
{
    (void)state;
    char hex[65];
    vg_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* RFC 4231 test case 2, and a key longer than the block (case 6) */
    vg_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    unsigned char longkey[131];
    memset(longkey, 0xaa, sizeof longkey);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    vg_hmac_sha256_hex(longkey, sizeof longkey, m6, strlen(m6), hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* an empty key is a key (EVP_MAC keeps the previous one when handed NULL) */
    vg_hmac_sha256_hex("", 0, "", 0, hex);
    assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    vg_hmac_sha256_hex(NULL, 0, "", 0, hex);
    assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    size_t n;
    unsigned char *d = vg_base64_decode("aGVsbG8=", 8, &n);
    assert_non_null(d);
    assert_int_equal(n, 5);
    assert_memory_equal(d, "hello", 5);
    free(d);
    assert_null(vg_base64_decode("aGV$bG8=", 8, &n));
    assert_null(vg_base64_decode("aGVsbG8=x", 9, &n));
    char *e = vg_base64_encode("hello", 5);
    assert_string_equal(e, "aGVsbG8=");
    free(e);
    assert_true(vg_ct_streq("abc", "abc"));
    assert_false(vg_ct_streq("abc", "abd"));
    assert_false(vg_ct_streq("abc", "abcd"));
}

/* The per-thread pool of random bytes: draws never repeat (within a pool and across refills, for
 * small and large draws), and a forked child's next draw differs from its parent's. */
static void test_random_pool(void **state)
{
    (void)state;
    enum { DRAWS = 600 };
    static unsigned char seen[DRAWS][16];
    for (int i = 0; i < DRAWS; i++) {
        size_t len = i % 3 == 2 ? 16 : 8;
        memset(seen[i], 0, sizeof seen[i]);
        vg_random_bytes(seen[i], len);
        for (int j = 0; j < i; j++)
            assert_memory_not_equal(seen[i], seen[j], 8);
    }
    unsigned char big[300], big2[300];
    vg_random_bytes(big, sizeof big);
    vg_random_bytes(big2, sizeof big2);
    assert_memory_not_equal(big, big2, sizeof big);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    unsigned char mine[16], theirs[16];
    if (pid == 0) {
        vg_random_bytes(mine, sizeof mine);
        _exit(write(fds[1], mine, sizeof mine) == (ssize_t)sizeof mine ? 0 : 1);
    }
    vg_random_bytes(mine, sizeof mine);
    assert_int_equal(read(fds[0], theirs, sizeof theirs), (ssize_t)sizeof theirs);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_memory_not_equal(mine, theirs, sizeof mine);
    close(fds[0]);
    close(fds[1]);
}

static void test_config_precedence(void **state)
{
    (void)state;
    const char *path = "/tmp/vg-test-config.json";
    FILE *f = fopen(path, "w");
    fputs("{\"listen\":\"127.0.0.1:1\",\"threads\":3,\"retention_s\":60}", f);
    fclose(f);
    setenv("VIDGATE_THREADS", "5", 1);
    char *argv[] = {"vidgated", "--config", (char *)path, "--retention-s", "90", NULL};
    vg_config c;
    char err[256];
    assert_int_equal(vg_config_load(&c, 5, argv, err, sizeof err), 0);
    assert_string_equal(c.listen, "127.0.0.1:1"); /* file over default */
    assert_int_equal(c.threads, 5);               /* environment over file */
    assert_int_equal(c.retention_s, 90);          /* flag over all */
    char host[64];
    int port;
    assert_int_equal(vg_config_listen_addr(&c, host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 1);
    vg_config_free(&c);
    char *bad[] = {"vidgated", "--threads", "many", NULL};
    assert_int_equal(vg_config_load(&c, 3, bad, err, sizeof err), -1);
    assert_non_null(strstr(err, "threads"));
    vg_config_free(&c);
    unsetenv("VIDGATE_THREADS");
    remove(path);
}

/* A request inside its connection's malloc block, as h2o's HTTP/1 lays it out, whose pool holds
 * a header table (a token name and a name of its own), strings, two objects pointing at each
 * other and a shared block of this request pointing at one of them. */
typedef struct {
    h2o_conn_t conn;
    h2o_req_t req;
} fake_conn;

typedef struct node {
    char *s;
    struct node *next;
} node;

static h2o_req_t *fake_request(fake_conn **fc, node ***shared)
{
    *fc = calloc(1, sizeof **fc);
    h2o_req_t *req = &(*fc)->req;
    req->conn = &(*fc)->conn;
    h2o_mem_init_pool(&req->pool);
    h2o_mem_pool_t *p = &req->pool;
    req->path = h2o_strdup(p, "/v1/video/generations/task_1?wait=60", SIZE_MAX);
    h2o_iovec_t auth = h2o_strdup(p, "Bearer sk-test", SIZE_MAX);
    h2o_add_header(p, &req->headers, H2O_TOKEN_AUTHORIZATION, NULL, auth.base, auth.len);
    h2o_iovec_t name = h2o_strdup(p, "x-custom", SIZE_MAX), val = h2o_strdup(p, "v1", SIZE_MAX);
    h2o_add_header_by_str(p, &req->headers, name.base, name.len, 0, NULL, val.base, val.len);
    node *a = h2o_mem_alloc_pool(p, sizeof *a), *b = h2o_mem_alloc_pool(p, sizeof *b);
    a->s = h2o_strdup(p, "first", SIZE_MAX).base;
    a->next = b;
    b->s = h2o_strdup(p, "second", SIZE_MAX).base;
    b->next = NULL;
    *shared = h2o_mem_alloc_shared(p, sizeof(node *), NULL);
    **shared = a;
    return req;
}

static void test_reqpool_compact(void **state)
{
    (void)state;
    fake_conn *fc;
    node **shared;
    h2o_req_t *req = fake_request(&fc, &shared);
    const char *old_path = req->path.base;
    vg_reqpool_move m;
    assert_int_equal(vg_reqpool_compact(req, &m), 1);
    assert_null(req->pool.chunks);
    /* every pointer into the chunk now points into the copy, and reads the same */
    assert_ptr_equal(req->path.base, vg_reqpool_moved(&m, (void *)old_path));
    assert_true(req->path.base >= m.to && req->path.base < m.to + (m.hi - m.lo));
    assert_memory_equal(req->path.base, "/v1/video/generations/task_1?wait=60", req->path.len);
    assert_int_equal(req->headers.size, 2);
    assert_ptr_equal(req->headers.entries[0].name, H2O_TOKEN_AUTHORIZATION); /* static: kept */
    assert_memory_equal(req->headers.entries[0].value.base, "Bearer sk-test", 14);
    assert_memory_equal(req->headers.entries[1].name->base, "x-custom", 8);
    assert_memory_equal(req->headers.entries[1].value.base, "v1", 2);
    node *a = *shared;
    assert_true((char *)a >= m.to && (char *)a < m.to + (m.hi - m.lo));
    assert_string_equal(a->s, "first");
    assert_string_equal(a->next->s, "second");
    assert_null(a->next->next);
    /* the pool goes on: a new chunk for the next allocation, everything freed with it (the
     * sanitizer build reports a pointer left in the freed chunk, and any leak) */
    char *later = h2o_strdup(&req->pool, "later", SIZE_MAX).base;
    assert_string_equal(later, "later");
    h2o_mem_clear_pool(&req->pool);
    free(fc);

    /* left alone: a request with a body, and a pool of two chunks */
    req = fake_request(&fc, &shared);
    req->entity = h2o_iovec_init(H2O_STRLIT("{}"));
    assert_int_equal(vg_reqpool_compact(req, &m), 0);
    req->entity = h2o_iovec_init(NULL, 0);
    for (int i = 0; i < 20; i++)
        h2o_mem_alloc_pool(&req->pool, 512);
    assert_int_equal(vg_reqpool_compact(req, &m), 0);
    assert_string_equal((*shared)->s, "first");
    h2o_mem_clear_pool(&req->pool);
    free(fc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_match),
        cmocka_unit_test(test_json_depth),
        cmocka_unit_test(test_presign),
        cmocka_unit_test(test_range_parse),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_crypto),
        cmocka_unit_test(test_random_pool),
        cmocka_unit_test(test_config_precedence),
        cmocka_unit_test(test_reqpool_compact),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
