/*
 * test_ark.c - the Ark protocol pieces: translation of a task into a create body (every field and
 * content role) and the proof that Ark's validation (ark_check) accepts what vidgate sends; the
 * validation's refusals; reply classification; task object parsing (error / failure_reason);
 * request URLs; channel configuration, picking and trusted result hosts; the HTTP client's
 * NOT_SENT / LOST distinction against a loopback socket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/alloc.h"
#include "common/crypto.h"
#include "dispatch/channel.h"
#include "net/http_client.h"
#include "providers/ark.h"
#include "providers/ark_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- a PNG written by hand (stored deflate blocks), for data: URL checks ------------------ */

static uint32_t crc32_of(const unsigned char *p, size_t n, uint32_t c)
{
    c = ~c;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static size_t chunk(unsigned char *out, const char *tag, const unsigned char *data, size_t n)
{
    put32(out, (uint32_t)n);
    memcpy(out + 4, tag, 4);
    if (n) memcpy(out + 8, data, n);
    put32(out + 8 + n, crc32_of(out + 4, n + 4, 0));
    return n + 12;
}

/* A grey w x h RGB PNG as a data: URL (malloc'd). */
static char *png_data_url(int w, int h)
{
    size_t row = (size_t)w * 3 + 1, raw_n = row * (size_t)h;
    unsigned char *raw = vg_calloc(raw_n, 1);
    for (size_t i = 0; i < raw_n; i++)
        raw[i] = i % row ? 0x80 : 0;
    size_t blocks = (raw_n + 65534) / 65535, z_n = 2 + raw_n + blocks * 5 + 4;
    unsigned char *z = vg_malloc(z_n), *p = z;
    *p++ = 0x78, *p++ = 0x01;
    uint32_t a = 1, b = 0;
    for (size_t off = 0; off < raw_n; off += 65535) {
        size_t n = raw_n - off < 65535 ? raw_n - off : 65535;
        *p++ = off + n == raw_n;
        *p++ = (unsigned char)n, *p++ = (unsigned char)(n >> 8);
        *p++ = (unsigned char)~n, *p++ = (unsigned char)(~n >> 8);
        memcpy(p, raw + off, n);
        p += n;
    }
    for (size_t i = 0; i < raw_n; i++)
        a = (a + raw[i]) % 65521, b = (b + a) % 65521;
    put32(p, b << 16 | a);
    unsigned char ihdr[13] = {0};
    put32(ihdr, (uint32_t)w), put32(ihdr + 4, (uint32_t)h);
    ihdr[8] = 8, ihdr[9] = 2;
    unsigned char *png = vg_malloc(z_n + 64), *q = png;
    memcpy(q, "\x89PNG\r\n\x1a\n", 8);
    q += 8;
    q += chunk(q, "IHDR", ihdr, 13);
    q += chunk(q, "IDAT", z, z_n);
    q += chunk(q, "IEND", NULL, 0);
    char *b64 = vg_base64_encode(png, (size_t)(q - png));
    char *url = vg_asprintf("data:image/png;base64,%s", b64);
    free(b64), free(png), free(z), free(raw);
    return url;
}

/* ---- translation and validation ------------------------------------------------------------ */

static const char *const g_models[] = {"doubao-seedance-2-0-260128",
                                       "doubao-seedance-2-0-fast-260128"};
static const vg_ark_check_opts g_opts = {.models = g_models, .n_models = 2};

static void make_task(vg_task *t, vg_task_spec *s, const char *prompt)
{
    memset(t, 0, sizeof *t);
    memset(s, 0, sizeof *s);
    snprintf(t->id, sizeof t->id, "task_x");
    snprintf(t->model, sizeof t->model, "doubao-seedance-2-0");
    t->seconds = 7;
    t->resolution = VG_RES_1080P;
    t->ratio = VG_RATIO_9_16;
    t->seed = 4294967295LL;
    snprintf(s->model, sizeof s->model, "doubao-seedance-2-0");
    s->prompt = vg_strdup(prompt);
    s->seconds = 7;
    s->generate_audio = true;
    s->return_last_frame = true;
    s->watermark = false;
    s->camera_fixed = true;
}

static void add_media(vg_task_spec *s, vg_media_type type, vg_media_role role, const char *url)
{
    s->media[s->n_media++] = (vg_media){.type = type, .role = role, .url = vg_strdup(url)};
}

static void test_translation_every_field(void **state)
{
    (void)state;
    vg_task t;
    vg_task_spec s;
    make_task(&t, &s, "a cat, slowly");
    char *first = png_data_url(640, 360), *last = png_data_url(640, 360);
    add_media(&s, VG_MEDIA_IMAGE, VG_ROLE_FIRST_FRAME, first);
    add_media(&s, VG_MEDIA_IMAGE, VG_ROLE_LAST_FRAME, last);
    vg_ark_create_opts o = {.upstream_model = "doubao-seedance-2-0-260128",
                            .client_token = "key_1.abcd",
                            .callback_url = "https://vg.example.com/internal/ark/callback/t/tok",
                            .expires_after_s = 7200};
    json_t *body = vg_ark_create_body(&t, &s, &o);
    assert_string_equal(json_string_value(json_object_get(body, "model")), o.upstream_model);
    assert_string_equal(json_string_value(json_object_get(body, "resolution")), "1080p");
    assert_string_equal(json_string_value(json_object_get(body, "ratio")), "9:16");
    assert_int_equal(json_integer_value(json_object_get(body, "duration")), 7);
    assert_int_equal(json_integer_value(json_object_get(body, "seed")), 4294967295LL);
    assert_true(json_is_true(json_object_get(body, "generate_audio")));
    assert_true(json_is_true(json_object_get(body, "return_last_frame")));
    assert_true(json_is_false(json_object_get(body, "watermark")));
    assert_true(json_is_true(json_object_get(body, "camera_fixed")));
    assert_string_equal(json_string_value(json_object_get(body, "callback_url")), o.callback_url);
    assert_int_equal(json_integer_value(json_object_get(body, "execution_expires_after")), 7200);
    assert_string_equal(json_string_value(json_object_get(body, "safety_identifier")),
                        "key_1.abcd");
    json_t *content = json_object_get(body, "content");
    assert_int_equal(json_array_size(content), 3);
    json_t *c0 = json_array_get(content, 0), *c1 = json_array_get(content, 1),
           *c2 = json_array_get(content, 2);
    assert_string_equal(json_string_value(json_object_get(c0, "type")), "text");
    assert_string_equal(json_string_value(json_object_get(c0, "text")), "a cat, slowly");
    assert_string_equal(json_string_value(json_object_get(c1, "role")), "first_frame");
    assert_string_equal(json_string_value(json_object_get(json_object_get(c1, "image_url"), "url")),
                        first);
    assert_string_equal(json_string_value(json_object_get(c2, "role")), "last_frame");
    vg_ark_create in;
    vg_ark_err e = {0};
    assert_int_equal(vg_ark_check_create(body, &g_opts, &in, &e), 0);
    assert_true(in.has_first_frame);
    assert_int_equal(in.first_w, 640);
    assert_int_equal(in.duration, 7);
    json_decref(body);
    free(first), free(last);
    vg_task_spec_free(&s);
}

static void test_translation_reference_roles(void **state)
{
    (void)state;
    vg_task t;
    vg_task_spec s;
    make_task(&t, &s, "product turns");
    t.resolution = VG_RES_720P;
    t.ratio = VG_RATIO_ADAPTIVE;
    add_media(&s, VG_MEDIA_IMAGE, VG_ROLE_REFERENCE_IMAGE, "https://a.example.com/1.png");
    add_media(&s, VG_MEDIA_IMAGE, VG_ROLE_REFERENCE_IMAGE, "asset://asset-1");
    add_media(&s, VG_MEDIA_VIDEO, VG_ROLE_REFERENCE_VIDEO, "https://a.example.com/v.mp4");
    add_media(&s, VG_MEDIA_AUDIO, VG_ROLE_REFERENCE_AUDIO, "https://a.example.com/a.mp3");
    vg_ark_create_opts o = {.upstream_model = "doubao-seedance-2-0-fast-260128",
                            .client_token = "k.1"};
    json_t *body = vg_ark_create_body(&t, &s, &o);
    json_t *content = json_object_get(body, "content");
    static const char *const types[] = {"text", "image_url", "image_url", "video_url", "audio_url"};
    static const char *const roles[] = {NULL, "reference_image", "reference_image",
                                        "reference_video", "reference_audio"};
    assert_int_equal(json_array_size(content), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *it = json_array_get(content, i);
        assert_string_equal(json_string_value(json_object_get(it, "type")), types[i]);
        if (roles[i]) {
            assert_string_equal(json_string_value(json_object_get(it, "role")), roles[i]);
            assert_non_null(
                json_string_value(json_object_get(json_object_get(it, types[i]), "url")));
        }
    }
    assert_null(json_object_get(body, "callback_url"));
    assert_string_equal(json_string_value(json_object_get(body, "ratio")), "adaptive");
    vg_ark_create in;
    vg_ark_err e = {0};
    assert_int_equal(vg_ark_check_create(body, &g_opts, &in, &e), 0);
    assert_true(in.has_ref_video);
    json_decref(body);
    vg_task_spec_free(&s);
}

static void expect_refusal(const char *json, int status, const char *code, const char *param)
{
    json_t *body = json_loads(json, 0, NULL);
    assert_non_null(body);
    vg_ark_create in;
    vg_ark_err e = {0};
    if (vg_ark_check_create(body, &g_opts, &in, &e) == 0) fail_msg("accepted: %s", json);
    assert_int_equal(e.status, status);
    assert_string_equal(e.code, code);
    if (param) assert_string_equal(e.param, param);
    json_decref(body);
}

#define M  "\"model\":\"doubao-seedance-2-0-260128\""
#define T  "{\"type\":\"text\",\"text\":\"x\"}"
#define IM "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://e.com/i.png\"}"

static void test_check_refusals(void **state)
{
    (void)state;
    expect_refusal("{\"content\":[" T "]}", 400, "MissingParameter", "model");
    expect_refusal("{" M "}", 400, "MissingParameter", "content");
    expect_refusal("{\"model\":\"nope\",\"content\":[" T "]}", 404,
                   "InvalidEndpointOrModel.NotFound", "model");
    expect_refusal("{" M ",\"content\":[" T "],\"duration\":3}", 400, "InvalidParameter",
                   "duration");
    expect_refusal("{" M ",\"content\":[" T "],\"duration\":\"5\"}", 400, "InvalidParameter",
                   "duration");
    expect_refusal("{" M ",\"content\":[" T "],\"resolution\":\"4k\"}", 400, "InvalidParameter",
                   "resolution");
    expect_refusal("{" M ",\"content\":[" T "],\"ratio\":\"2:1\"}", 400, "InvalidParameter",
                   "ratio");
    expect_refusal("{" M ",\"content\":[" T "],\"seed\":4294967296}", 400, "InvalidParameter",
                   "seed");
    expect_refusal("{" M ",\"content\":[" T "],\"watermark\":1}", 400, "InvalidParameter",
                   "watermark");
    expect_refusal("{" M ",\"content\":[" T "],\"execution_expires_after\":60}", 400,
                   "InvalidParameter", "execution_expires_after");
    expect_refusal("{" M ",\"content\":[" T "],\"extra\":1}", 400, "InvalidParameter", "extra");
    expect_refusal("{\"model\":\"doubao-seedance-2-0-fast-260128\",\"content\":[" T
                   "],\"resolution\":\"1080p\"}",
                   400, "InvalidParameter", "resolution");
    expect_refusal("{" M ",\"content\":[" T "," IM ",\"role\":\"poster\"}]}", 400,
                   "InvalidParameter", "content[1]");
    expect_refusal("{" M ",\"content\":[" T "," IM "}," IM "}]}", 400, "InvalidParameter",
                   "content");
    expect_refusal("{" M ",\"content\":[" T "," IM ",\"role\":\"first_frame\"}," IM
                   ",\"role\":\"reference_image\"}]}",
                   400, "InvalidParameter", "content");
    expect_refusal("{" M ",\"content\":[" T "," IM ",\"role\":\"last_frame\"}]}", 400,
                   "InvalidParameter", "content");
    expect_refusal("{" M ",\"content\":[" T
                   ",{\"type\":\"audio_url\",\"audio_url\":{\"url\":\"https://e.com/a.mp3\"},"
                   "\"role\":\"reference_audio\"}]}",
                   400, "InvalidParameter", "content");
    expect_refusal("{" M ",\"content\":[" T
                   ",{\"type\":\"video_url\",\"video_url\":{\"url\":\"data:video/mp4;base64,AA==\"}"
                   ",\"role\":\"reference_video\"}]}",
                   400, "InvalidParameter", "content[1].video_url.url");
    expect_refusal("{" M ",\"content\":[" T
                   ",{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://e.com/i.png\"}}]}",
                   400, "InvalidParameter", "content[1].image_url.url");
    /* An embedded image too small for Ark (vidgate's local engine takes it). */
    char *small = png_data_url(64, 64);
    char *json = vg_asprintf("{" M ",\"content\":[" T ",{\"type\":\"image_url\",\"image_url\":"
                             "{\"url\":\"%s\"},\"role\":\"first_frame\"}]}",
                             small);
    expect_refusal(json, 400, "InvalidParameter", "content[1].image_url.url");
    free(json), free(small);
    /* Aspect outside 0.4–2.5. */
    char *wide = png_data_url(900, 300);
    json = vg_asprintf("{" M ",\"content\":[" T ",{\"type\":\"image_url\",\"image_url\":"
                       "{\"url\":\"%s\"}}]}",
                       wide);
    expect_refusal(json, 400, "InvalidParameter", "content[1].image_url.url");
    free(json), free(wide);
}

static void test_check_defaults(void **state)
{
    (void)state;
    json_t *body = json_loads("{" M ",\"content\":[" T "," IM "}]}", 0, NULL);
    vg_ark_create in;
    vg_ark_err e = {0};
    assert_int_equal(vg_ark_check_create(body, &g_opts, &in, &e), 0);
    assert_string_equal(in.resolution, "720p");
    assert_string_equal(in.ratio, "adaptive");
    assert_int_equal(in.duration, 5);
    assert_int_equal(in.seed, -1);
    assert_true(in.has_first_frame); /* a single image without a role */
    assert_int_equal(in.expires_after_s, 172800);
    json_decref(body);
    json_t *ej = vg_ark_err_json(&(vg_ark_err){.status = 429, .code = "RateLimitExceeded"});
    assert_string_equal(json_string_value(json_object_get(json_object_get(ej, "error"), "type")),
                        "TooManyRequests");
    json_decref(ej);
}

/* ---- replies ------------------------------------------------------------------------------- */

static void classify(vg_http_outcome out, long status, const char *body, int ra, vg_up_class want,
                     const char *code)
{
    vg_http_resp r = {.outcome = out,
                      .status = status,
                      .body = (char *)body,
                      .body_len = body ? strlen(body) : 0,
                      .retry_after_s = ra};
    vg_up_error e;
    vg_ark_classify(&r, &e);
    assert_int_equal(e.cls, want);
    if (code) assert_string_equal(e.code, code);
}

static void test_classification(void **state)
{
    (void)state;
    const char *err429 = "{\"error\":{\"code\":\"RateLimitExceeded.EndpointRPMExceeded\","
                         "\"message\":\"slow down\",\"param\":\"\",\"type\":\"TooManyRequests\"}}";
    classify(VG_HTTP_DONE, 200, "{}", -1, VG_UP_OK, NULL);
    classify(VG_HTTP_DONE, 429, err429, 3, VG_UP_TRANSIENT,
             "RateLimitExceeded.EndpointRPMExceeded");
    classify(VG_HTTP_DONE, 503, "", -1, VG_UP_TRANSIENT, "upstream_http_503");
    classify(VG_HTTP_DONE, 408, "", -1, VG_UP_TRANSIENT, NULL);
    classify(VG_HTTP_DONE, 500, "oops", -1, VG_UP_AMBIGUOUS, "upstream_http_500");
    classify(VG_HTTP_DONE, 502, "", -1, VG_UP_AMBIGUOUS, NULL);
    classify(VG_HTTP_DONE, 504, "", -1, VG_UP_AMBIGUOUS, NULL);
    classify(VG_HTTP_DONE, 400,
             "{\"error\":{\"code\":\"InvalidParameter\",\"message\":\"m\",\"param\":\"x\"}}", -1,
             VG_UP_REFUSED, "InvalidParameter");
    classify(VG_HTTP_DONE, 404, "", -1, VG_UP_REFUSED, NULL);
    classify(VG_HTTP_DONE, 401, "{\"error\":{\"code\":\"AuthenticationError\",\"message\":\"k\"}}",
             -1, VG_UP_TRANSIENT, "AuthenticationError");
    classify(VG_HTTP_NOT_SENT, 0, NULL, -1, VG_UP_TRANSIENT, "upstream_unreachable");
    classify(VG_HTTP_LOST, 0, NULL, -1, VG_UP_AMBIGUOUS, "upstream_no_reply");
    vg_http_resp r = {.outcome = VG_HTTP_DONE,
                      .status = 429,
                      .body = (char *)err429,
                      .body_len = strlen(err429),
                      .retry_after_s = 7};
    vg_up_error e;
    vg_ark_classify(&r, &e);
    assert_int_equal(e.retry_after_s, 7);
    assert_false(e.channel_fault);
}

static void test_task_parse(void **state)
{
    (void)state;
    json_t *q = json_loads(
        "{\"id\":\"cgt-1\",\"model\":\"m\",\"status\":\"succeeded\",\"error\":null,"
        "\"content\":{\"video_url\":\"https://x/v.mp4\",\"last_frame_url\":\"https://x/l.png\"},"
        "\"usage\":{\"completion_tokens\":108900,\"total_tokens\":108900},\"created_at\":10,"
        "\"seed\":42,\"resolution\":\"720p\",\"ratio\":\"16:9\",\"duration\":5,"
        "\"safety_identifier\":\"key_1.ab\"}",
        0, NULL);
    vg_up_task t;
    assert_int_equal(vg_ark_task_parse(q, &t), 0);
    assert_string_equal(t.id, "cgt-1");
    assert_int_equal(t.status, VG_UP_SUCCEEDED);
    assert_string_equal(t.video_url, "https://x/v.mp4");
    assert_string_equal(t.last_frame_url, "https://x/l.png");
    assert_int_equal(t.tokens, 108900);
    assert_int_equal(t.seed, 42);
    assert_string_equal(t.ratio, "16:9");
    assert_string_equal(t.client_token, "key_1.ab");
    vg_up_task_free(&t);
    json_decref(q);
    json_t *li = json_loads("{\"id\":\"cgt-2\",\"status\":\"failed\",\"failure_reason\":{\"code\":"
                            "\"OutputVideoSensitiveContentDetected\",\"message\":\"no\"}}",
                            0, NULL);
    assert_int_equal(vg_ark_task_parse(li, &t), 0);
    assert_int_equal(t.status, VG_UP_FAILED);
    assert_string_equal(t.error_code, "OutputVideoSensitiveContentDetected");
    assert_null(t.video_url);
    vg_up_task_free(&t);
    json_decref(li);
    json_t *odd = json_loads("{\"id\":\"cgt-3\",\"status\":\"paused\"}", 0, NULL);
    assert_int_equal(vg_ark_task_parse(odd, &t), 0);
    assert_int_equal(t.status, VG_UP_UNKNOWN);
    json_decref(odd);
    json_t *bad = json_loads("{\"status\":\"queued\"}", 0, NULL);
    assert_int_equal(vg_ark_task_parse(bad, &t), -1);
    json_decref(bad);
    static const char *const names[] = {"queued", "running",   "succeeded",
                                        "failed", "cancelled", "expired"};
    for (int i = 0; i < 6; i++)
        assert_int_equal(vg_ark_status_parse(names[i]), i);
}

static void test_sniff(void **state)
{
    (void)state;
    static const struct {
        const char *bytes;
        size_t n;
        const char *mime;
    } cases[] = {
        {"\xff\xd8\xff\xe0", 4, "image/jpeg"},
        {"\x89PNG\r\n", 6, "image/png"},
        {"RIFF\0\0\0\0WEBPVP8", 15, "image/webp"},
        {"RIFF\0\0\0\0WAVEfmt", 15, "audio/wav"},
        {"GIF89a", 6, "image/gif"},
        {"ID3\3", 4, "audio/mpeg"},
        {"II*\0", 4, "image/tiff"},
        {"hello", 5, "application/octet-stream"},
        {"\xff", 1, "application/octet-stream"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(vg_ark_sniff_mime((const unsigned char *)cases[i].bytes, cases[i].n),
                            cases[i].mime);
}

static void test_urls(void **state)
{
    (void)state;
    char url[512];
    assert_int_equal(vg_ark_task_url("https://ark.example.com/api/v3", "cgt-1 x", url, sizeof url),
                     0);
    assert_string_equal(url, "https://ark.example.com/api/v3/contents/generations/tasks/cgt-1%20x");
    const char *ids[] = {"a", "b&c"};
    assert_int_equal(vg_ark_list_url("https://h/api/v3", ids, 2, "m:1", 1, 2, url, sizeof url), 0);
    assert_string_equal(url, "https://h/api/v3/contents/generations/tasks?page_num=1&page_size=2"
                             "&filter.task_ids=a&filter.task_ids=b%26c&filter.model=m%3A1");
    char tiny[40];
    assert_int_equal(vg_ark_list_url("https://h/api/v3", ids, 2, NULL, 1, 2, tiny, sizeof tiny),
                     -1);
}

/* ---- channels ------------------------------------------------------------------------------ */

static vg_channels *build(const char *json, char *err, size_t n)
{
    json_t *arr = json_loads(json, 0, NULL);
    vg_channels *s = vg_channels_build(arr, err, n);
    json_decref(arr);
    return s;
}

static void test_channels_config(void **state)
{
    (void)state;
    char err[256];
    setenv("VG_TEST_ARK_KEY", "secret-1", 1);
    unsetenv("VG_TEST_ARK_MISSING");
    vg_channels *s = vg_channels_build(NULL, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(s->n, 1);
    assert_int_equal(s->local, 0);
    assert_false(s->any_upstream);
    vg_channels_unref(s);
    s = build("[{\"name\":\"a\",\"type\":\"ark\",\"base_url\":\"http://127.0.0.1:9/api/v3/\","
              "\"api_key_env\":\"VG_TEST_ARK_KEY\",\"models\":{\"doubao-seedance-2-0\":\"x-1\"},"
              "\"priority\":5,\"max_active\":3,\"timeout_ms\":1500,\"requests_per_s\":2.5},"
              "{\"name\":\"l\",\"type\":\"local\"}]",
              err, sizeof err);
    assert_non_null(s);
    assert_true(s->any_upstream);
    assert_int_equal(s->local, 1);
    const vg_channel *a = vg_channels_find(s, "a");
    assert_string_equal(a->base_url, "http://127.0.0.1:9/api/v3");
    assert_string_equal(a->api_key, "secret-1");
    assert_int_equal(a->timeout_ms, 1500);
    assert_true(a->requests_per_s > 2.4 && a->requests_per_s < 2.6);
    assert_string_equal(vg_channel_model(a, "doubao-seedance-2-0"), "x-1");
    assert_null(vg_channel_model(a, "doubao-seedance-2-0-fast"));
    assert_string_equal(vg_channel_model(&s->ch[1], "doubao-seedance-2-0-fast"),
                        "doubao-seedance-2-0-fast");
    json_t *pj = vg_channels_to_json(s);
    char *printed = json_dumps(pj, 0);
    assert_null(strstr(printed, "secret-1")); /* never the key */
    free(printed);
    json_decref(pj);
    vg_channels_unref(s);
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"[{\"name\":\"a\",\"type\":\"ark\",\"base_url\":\"http://h\",\"api_key_env\":"
         "\"VG_TEST_ARK_MISSING\",\"models\":{\"doubao-seedance-2-0\":\"x\"}}]",
         "VG_TEST_ARK_MISSING"},
        {"[{\"name\":\"a\",\"type\":\"grpc\"}]", "type"},
        {"[{\"name\":\"a\",\"type\":\"local\"},{\"name\":\"a\",\"type\":\"local\"}]", "twice"},
        {"[{\"name\":\"a\",\"type\":\"local\"},{\"name\":\"b\",\"type\":\"local\"}]", "one local"},
        {"[{\"name\":\"a\",\"type\":\"ark\",\"base_url\":\"http://h\",\"api_key_env\":"
         "\"VG_TEST_ARK_KEY\",\"models\":{\"no-such-model\":\"x\"}}]",
         "no-such-model"},
        {"[{\"name\":\"a\",\"type\":\"ark\",\"api_key_env\":\"VG_TEST_ARK_KEY\",\"models\":"
         "{\"doubao-seedance-2-0\":\"x\"}}]",
         "base_url"},
        {"[{\"name\":\"a\",\"type\":\"local\",\"colour\":\"red\"}]", "colour"},
        {"[{\"name\":\"a\",\"type\":\"local\",\"weight\":0}]", "weight"},
        {"[]", "channels"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        s = build(bad[i].json, err, sizeof err);
        if (s) fail_msg("accepted %s", bad[i].json);
        if (!strstr(err, bad[i].why)) fail_msg("%s: \"%s\" lacks %s", bad[i].json, err, bad[i].why);
    }
}

static void test_channel_pick(void **state)
{
    (void)state;
    char err[256];
    setenv("VG_TEST_ARK_KEY", "k", 1);
    vg_channels *s =
        build("[{\"name\":\"hi\",\"type\":\"ark\",\"base_url\":\"http://h1\",\"api_key_env\":"
              "\"VG_TEST_ARK_KEY\",\"models\":{\"doubao-seedance-2-0\":\"x\"},\"priority\":10,"
              "\"max_active\":2},"
              "{\"name\":\"lo1\",\"type\":\"ark\",\"base_url\":\"http://h2\",\"api_key_env\":"
              "\"VG_TEST_ARK_KEY\",\"models\":{\"doubao-seedance-2-0\":\"x\"},\"weight\":3},"
              "{\"name\":\"lo2\",\"type\":\"ark\",\"base_url\":\"http://h3\",\"api_key_env\":"
              "\"VG_TEST_ARK_KEY\",\"models\":{\"doubao-seedance-2-0\":\"x\"},\"weight\":1}]",
              err, sizeof err);
    assert_non_null(s);
    int64_t active[3] = {0, 0, 0}, cool[3] = {0, 0, 0};
    bool served;
    assert_int_equal(
        vg_channel_pick(s, "doubao-seedance-2-0", active, cool, 1000, NULL, 7, &served), 0);
    assert_true(served);
    assert_int_equal(
        vg_channel_pick(s, "doubao-seedance-2-0-fast", active, cool, 1000, NULL, 7, &served), -1);
    assert_false(served);
    active[0] = 2; /* full: the lower priority shares by weight 3:1 */
    int counts[3] = {0, 0, 0};
    uint32_t r = 12345;
    for (int i = 0; i < 4000; i++) {
        r = r * 1103515245u + 12345u;
        counts[vg_channel_pick(s, "doubao-seedance-2-0", active, cool, 1000, NULL, r >> 3,
                               &served)]++;
    }
    assert_int_equal(counts[0], 0);
    assert_true(counts[1] > 2700 && counts[1] < 3300);
    active[0] = 0;
    cool[0] = 5000; /* cooling down until 5 s */
    assert_int_not_equal(
        vg_channel_pick(s, "doubao-seedance-2-0", active, cool, 1000, NULL, 1, &served), 0);
    cool[0] = 0;
    /* The channel to avoid is skipped while another qualifies, else taken. */
    assert_int_not_equal(
        vg_channel_pick(s, "doubao-seedance-2-0", active, cool, 1000, "hi", 1, &served), 0);
    cool[1] = cool[2] = 5000;
    assert_int_equal(
        vg_channel_pick(s, "doubao-seedance-2-0", active, cool, 1000, "hi", 1, &served), 0);
    const vg_channel *hi = vg_channels_find(s, "hi");
    assert_true(vg_channel_trusts_url(hi, "http://h1/sim/files/x/video.mp4?sig=1"));
    assert_false(vg_channel_trusts_url(hi, "http://h2/video.mp4"));
    assert_false(vg_channel_trusts_url(hi, "not a url"));
    vg_channels_unref(s);
}

/* ---- HTTP client outcomes ------------------------------------------------------------------ */

static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 8) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

/* Accepts one connection, reads the request, closes without answering. */
static void *drop_one(void *arg)
{
    int fd = *(int *)arg, c = accept(fd, NULL, NULL);
    char buf[4096];
    if (c >= 0) {
        if (read(c, buf, sizeof buf) < 0) buf[0] = 0;
        close(c);
    }
    return NULL;
}

/* A keep-alive server: answers every request 200 except the drop_at-th, whose connection it
 * closes without a reply. Counts requests and connections. */
static struct {
    int fd, drop_at;
    atomic_int requests, connections;
} ka;

static int read_request(int c)
{
    char buf[8192];
    size_t n = 0;
    while (n < sizeof buf - 1) {
        ssize_t k = read(c, buf + n, sizeof buf - 1 - n);
        if (k <= 0) return -1;
        n += (size_t)k;
        buf[n] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        char *cl = strstr(buf, "Content-Length: ");
        size_t body = cl ? (size_t)atoi(cl + 16) : 0;
        while (n < (size_t)(end + 4 - buf) + body && (k = read(c, buf + n, sizeof buf - 1 - n)) > 0)
            n += (size_t)k;
        return 0;
    }
    return -1;
}

static void *keepalive_conn(void *arg)
{
    int c = (int)(intptr_t)arg;
    while (read_request(c) == 0) {
        if (atomic_fetch_add(&ka.requests, 1) + 1 == ka.drop_at) break;
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        if (write(c, ok, sizeof ok - 1) < 0) break;
    }
    close(c);
    return NULL;
}

static void *keepalive_server(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(ka.fd, NULL, NULL);
        if (c < 0) return NULL;
        atomic_fetch_add(&ka.connections, 1);
        pthread_t th;
        pthread_create(&th, NULL, keepalive_conn, (void *)(intptr_t)c);
        pthread_detach(th);
    }
}

static void test_post_never_resent(void **state)
{
    (void)state;
    int port = 0;
    ka.fd = listen_loopback(&port);
    ka.drop_at = 2;
    pthread_t th;
    pthread_create(&th, NULL, keepalive_server, NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/tasks", port);
    vg_http_client *c = vg_http_client_new();
    vg_http_req get = {.method = "GET", .url = url, .timeout_ms = 3000};
    vg_http_req post = {.method = "POST", .url = url, .body = "{}", .timeout_ms = 3000};
    vg_http_resp rs;
    assert_int_equal(vg_http_do(c, &get, &rs), VG_OK);
    vg_http_resp_free(&rs);
    /* The create's connection dies without a reply: LOST, and it was sent exactly once (a
     * reused connection would have made libcurl resend it on its own). */
    assert_int_equal(vg_http_do(c, &post, &rs), VG_AGAIN);
    assert_int_equal(rs.outcome, VG_HTTP_LOST);
    vg_http_resp_free(&rs);
    assert_int_equal(atomic_load(&ka.requests), 2);
    assert_int_equal(atomic_load(&ka.connections), 2);
    vg_http_client_free(c);
    shutdown(ka.fd, SHUT_RDWR);
    close(ka.fd);
    pthread_join(th, NULL);
}

static void test_http_outcomes(void **state)
{
    (void)state;
    int port = 0, fd = listen_loopback(&port);
    assert_true(fd >= 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
    pthread_t th;
    pthread_create(&th, NULL, drop_one, &fd);
    vg_http_client *c = vg_http_client_new();
    vg_http_req rq = {.method = "POST", .url = url, .body = "{}", .timeout_ms = 3000};
    vg_http_resp rs;
    assert_int_equal(vg_http_do(c, &rq, &rs), VG_AGAIN);
    assert_int_equal(rs.outcome, VG_HTTP_LOST); /* sent, then no answer */
    vg_http_resp_free(&rs);
    pthread_join(th, NULL);
    close(fd);
    assert_int_equal(vg_http_do(c, &rq, &rs), VG_AGAIN); /* nobody listens now */
    assert_int_equal(rs.outcome, VG_HTTP_NOT_SENT);
    vg_http_resp_free(&rs);
    rq.public_only = true; /* loopback refused before any byte */
    assert_int_equal(vg_http_do(c, &rq, &rs), VG_AGAIN);
    assert_int_equal(rs.outcome, VG_HTTP_NOT_SENT);
    vg_http_resp_free(&rs);
    vg_http_client_free(c);
    char q[64] = "";
    vg_http_query_escape(q, sizeof q, "a b/ü");
    assert_string_equal(q, "a%20b%2F%C3%BC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translation_every_field),
        cmocka_unit_test(test_translation_reference_roles),
        cmocka_unit_test(test_check_refusals),
        cmocka_unit_test(test_check_defaults),
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_task_parse),
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_channels_config),
        cmocka_unit_test(test_channel_pick),
        cmocka_unit_test(test_http_outcomes),
        cmocka_unit_test(test_post_never_resent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
