/*
 * test_multipart.c - the multipart/form-data parser (http/multipart.h): boundary parameters
 * (token, quoted, escaped, missing), delimiters in awkward places (boundary text inside a payload,
 * at a line start, without CRLF before it; CR and LF alone; transport padding), preamble and
 * epilogue, empty parts, and every cap and refusal: a part over its cap, too many parts, oversized
 * headers, no closing delimiter, a part without a name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/status.h"
#include "http/multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B "XyZ-boundary"

static vg_multipart g_m; /* ~5 KiB; static keeps cmocka's stacks small */

static int parse(const char *body)
{
    return vg_multipart_parse(body, strlen(body), B, &g_m);
}

static void assert_part(const vg_mp_part *p, const char *name, const char *data)
{
    assert_non_null(p);
    assert_int_equal(p->name.len, strlen(name));
    assert_memory_equal(p->name.ptr, name, p->name.len);
    assert_int_equal(p->len, strlen(data));
    if (p->len) assert_memory_equal(p->data, data, p->len);
}

static void test_boundary_param(void **state)
{
    (void)state;
    char b[VG_MP_MAX_BOUNDARY_BYTES + 1];
    assert_int_equal(vg_multipart_boundary("multipart/form-data; boundary=abc", b), 0);
    assert_string_equal(b, "abc");
    assert_int_equal(
        vg_multipart_boundary("Multipart/Form-Data;charset=utf-8;BOUNDARY=\"a b;c\"", b), 0);
    assert_string_equal(b, "a b;c");
    assert_int_equal(vg_multipart_boundary("multipart/form-data; boundary=\"q\\\"x\"", b), 0);
    assert_string_equal(b, "q\"x");
    assert_int_equal(
        vg_multipart_boundary("multipart/form-data; boundary=----formdata-undici-01", b), 0);
    assert_string_equal(b, "----formdata-undici-01");
    /* A long unrelated parameter before the boundary is skipped, not refused. */
    char ct[400];
    snprintf(ct, sizeof ct, "multipart/form-data; x=%0200d; boundary=z", 0);
    assert_int_equal(vg_multipart_boundary(ct, b), 0);
    assert_string_equal(b, "z");

    assert_int_equal(vg_multipart_boundary("multipart/form-data", b), -1);
    assert_int_equal(vg_multipart_boundary("multipart/form-data; boundary=", b), -1);
    assert_int_equal(vg_multipart_boundary("multipart/form-data; boundary=\"\"", b), -1);
    assert_int_equal(vg_multipart_boundary("multipart/form-data; boundary=\"abc", b), -1);
    assert_int_equal(vg_multipart_boundary("multipart/form-data; boundary=\"ends \"", b), -1);
    assert_int_equal(vg_multipart_boundary("multipart/mixed; boundary=abc", b), -1);
    assert_int_equal(vg_multipart_boundary("application/json", b), -1);
    assert_int_equal(vg_multipart_boundary(NULL, b), -1);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%071d", 0);
    assert_int_equal(vg_multipart_boundary(ct, b), -1);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%070d", 0);
    assert_int_equal(vg_multipart_boundary(ct, b), 0);

    assert_true(vg_multipart_is_form(" multipart/form-data; boundary=a"));
    assert_true(vg_multipart_is_form("multipart/form-data"));
    assert_false(vg_multipart_is_form("multipart/form-datax"));
    assert_false(vg_multipart_is_form(NULL));
}

static void test_simple_and_lookup(void **state)
{
    (void)state;
    const char *body = "--" B "\r\n"
                       "Content-Disposition: form-data; name=\"prompt\"\r\n\r\n"
                       "a cat\r\n"
                       "--" B "\r\n"
                       "content-disposition: form-data; name=\"input_reference\"; "
                       "filename=\"f.png\"\r\n"
                       "Content-Type: image/png\r\n\r\n"
                       "\x89PNG\r\n\x1a\n"
                       "\r\n--" B "--\r\n";
    assert_int_equal(parse(body), VG_OK);
    assert_int_equal(g_m.n, 2);
    assert_part(vg_multipart_find(&g_m, "prompt"), "prompt", "a cat");
    const vg_mp_part *f = vg_multipart_find(&g_m, "input_reference");
    assert_part(f, "input_reference", "\x89PNG\r\n\x1a\n");
    assert_int_equal(f->filename.len, 5);
    assert_memory_equal(f->filename.ptr, "f.png", 5);
    assert_int_equal(f->content_type.len, 9);
    assert_memory_equal(f->content_type.ptr, "image/png", 9);
    assert_null(vg_multipart_find(&g_m, "prompt2"));
    assert_null(vg_multipart_find(&g_m, "promp"));
    assert_null(vg_multipart_find(&g_m, "prompt")->filename.ptr);
    /* Zero copy: the views point into the body. */
    assert_true(f->data > (const unsigned char *)body &&
                f->data < (const unsigned char *)body + strlen(body));
}

