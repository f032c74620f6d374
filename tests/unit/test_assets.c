/* test_assets.c - the asset domain without a store: the id format, the validation rules of each
 * AssetType (table-driven), asset:// references, the Volcengine envelope and the asset objects,
 * and the FFmpeg probe on files written here (a BMP, its truncation, garbage, a WAV). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/asset_json.h"
#include "core/asset.h"
#include "assets/probe.h"
#include "common/fsutil.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- ids --------------------------------------------------------------------------------- */

static void test_id_format(void **state)
{
    (void)state;
    char a[VG_ASSET_ID_MAX], b[VG_ASSET_ID_MAX];
    vg_asset_id_new("asset", 1795519800, a); /* 2026-11-24 11:30:00 UTC */
    vg_asset_id_new("asset", 1795519800, b);
    assert_int_equal(strlen(a), strlen("asset-20261124113000-") + VG_ASSET_ID_RANDOM_CHARS);
    assert_memory_equal(a, "asset-20261124113000-", 21);
    assert_true(strspn(a + 21, "abcdefghijklmnopqrstuvwxyz0123456789") == VG_ASSET_ID_RANDOM_CHARS);
    assert_string_not_equal(a, b);
    assert_true(vg_asset_id_valid(a, "asset"));
    assert_false(vg_asset_id_valid(a, "group"));
    vg_asset_id_new("group", 0, b);
    assert_memory_equal(b, "group-19700101000000-", 21);
    assert_true(vg_asset_id_valid(b, "group"));
}

static void test_id_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "asset",
        "asset-",
        "asset-20261124113000-",
        "asset-2026112411300-abcdefghijklmnop",
        "asset-20261124113000-abcdefghijklmnoP",
        "asset-20261124113000-abcdefghijklmno",
        "asset-20261124113000-abcdefghijklmnopq",
        "asset_20261124113000-abcdefghijklmnop",
        "asset-20261124113000_abcdefghijklmnop",
        "asset-2026112411300x-abcdefghijklmnop",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(vg_asset_id_valid(bad[i], "asset"));
    assert_true(vg_asset_id_valid("asset-20261124113000-abcdefghijklmnop", "asset"));
}

/* Every character of the random part is used: 2000 ids cover all 36 of them. */
static void test_id_alphabet(void **state)
{
    (void)state;
    int seen[256] = {0};
    for (int i = 0; i < 2000; i++) {
        char id[VG_ASSET_ID_MAX];
        vg_asset_id_new("asset", 0, id);
        for (const char *p = id + 21; *p; p++)
            seen[(unsigned char)*p]++;
    }
    for (const char *p = "abcdefghijklmnopqrstuvwxyz0123456789"; *p; p++)
        assert_true(seen[(unsigned char)*p] > 0);
}

/* ---- validation rules -------------------------------------------------------------------- */

typedef struct {
    vg_asset_type type;
    const char *format;
    int64_t size;
    int w, h;
    int64_t ms;
    const char *code; /* NULL = accepted */
} rule_case;

