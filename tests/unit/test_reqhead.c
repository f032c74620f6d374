/* test_reqhead.c - the request-head scan the server runs before h2o: what it accepts, what it
 * refuses and with which status, and the body-cap table of the router. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/limits.h"
#include "http/reqhead.h"
#include "http/router.h"

#include <string.h>

static int scan(const char *text, vg_reqhead *h, vg_err *e)
{
    memset(e, 0, sizeof *e);
    return vg_reqhead_scan(text, strlen(text), VG_MAX_HEADER_BYTES, VG_MAX_HEADERS, h, e);
}

static void test_accepts(void **state)
{
    (void)state;
    vg_reqhead h;
    vg_err e;
    const char *req =
        "\r\nPOST /v1/videos?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization:  Bearer sk-1 "
        "\r\nContent-Length: 42\r\nExpect: 100-continue\r\nX-U: caf\xc3\xa9\r\n\r\nBODY";
    assert_int_equal(scan(req, &h, &e), VG_OK);
    assert_int_equal(h.head_len, strlen(req) - 4);
    assert_true(h.method.len == 4 && !memcmp(h.method.base, "POST", 4));
    assert_true(h.path.len == 14 && !memcmp(h.path.base, "/v1/videos?x=1", 14));
    assert_true(h.authorization.len == 11 && !memcmp(h.authorization.base, "Bearer sk-1", 11));
    assert_true(h.has_length && h.length == 42 && h.expect_100 && !h.chunked);
    assert_int_equal(scan("GET / HTTP/1.0\n\n", &h, &e), VG_OK); /* bare LF line ends */
    assert_int_equal(scan("GET / HTTP/1.1\r\nHost: a\r\n", &h, &e), VG_AGAIN);
}

static void test_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int status;
    } cases[] = {
        {"NOT HTTP\r\n\r\n", 400},
        {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n", 400},
        {"POST / HTTP/1.1\r\nExpect: magic\r\n\r\n", 417},
    };
    vg_reqhead h;
    vg_err e;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(scan(cases[i].text, &h, &e), VG_ERR);
        assert_int_equal(e.http_status, cases[i].status);
    }
    const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    memset(&e, 0, sizeof e);
    assert_int_equal(vg_reqhead_scan(nul, sizeof nul - 1, 1024, 8, &h, &e), VG_ERR);
    assert_int_equal(e.http_status, 400);
    memset(&e, 0, sizeof e);
    assert_int_equal(vg_reqhead_scan("GET / HTTP/1.1\r\nA: b\r\nC: d\r\n\r\n", 30, 1024, 1, &h, &e),
                     VG_ERR);
    assert_int_equal(e.http_status, 431);
    char big[2048];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    memset(&e, 0, sizeof e);
    assert_int_equal(vg_reqhead_scan(big, sizeof big, 1024, 8, &h, &e), VG_ERR);
    assert_int_equal(e.http_status, 431);
}

static void test_body_caps(void **state)
{
    (void)state;
    assert_int_equal(vg_router_max_body("POST", 4, "/v1/videos", 10), VG_MAX_MULTIPART_BODY_BYTES);
    assert_int_equal(vg_router_max_body("POST", 4, "/v1/videos?a", 12),
                     VG_MAX_MULTIPART_BODY_BYTES);
    assert_int_equal(vg_router_max_body("GET", 3, "/v1/videos", 10), VG_MAX_JSON_BODY_BYTES);
    assert_int_equal(vg_router_max_body("POST", 4, "/v1/videos/x/remix", 18),
                     VG_MAX_JSON_BODY_BYTES);
    const char *ca = "/v1/seedance/asset/CreateAsset";
    assert_int_equal(vg_router_max_body("POST", 4, ca, strlen(ca)), VG_MAX_MULTIPART_BODY_BYTES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_body_caps),
    };
    return cmocka_run_group_tests_name("reqhead", tests, NULL, NULL);
}