static void test_boundary_text_inside_part(void **state)
{
    (void)state;
    /* The boundary text inside a payload, at a line start without the "--", after "--" but
     * followed by other text, and as a longer word: none of these ends the part. */
    const char *data = "x--" B "\r\n"
                       "\r\n" B "\r\n"
                       "\r\n--" B "X\r\n"
                       "\r\n--" B "-\r\n"
                       "\r\n-- " B;
    char body[1024];
    snprintf(body, sizeof body,
             "--" B "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n%s\r\n--" B "--", data);
    assert_int_equal(parse(body), VG_OK);
    assert_int_equal(g_m.n, 1);
    assert_part(&g_m.parts[0], "a", data);
}

static void test_crlf_handling(void **state)
{
    (void)state;
    /* Bare CR and LF and CRLF pairs inside a payload are data; the CRLF before a delimiter is
     * not; transport padding (blanks) after a delimiter is allowed. */
    const char *body = "--" B "  \t\r\n"
                       "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
                       "\r\n\rline\n\r\n\r\n"
                       "\r\n--" B "\r\n"
                       "Content-Disposition: form-data; name=\"empty\"\r\n\r\n"
                       "\r\n--" B "\r\n"
                       "Content-Disposition: form-data; name=b\r\n\r\n"
                       "--" B "\r\n"
                       "\r\n--" B "--";
    assert_int_equal(parse(body), VG_OK);
    assert_int_equal(g_m.n, 3);
    assert_part(&g_m.parts[0], "a", "\r\n\rline\n\r\n\r\n");
    assert_part(&g_m.parts[1], "empty", "");
    assert_part(&g_m.parts[2], "b", "--" B "\r\n");
}

static void test_preamble_epilogue(void **state)
{
    (void)state;
    const char *body = "This is a preamble with --" B " inside\r\n"
                       "--" B "\r\n"
                       "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
                       "1\r\n"
                       "--" B "--\r\n"
                       "epilogue\r\n--" B "\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n"
                       "ignored\r\n--" B "--\r\n";
    assert_int_equal(parse(body), VG_OK);
    assert_int_equal(g_m.n, 1);
    assert_part(&g_m.parts[0], "a", "1");
    /* A close without a trailing CRLF is fine too. */
    assert_int_equal(
        parse("--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--" B "--"), VG_OK);
    assert_part(&g_m.parts[0], "a", "v");
}

static void test_disposition_forms(void **state)
{
    (void)state;
    const char *body = "--" B "\r\n"
                       "X-Other: 1\r\n"
                       "Content-Disposition:form-data;name=plain;filename*=utf-8''x\r\n\r\n"
                       "1\r\n--" B "\r\n"
                       "Content-Disposition: form-data; filename=\"a;b\"; name=\"n;q\"\r\n\r\n"
                       "2\r\n--" B "--";
    assert_int_equal(parse(body), VG_OK);
    assert_int_equal(g_m.n, 2);
    assert_part(&g_m.parts[0], "plain", "1");
    assert_null(g_m.parts[0].filename.ptr);
    assert_part(&g_m.parts[1], "n;q", "2");
    assert_int_equal(g_m.parts[1].filename.len, 3);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int rc;
    } cases[] = {
        {"", VG_INVALID},
        {"no delimiter at all", VG_INVALID},
        /* missing closing boundary */
        {"--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\nvalue", VG_INVALID},
        {"--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\nvalue\r\n--" B, VG_INVALID},
        {"--" B "\r\nContent-Disposition: form-data; name=a\r\n\r\nvalue\r\n--" B "\r\n",
         VG_INVALID},
        /* missing name, empty name, no headers, not form-data */
        {"--" B "\r\nContent-Disposition: form-data; filename=\"x\"\r\n\r\nv\r\n--" B "--",
         VG_INVALID},
        {"--" B "\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nv\r\n--" B "--", VG_INVALID},
        {"--" B "\r\n\r\nv\r\n--" B "--", VG_INVALID},
        {"--" B "\r\nContent-Disposition: attachment; name=a\r\n\r\nv\r\n--" B "--", VG_INVALID},
        {"--" B "\r\nContent-Type: text/plain\r\n\r\nv\r\n--" B "--", VG_INVALID},
        /* malformed header lines */
        {"--" B "\r\nno colon here\r\n\r\nv\r\n--" B "--", VG_INVALID},
        {"--" B "\r\nContent-Disposition: form-data; name=\"a\r\n\r\nv\r\n--" B "--", VG_INVALID},
        {"--" B "\r\nContent-Disposition: form-data; name=a\r\nX: \x01\r\n\r\nv\r\n--" B "--",
         VG_INVALID},
        /* headers never end */
        {"--" B "\r\nContent-Disposition: form-data; name=a\r\n", VG_INVALID},
        /* a close with no parts */
        {"--" B "--\r\n", VG_INVALID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse(cases[i].body);
        if (rc != cases[i].rc) fail_msg("case %zu: rc %d, want %d", i, rc, cases[i].rc);
        assert_true(g_m.err[0] != '\0');
    }
    assert_int_equal(vg_multipart_parse("x", 1, "", &g_m), VG_INVALID);
    assert_int_equal(vg_multipart_parse(NULL, 0, B, &g_m), VG_INVALID);
}