static const rule_case rule_cases[] = {
    {VG_ASSET_IMAGE, "png", 1000, 640, 360, 0, NULL},
    {VG_ASSET_IMAGE, "jpeg", 1000, 300, 300, 0, NULL},
    {VG_ASSET_IMAGE, "webp", 1000, 6000, 6000, 0, NULL},
    {VG_ASSET_IMAGE, "bmp", 1000, 400, 1000, 0, NULL}, /* 0.4 exactly */
    {VG_ASSET_IMAGE, "gif", 1000, 1000, 400, 0, NULL}, /* 2.5 exactly */
    {VG_ASSET_IMAGE, "png", 29999999, 640, 360, 0, NULL},
    {VG_ASSET_IMAGE, "png", 30000000, 640, 360, 0, "FileTooLarge"}, /* < 30 MB */
    {VG_ASSET_IMAGE, "png", 31000000, 640, 360, 0, "FileTooLarge"},
    {VG_ASSET_IMAGE, "png", 1000, 299, 400, 0, "InvalidDimensions"},
    {VG_ASSET_IMAGE, "png", 1000, 400, 299, 0, "InvalidDimensions"},
    {VG_ASSET_IMAGE, "png", 1000, 6001, 3000, 0, "InvalidDimensions"},
    {VG_ASSET_IMAGE, "png", 1000, 1040, 400, 0, "InvalidAspectRatio"}, /* 2.6 */
    {VG_ASSET_IMAGE, "png", 1000, 399, 1000, 0, "InvalidAspectRatio"}, /* 0.399 */
    {VG_ASSET_IMAGE, "tiff", 1000, 640, 360, 0, "UnsupportedFormat"},
    {VG_ASSET_IMAGE, "mp4", 1000, 640, 360, 4000, "UnsupportedFormat"},
    {VG_ASSET_IMAGE, "", 1000, 0, 0, 0, "UnsupportedFormat"},
    {VG_ASSET_VIDEO, "mp4", 50000000, 864, 496, 4042, NULL},
    {VG_ASSET_VIDEO, "mov", 1000, 864, 496, 2000, NULL},
    {VG_ASSET_VIDEO, "mp4", 1000, 864, 496, 15050, NULL}, /* container rounding */
    {VG_ASSET_VIDEO, "mp4", 50000001, 864, 496, 4042, "FileTooLarge"},
    {VG_ASSET_VIDEO, "mp4", 1000, 864, 496, 1999, "InvalidDuration"},
    {VG_ASSET_VIDEO, "mp4", 1000, 864, 496, 15100, "InvalidDuration"},
    {VG_ASSET_VIDEO, "png", 1000, 640, 360, 0, "UnsupportedFormat"},
    {VG_ASSET_VIDEO, "wav", 1000, 0, 0, 4000, "UnsupportedFormat"},
    {VG_ASSET_AUDIO, "wav", 15000000, 0, 0, 3000, NULL},
    {VG_ASSET_AUDIO, "mp3", 1000, 0, 0, 15000, NULL},
    {VG_ASSET_AUDIO, "wav", 15000001, 0, 0, 3000, "FileTooLarge"},
    {VG_ASSET_AUDIO, "wav", 1000, 0, 0, 1000, "InvalidDuration"},
    {VG_ASSET_AUDIO, "mp4", 1000, 864, 496, 4000, "UnsupportedFormat"},
};

static void test_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof rule_cases / sizeof rule_cases[0]; i++) {
        const rule_case *c = &rule_cases[i];
        vg_asset_media m = {
            .size_bytes = c->size, .width = c->w, .height = c->h, .duration_ms = c->ms};
        snprintf(m.format, sizeof m.format, "%s", c->format);
        const char *code = NULL;
        char msg[256] = "";
        int rc = vg_asset_check(c->type, &m, &code, msg, sizeof msg);
        if (!c->code) {
            if (rc != VG_OK) print_error("case %zu refused: %s\n", i, msg);
            assert_int_equal(rc, VG_OK);
        } else {
            if (rc != VG_INVALID || strcmp(code, c->code) != 0)
                print_error("case %zu: want %s, got %s (%s)\n", i, c->code, code ? code : "-", msg);
            assert_int_equal(rc, VG_INVALID);
            assert_string_equal(code, c->code);
            assert_true(msg[0] != '\0');
        }
    }
}

static void test_names_and_mimes(void **state)
{
    (void)state;
    assert_int_equal(vg_asset_type_parse("Video"), VG_ASSET_VIDEO);
    assert_int_equal(vg_asset_type_parse("video"), -1);
    assert_int_equal(vg_asset_status_parse("Active"), VG_ASSET_ACTIVE);
    assert_int_equal(vg_asset_status_parse("Deleted"), -1);
    assert_string_equal(vg_asset_status_name(VG_ASSET_FAILED), "Failed");
    assert_string_equal(vg_asset_format_mime("mov"), "video/quicktime");
    assert_string_equal(vg_asset_format_mime("png"), "image/png");
    assert_string_equal(vg_asset_format_mime("x"), "application/octet-stream");
    assert_int_equal(vg_utf8_chars("héllo"), 5);
    assert_int_equal(vg_utf8_chars("橘猫"), 2);
}

/* ---- references -------------------------------------------------------------------------- */

static void test_refs(void **state)
{
    (void)state;
    char ref[VG_ASSET_REF_MAX], id[VG_ASSET_ID_MAX], sha[65];
    const char *hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    vg_asset_ref_format("asset-20261124113000-abcdefghijklmnop", hash, ref);
    assert_int_equal(vg_asset_ref_parse(ref, id, sha), 0);
    assert_string_equal(id, "asset-20261124113000-abcdefghijklmnop");
    assert_string_equal(sha, hash);
    assert_int_equal(vg_asset_ref_parse("asset://asset_xxx", id, sha), 0);
    assert_string_equal(id, "asset_xxx");
    assert_string_equal(sha, "");
    static const char *const bad[] = {"asset://",
                                      "https://x/y",
                                      "asset://a?sha256=12",
                                      "asset://a?sha256=0123456789ABCDEF0123456789abcdef0123456"
                                      "789abcdef0123456789abcdef",
                                      "asset://a/b",
                                      "asset://a?x=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(vg_asset_ref_parse(bad[i], id, sha), -1);
}

/* ---- the envelope and the objects --------------------------------------------------------- */

static void test_envelope(void **state)
{
    (void)state;
    json_t *ok =
        vg_asset_envelope("req_1", "CreateAsset", json_pack("{s:s}", "Id", "asset-x"), NULL, NULL);
    char *text = json_dumps(ok, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(text, "{\"ResponseMetadata\":{\"RequestId\":\"req_1\",\"Action\":"
                              "\"CreateAsset\",\"Version\":\"2024-01-01\",\"Service\":\"ark\"},"
                              "\"Result\":{\"Id\":\"asset-x\"}}");
    free(text);
    json_decref(ok);
    json_t *empty = vg_asset_envelope("r", "DeleteAsset", NULL, NULL, NULL);
    assert_int_equal(json_object_size(json_object_get(empty, "Result")), 0);
    json_decref(empty);
    json_t *err = vg_asset_envelope("req_2", "GetAsset", NULL, "NotFound", "asset not found");
    assert_null(json_object_get(err, "Result"));
    json_t *e = json_object_get(json_object_get(err, "ResponseMetadata"), "Error");
    assert_string_equal(json_string_value(json_object_get(e, "Code")), "NotFound");
    assert_string_equal(json_string_value(json_object_get(e, "Message")), "asset not found");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(err, "ResponseMetadata"), "Action")),
        "GetAsset");
    json_decref(err);
}

static void test_objects(void **state)
{
    (void)state;
    vg_api_env app = {.secret = "00112233445566778899aabbccddeeff", .public_url = "http://h:1"};
    vg_asset a;
    memset(&a, 0, sizeof a);
    snprintf(a.id, sizeof a.id, "asset-1");
    snprintf(a.name, sizeof a.name, "n");
    snprintf(a.group_id, sizeof a.group_id, "group-1");
    a.created_at = 1795519800;
    a.updated_at = 1795519801;
    a.status = VG_ASSET_PROCESSING;
    json_t *j = vg_asset_json(&app, &a, 1795519800);
    assert_null(json_object_get(j, "URL"));
    assert_null(json_object_get(j, "Error"));
    assert_string_equal(json_string_value(json_object_get(j, "CreateTime")),
                        "2026-11-24T11:30:00Z");
    assert_string_equal(json_string_value(json_object_get(j, "UpdateTime")),
                        "2026-11-24T11:30:01Z");
    assert_string_equal(json_string_value(json_object_get(j, "AssetType")), "Image");
    json_decref(j);
    a.status = VG_ASSET_ACTIVE;
    j = vg_asset_json(&app, &a, 1795519800);
    const char *url = json_string_value(json_object_get(j, "URL"));
    assert_non_null(url);
    /* valid for at least a day from now, the same URL all hour */
    assert_non_null(strstr(url, "http://h:1/assets/asset-1/content?expires=1795608000&sig="));
    json_t *j2 = vg_asset_json(&app, &a, 1795519800 + 1799);
    assert_string_equal(url, json_string_value(json_object_get(j2, "URL")));
    json_decref(j2);
    json_decref(j);
    a.status = VG_ASSET_FAILED;
    snprintf(a.error_code, sizeof a.error_code, "InvalidDimensions");
    j = vg_asset_json(&app, &a, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "Error"), "Code")),
                        "InvalidDimensions");
    assert_null(json_object_get(j, "URL"));
    json_decref(j);
}

/* ---- the probe ----------------------------------------------------------------------------- */