static void test_part_over_cap(void **state)
{
    (void)state;
    size_t big = VG_MP_MAX_PART_BYTES + 1;
    const char *head = "--" B "\r\nContent-Disposition: form-data; name=\"big\"\r\n\r\n";
    const char *tail = "\r\n--" B "--\r\n";
    size_t len = strlen(head) + big + strlen(tail);
    char *body = malloc(len);
    memcpy(body, head, strlen(head));
    memset(body + strlen(head), 'a', big);
    memcpy(body + strlen(head) + big, tail, strlen(tail));
    assert_int_equal(vg_multipart_parse(body, len, B, &g_m), VG_TOOLARGE);
    assert_non_null(strstr(g_m.err, "big"));
    /* Exactly at the cap is fine. */
    memcpy(body + len - strlen(tail) - 1, tail, strlen(tail));
    assert_int_equal(vg_multipart_parse(body, len - 1, B, &g_m), VG_OK);
    assert_int_equal(g_m.parts[0].len, VG_MP_MAX_PART_BYTES);
    free(body);
    /* The whole body has its own cap, checked before any scanning. */
    assert_int_equal(vg_multipart_parse("x", VG_MAX_MULTIPART_BODY_BYTES + 1u, B, &g_m),
                     VG_TOOLARGE);
}

static void test_too_many_parts(void **state)
{
    (void)state;
    static const char part[] = "--" B "\r\nContent-Disposition: form-data; name=p\r\n\r\nv\r\n";
    size_t n = VG_MP_MAX_PARTS + 1, plen = sizeof part - 1;
    char *body = malloc(n * plen + 32);
    for (size_t i = 0; i < n; i++)
        memcpy(body + i * plen, part, plen);
    size_t len = n * plen + (size_t)sprintf(body + n * plen, "--" B "--");
    assert_int_equal(vg_multipart_parse(body, len, B, &g_m), VG_TOOLARGE);
    /* One fewer is accepted. */
    len = (n - 1) * plen + (size_t)sprintf(body + (n - 1) * plen, "--" B "--");
    assert_int_equal(vg_multipart_parse(body, len, B, &g_m), VG_OK);
    assert_int_equal(g_m.n, VG_MP_MAX_PARTS);
    free(body);
}

static void test_header_cap(void **state)
{
    (void)state;
    size_t pad = VG_MP_MAX_PART_HEADER_BYTES + 10;
    const char *head = "--" B "\r\nContent-Disposition: form-data; name=a\r\nX-Pad: ";
    const char *tail = "\r\n\r\nv\r\n--" B "--";
    size_t len = strlen(head) + pad + strlen(tail);
    char *body = malloc(len);
    memcpy(body, head, strlen(head));
    memset(body + strlen(head), 'p', pad);
    memcpy(body + strlen(head) + pad, tail, strlen(tail));
    assert_int_equal(vg_multipart_parse(body, len, B, &g_m), VG_TOOLARGE);
    free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boundary_param),
        cmocka_unit_test(test_simple_and_lookup),
        cmocka_unit_test(test_boundary_text_inside_part),
        cmocka_unit_test(test_crlf_handling),
        cmocka_unit_test(test_preamble_epilogue),
        cmocka_unit_test(test_disposition_forms),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_part_over_cap),
        cmocka_unit_test(test_too_many_parts),
        cmocka_unit_test(test_header_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