static void put_le(unsigned char *p, uint32_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* A 24-bit BMP of w x h with a gradient. */
static void write_bmp(const char *path, int w, int h, size_t cut)
{
    size_t row = ((size_t)w * 3 + 3) & ~(size_t)3, size = 54 + row * (size_t)h;
    unsigned char *b = calloc(1, size);
    b[0] = 'B';
    b[1] = 'M';
    put_le(b + 2, (uint32_t)size, 4);
    put_le(b + 10, 54, 4);
    put_le(b + 14, 40, 4);
    put_le(b + 18, (uint32_t)w, 4);
    put_le(b + 22, (uint32_t)h, 4);
    put_le(b + 26, 1, 2);
    put_le(b + 28, 24, 2);
    put_le(b + 34, (uint32_t)(row * (size_t)h), 4);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *px = b + 54 + row * (size_t)y + (size_t)x * 3;
            px[0] = (unsigned char)x, px[1] = (unsigned char)y, px[2] = (unsigned char)(x + y);
        }
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, cut ? cut : size, f);
    fclose(f);
    free(b);
}

static void write_wav(const char *path, int seconds)
{
    int rate = 8000, n = rate * seconds;
    unsigned char h[44] = "RIFF\0\0\0\0WAVEfmt ";
    put_le(h + 4, (uint32_t)(36 + 2 * n), 4);
    put_le(h + 16, 16, 4);
    put_le(h + 20, 1, 2);
    put_le(h + 22, 1, 2);
    put_le(h + 24, (uint32_t)rate, 4);
    put_le(h + 28, (uint32_t)rate * 2, 4);
    put_le(h + 32, 2, 2);
    put_le(h + 34, 16, 2);
    memcpy(h + 36, "data", 4);
    put_le(h + 40, (uint32_t)(2 * n), 4);
    FILE *f = fopen(path, "wb");
    fwrite(h, 1, sizeof h, f);
    for (int i = 0; i < n; i++) {
        short s = (short)((i % 40) * 500 - 10000);
        fwrite(&s, 2, 1, f);
    }
    fclose(f);
}

static void test_probe(void **state)
{
    (void)state;
    char dir[] = "/tmp/vg-probe-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    vg_asset_media m;
    const char *code = NULL;
    char msg[256];

    snprintf(path, sizeof path, "%s/image.jpg", dir); /* the name lies: it is a BMP */
    write_bmp(path, 320, 400, 0);
    assert_int_equal(vg_asset_probe(path, &m, &code, msg, sizeof msg), VG_OK);
    assert_string_equal(m.format, "bmp");
    assert_int_equal(m.width, 320);
    assert_int_equal(m.height, 400);
    assert_int_equal(m.size_bytes, 54 + 960 * 400);

    write_bmp(path, 320, 400, 54 + 960 * 100); /* truncated */
    assert_int_equal(vg_asset_probe(path, &m, &code, msg, sizeof msg), VG_INVALID);
    assert_string_equal(code, "DecodeFailed");

    FILE *f = fopen(path, "wb");
    fputs("this is not a picture, it is a sentence repeated. ", f);
    fclose(f);
    assert_int_equal(vg_asset_probe(path, &m, &code, msg, sizeof msg), VG_INVALID);
    assert_string_equal(code, "UnsupportedFormat");

    snprintf(path, sizeof path, "%s/sound", dir);
    write_wav(path, 3);
    assert_int_equal(vg_asset_probe(path, &m, &code, msg, sizeof msg), VG_OK);
    assert_string_equal(m.format, "wav");
    assert_int_equal(m.duration_ms, 3000);

    snprintf(path, sizeof path, "%s/missing", dir);
    assert_int_equal(vg_asset_probe(path, &m, &code, msg, sizeof msg), VG_ERR);
    vg_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_format),       cmocka_unit_test(test_id_rejects),
        cmocka_unit_test(test_id_alphabet),     cmocka_unit_test(test_rules),
        cmocka_unit_test(test_names_and_mimes), cmocka_unit_test(test_refs),
        cmocka_unit_test(test_envelope),        cmocka_unit_test(test_objects),
        cmocka_unit_test(test_probe),
    };
    return cmocka_run_group_tests_name("assets", tests, NULL, NULL);
}
