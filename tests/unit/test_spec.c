/*
 * test_spec.c - submit-body validation (spec §3): one case per rule, each asserting the HTTP
 * status, the error code and the param; happy paths for the seed's three curl bodies and the
 * defaults; and the data: URL decoder the image rules rely on.
 *
 * Bodies in the tables are written with single quotes for readability; body() turns them into JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/limits.h"
#include "core/dataurl.h"
#include "core/spec.h"
#include "common/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PNG          "data:image/png;base64,iVBORw0KGgo="
#define MP3          "data:audio/mpeg;base64,SUQzBAAAAAAA"
#define IMG(u, role) "{'type':'image_url','image_url':{'url':'" u "'},'role':'" role "'}"
#define IMG0(u)      "{'type':'image_url','image_url':{'url':'" u "'}}"
#define VID(u)       "{'type':'video_url','video_url':{'url':'" u "'}}"
#define AUD(u)       "{'type':'audio_url','audio_url':{'url':'" u "'}}"
#define HEAD         "'model':'doubao-seedance-2-0','prompt':'p'"
#define CONTENT(...) "{" HEAD ",'metadata':{'content':[" __VA_ARGS__ "]}}"

static json_t *body(const char *single_quoted)
{
    char *s = vg_strdup(single_quoted);
    for (char *p = s; *p; p++)
        if (*p == '\'') *p = '"';
    json_error_t e;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &e);
    if (!j) fail_msg("bad test JSON (%s): %s", e.text, s);
    free(s);
    return j;
}

typedef struct {
    const char *name, *body;
    bool allow_http;
    int http;
    const char *code, *param;
} err_case;

static void expect_error(const err_case *c)
{
    json_t *j = body(c->body);
    vg_spec_opts opts = {.urls.allow_http = c->allow_http};
    vg_task_spec s;
    vg_err err = {0};
    int rc = vg_spec_parse(j, &opts, &s, &err);
    if (rc == VG_OK || err.http_status != c->http || strcmp(err.code, c->code) != 0 ||
        strcmp(err.param, c->param) != 0)
        fail_msg("%s: got rc %d, %d %s '%s' (%s); want %d %s '%s'", c->name, rc, err.http_status,
                 err.code ? err.code : "-", err.param, err.message, c->http, c->code, c->param);
    assert_int_equal(rc, c->http == 404 ? VG_NOTFOUND : VG_INVALID);
    assert_string_equal(err.type, c->http == 404 ? "not_found_error" : "invalid_request_error");
    assert_true(strlen(err.message) > 0);
    vg_task_spec_free(&s); /* harmless after a failure */
    json_decref(j);
}

static const err_case k_errors[] = {
    /* the body */
    {"body not an object", "['model']", 0, 400, "invalid_json", ""},
    /* model */
    {"model missing", "{'prompt':'p'}", 0, 400, "missing_parameter", "model"},
    {"model wrong type", "{'model':5,'prompt':'p'}", 0, 400, "invalid_parameter", "model"},
    {"model unknown", "{'model':'sora-2','prompt':'p'}", 0, 404, "model_not_found", "model"},
    /* prompt */
    {"prompt missing", "{'model':'doubao-seedance-2-0'}", 0, 400, "missing_parameter", "prompt"},
    {"prompt null", "{'model':'doubao-seedance-2-0','prompt':null}", 0, 400, "missing_parameter",
     "prompt"},
    {"prompt wrong type", "{'model':'doubao-seedance-2-0','prompt':['p']}", 0, 400,
     "invalid_parameter", "prompt"},
    {"prompt blank", "{'model':'doubao-seedance-2-0','prompt':' \\t\\n '}", 0, 400,
     "invalid_parameter", "prompt"},
    {"prompt unicode blank", "{'model':'doubao-seedance-2-0','prompt':'\\u3000\\u00a0'}", 0, 400,
     "invalid_parameter", "prompt"},
    /* seconds / duration */
    {"seconds below", "{" HEAD ",'seconds':'3'}", 0, 400, "invalid_duration", "seconds"},
    {"seconds above", "{" HEAD ",'seconds':16}", 0, 400, "invalid_duration", "seconds"},
    {"seconds negative", "{" HEAD ",'seconds':-5}", 0, 400, "invalid_duration", "seconds"},
    {"seconds huge", "{" HEAD ",'seconds':99999999999}", 0, 400, "invalid_duration", "seconds"},
    {"seconds not digits", "{" HEAD ",'seconds':'5s'}", 0, 400, "invalid_duration", "seconds"},
    {"seconds decimal string", "{" HEAD ",'seconds':'5.0'}", 0, 400, "invalid_duration", "seconds"},
    {"seconds empty", "{" HEAD ",'seconds':''}", 0, 400, "invalid_duration", "seconds"},
    {"seconds signed string", "{" HEAD ",'seconds':'+5'}", 0, 400, "invalid_duration", "seconds"},
    {"seconds wrong type", "{" HEAD ",'seconds':true}", 0, 400, "invalid_parameter", "seconds"},
    {"seconds real", "{" HEAD ",'seconds':5.5}", 0, 400, "invalid_parameter", "seconds"},
    {"seconds wins, bad", "{" HEAD ",'seconds':'20','duration':5}", 0, 400, "invalid_duration",
     "seconds"},
    {"duration out of range", "{" HEAD ",'duration':2}", 0, 400, "invalid_duration", "duration"},
    {"duration wrong type", "{" HEAD ",'duration':'5'}", 0, 400, "invalid_parameter", "duration"},
    {"duration wrong type with seconds", "{" HEAD ",'seconds':5,'duration':'5'}", 0, 400,
     "invalid_parameter", "duration"},
    /* size and resolution */
    {"size unknown", "{" HEAD ",'size':'4k'}", 0, 400, "invalid_resolution", "size"},
    {"size off-table pixels", "{" HEAD ",'size':'1280x721'}", 0, 400, "invalid_resolution", "size"},
    {"size upper-case", "{" HEAD ",'size':'720P'}", 0, 400, "invalid_resolution", "size"},
    {"size wrong type", "{" HEAD ",'size':720}", 0, 400, "invalid_parameter", "size"},
    {"metadata wrong type", "{" HEAD ",'metadata':'720p'}", 0, 400, "invalid_parameter",
     "metadata"},
    {"resolution unknown", "{" HEAD ",'metadata':{'resolution':'4k'}}", 0, 400,
     "invalid_resolution", "metadata.resolution"},
    {"resolution wrong type", "{" HEAD ",'metadata':{'resolution':720}}", 0, 400,
     "invalid_resolution", "metadata.resolution"},
    {"resolution wins over a bad size? no: size checked",
     "{" HEAD ",'size':'4k','metadata':{'resolution':"
     "'720p'}}",
     0, 400, "invalid_resolution", "size"},
    {"fast 1080p",
     "{'model':'doubao-seedance-2-0-fast','prompt':'p','metadata':{'resolution':"
     "'1080p'}}",
     0, 400, "unsupported_resolution", "metadata.resolution"},
    {"mini 1080p",
     "{'model':'doubao-seedance-2-0-mini','prompt':'p','metadata':{'resolution':"
     "'1080p'}}",
     0, 400, "unsupported_resolution", "metadata.resolution"},
    {"fast size 1080p", "{'model':'doubao-seedance-2-0-fast','prompt':'p','size':'1080p'}", 0, 400,
     "unsupported_resolution", "size"},
    {"fast size 1920x1080", "{'model':'doubao-seedance-2-0-fast','prompt':'p','size':'1920x1080'}",
     0, 400, "unsupported_resolution", "size"},
    {"fast size 1792x1024", "{'model':'doubao-seedance-2-0-fast','prompt':'p','size':'1792x1024'}",
     0, 400, "unsupported_resolution", "size"},
    /* ratio */
    {"ratio unknown", "{" HEAD ",'metadata':{'ratio':'2:1'}}", 0, 400, "invalid_ratio",
     "metadata.ratio"},
    {"ratio wrong type", "{" HEAD ",'metadata':{'ratio':1.77}}", 0, 400, "invalid_ratio",
     "metadata.ratio"},
    /* images */
    {"images wrong type", "{" HEAD ",'images':'https://a.example/x.png'}", 0, 400,
     "invalid_parameter", "images"},
    {"images ten",
     "{" HEAD ",'images':['https://a/1','https://a/2','https://a/3','https://a/4',"
     "'https://a/5','https://a/6','https://a/7','https://a/8','https://a/9',"
     "'https://a/10']}",
     0, 400, "invalid_parameter", "images"},
    {"images item wrong type", "{" HEAD ",'images':[{'url':'https://a/1'}]}", 0, 400,
     "invalid_image", "images[0]"},
    {"images http not allowed", "{" HEAD ",'images':['https://a/1','http://a/2']}", 0, 400,
     "invalid_image", "images[1]"},
    {"images ftp", "{" HEAD ",'images':['ftp://a/1']}", 1, 400, "invalid_image", "images[0]"},
    {"images upper-case scheme", "{" HEAD ",'images':['HTTPS://a/1']}", 0, 400, "invalid_image",
     "images[0]"},
    {"images no host", "{" HEAD ",'images':['https:///x.png']}", 0, 400, "invalid_image",
     "images[0]"},
    {"images space", "{" HEAD ",'images':['https://a/x y.png']}", 0, 400, "invalid_image",
     "images[0]"},
    /* the one URL policy (core/urlpolicy.h): the fetcher's rules apply at submit too */
    {"images userinfo", "{" HEAD ",'images':['https://u:p@a/1']}", 0, 400, "invalid_image",
     "images[0]"},
    {"images loopback", "{" HEAD ",'images':['https://127.0.0.1/1']}", 1, 400, "invalid_image",
     "images[0]"},
    {"images private hex", "{" HEAD ",'images':['https://0x0a000001/1']}", 0, 400, "invalid_image",
     "images[0]"},
    {"images bad port", "{" HEAD ",'images':['https://a:0/1']}", 0, 400, "invalid_image",
     "images[0]"},
    {"images escaped host", "{" HEAD ",'images':['https://%61/1']}", 0, 400, "invalid_image",
     "images[0]"},
    {"callback loopback", "{" HEAD ",'callback_url':'http://127.0.0.1/cb'}", 1, 400,
     "invalid_parameter", "callback_url"},
    {"images bad base64", "{" HEAD ",'images':['data:image/png;base64,@@@@']}", 0, 400,
     "invalid_image", "images[0]"},
    {"images not base64", "{" HEAD ",'images':['data:image/png,rawbytes']}", 0, 400,
     "invalid_image", "images[0]"},
    {"images data not image", "{" HEAD ",'images':['data:text/plain;base64,aGVsbG8=']}", 0, 400,
     "invalid_image", "images[0]"},
    {"images empty data", "{" HEAD ",'images':['data:image/png;base64,']}", 0, 400, "invalid_image",
     "images[0]"},
    {"images asset not here", "{" HEAD ",'images':['asset://asset_1']}", 0, 400, "invalid_image",
     "images[0]"},
    /* input_reference */
    {"input_reference wrong type", "{" HEAD ",'input_reference':5}", 0, 400, "invalid_parameter",
     "input_reference"},
    {"input_reference no url", "{" HEAD ",'input_reference':{'file_id':'f'}}", 0, 400,
     "invalid_parameter", "input_reference"},
    {"input_reference bad url", "{" HEAD ",'input_reference':'ftp://a/x.png'}", 0, 400,
     "invalid_image", "input_reference"},
    {"input_reference with images",
     "{" HEAD ",'input_reference':'https://a/1','images':["
     "'https://a/2']}",
     0, 400, "invalid_parameter", "input_reference"},
    {"input_reference with content",
     "{" HEAD ",'input_reference':'https://a/1','metadata':{"
     "'content':[]}}",
     0, 400, "invalid_parameter", "input_reference"},
    /* metadata.content: shape */
    {"content wrong type", "{" HEAD ",'metadata':{'content':{}}}", 0, 400, "invalid_parameter",
     "metadata.content"},
    {"content item wrong type", CONTENT("'https://a/1'"), 0, 400, "invalid_parameter",
     "metadata.content[0]"},
    {"content type missing", CONTENT("{'image_url':{'url':'https://a/1'}}"), 0, 400,
     "missing_parameter", "metadata.content[0].type"},
    {"content type unknown", CONTENT(IMG0("https://a/1") ",{'type':'file_url'}"), 0, 400,
     "invalid_parameter", "metadata.content[1].type"},
    {"content holder missing", CONTENT("{'type':'image_url','url':'https://a/1'}"), 0, 400,
     "missing_parameter", "metadata.content[0].image_url"},
    {"content holder wrong type", CONTENT("{'type':'image_url','image_url':'https://a/1'}"), 0, 400,
     "invalid_parameter", "metadata.content[0].image_url"},
    {"content url missing", CONTENT("{'type':'video_url','video_url':{}}"), 0, 400,
     "missing_parameter", "metadata.content[0].video_url.url"},
    {"content url wrong type", CONTENT("{'type':'image_url','image_url':{'url':1}}"), 0, 400,
     "invalid_parameter", "metadata.content[0].image_url.url"},
    {"content role wrong type",
     CONTENT("{'type':'image_url','image_url':{'url':'https://a/1'},"
             "'role':1}"),
     0, 400, "invalid_parameter", "metadata.content[0].role"},
    /* metadata.content: URLs */
    {"content image bad data", CONTENT(IMG0("data:image/png;base64,!!")), 0, 400, "invalid_image",
     "metadata.content[0].image_url.url"},
    {"content video data", CONTENT(IMG0("https://a/1") "," VID("data:video/mp4;base64,AAAA")), 0,
     400, "invalid_parameter", "metadata.content[1].video_url.url"},
    {"content audio data not audio", CONTENT(IMG0("https://a/1") "," AUD(PNG)), 0, 400,
     "invalid_parameter", "metadata.content[1].audio_url.url"},
    {"content http not allowed", CONTENT(VID("http://a/v.mp4")), 0, 400, "invalid_parameter",
     "metadata.content[0].video_url.url"},
    {"asset empty id", CONTENT(IMG("asset://", "first_frame")), 0, 400, "invalid_image",
     "metadata.content[0].image_url.url"},
    {"asset bad id", CONTENT(IMG("asset://a b", "first_frame")), 0, 400, "invalid_image",
     "metadata.content[0].image_url.url"},
    {"asset path", CONTENT(IMG("asset://a/b", "first_frame")), 0, 400, "invalid_image",
     "metadata.content[0].image_url.url"},
    /* metadata.content: roles */
    {"video as first frame",
     CONTENT("{'type':'video_url','video_url':{'url':'https://a/v'},"
             "'role':'first_frame'}"),
     0, 400, "invalid_parameter", "metadata.content[0].role"},
    {"image as reference audio", CONTENT(IMG("https://a/1", "reference_audio")), 0, 400,
     "invalid_parameter", "metadata.content[0].role"},
    {"audio as reference video",
     CONTENT(IMG0("https://a/1") ",{'type':'audio_url','audio_url':{"
                                 "'url':'https://a/a'},'role':"
                                 "'reference_video'}"),
     0, 400, "invalid_parameter", "metadata.content[1].role"},
    {"role unknown", CONTENT(IMG("https://a/1", "hero")), 0, 400, "invalid_parameter",
     "metadata.content[0].role"},
    {"two first frames",
     CONTENT(IMG("https://a/1", "first_frame") "," IMG("https://a/2", "first_frame")), 0, 400,
     "invalid_parameter", "metadata.content[1].role"},
    {"two last frames",
     CONTENT(IMG("https://a/1", "first_frame") "," IMG("https://a/2", "last_frame") "," IMG(
         "https://a/3", "last_frame")),
     0, 400, "invalid_parameter", "metadata.content[2].role"},
    {"first frame and reference image",
     CONTENT(IMG("https://a/1", "first_frame") "," IMG("https://a/2", "reference_image")), 0, 400,
     "invalid_parameter", "metadata.content[1].role"},
    {"reference video then last frame",
     CONTENT(VID("https://a/v") "," IMG("https://a/2", "last_frame")), 0, 400, "invalid_parameter",
     "metadata.content[1].role"},
    {"first frame and audio", CONTENT(IMG("https://a/1", "first_frame") "," AUD("https://a/a")), 0,
     400, "invalid_parameter", "metadata.content[1].role"},
    {"last frame alone", CONTENT(IMG("https://a/1", "last_frame")), 0, 400, "invalid_parameter",
     "metadata.content[0].role"},
    {"audio alone", CONTENT(AUD("https://a/a")), 0, 400, "invalid_parameter", "metadata.content"},
    {"audio with text only", CONTENT("{'type':'text','text':'t'}," AUD(MP3)), 0, 400,
     "invalid_parameter", "metadata.content"},
    /* metadata.content: counts */
    {"ten images",
     CONTENT(IMG0("https://a/1") "," IMG0("https://a/2") "," IMG0("https://a/3") "," IMG0(
         "https://"
         "a/4") "," IMG0("https://a/5") "," IMG0("https://a/6") "," IMG0("https://a/7") "," IMG0("h"
                                                                                                 "t"
                                                                                                 "t"
                                                                                                 "p"
                                                                                                 "s"
                                                                                                 ":"
                                                                                                 "/"
                                                                                                 "/"
                                                                                                 "a"
                                                                                                 "/"
                                                                                                 "8") "," IMG0("https://a/"
                                                                                                               "9") "," IMG0("https://a/10")),
     0, 400, "invalid_parameter", "metadata.content"},
    {"four videos",
     CONTENT(
         VID("https://a/1") "," VID("https://a/2") "," VID("https://a/3") "," VID("https://a/4")),
     0, 400, "invalid_parameter", "metadata.content"},
    {"four audios",
     CONTENT(VID("https://a/v") "," AUD("https://a/1") "," AUD("https://a/2") "," AUD(
         "https://a/3") "," AUD("https://a/4")),
     0, 400, "invalid_parameter", "metadata.content"},
    {"thirteen media",
     CONTENT(IMG0("https://a/1") "," IMG0("https://a/2") "," IMG0("https://a/3") "," IMG0(
         "https://"
         "a/4") "," IMG0("https://a/5") "," IMG0("https://a/6") "," IMG0("https://a/7") "," VID("ht"
                                                                                                "tp"
                                                                                                "s:"
                                                                                                "//"
                                                                                                "a/"
                                                                                                "v"
                                                                                                "1") "," VID("https://a/v2") "," VID("https://a/v3") "," AUD("https://a/a1") "," AUD("https://a/a2") "," AUD("https://a/a3")),
     0, 400, "invalid_parameter", "metadata.content"},
    /* seed */
    {"seed too big", "{" HEAD ",'metadata':{'seed':4294967296}}", 0, 400, "invalid_parameter",
     "metadata.seed"},
    {"seed too small", "{" HEAD ",'metadata':{'seed':-2}}", 0, 400, "invalid_parameter",
     "metadata.seed"},
    {"seed string", "{" HEAD ",'metadata':{'seed':'42'}}", 0, 400, "invalid_parameter",
     "metadata.seed"},
    {"seed real", "{" HEAD ",'metadata':{'seed':4.2}}", 0, 400, "invalid_parameter",
     "metadata.seed"},
    /* flags */
    {"generate_audio", "{" HEAD ",'metadata':{'generate_audio':'yes'}}", 0, 400,
     "invalid_parameter", "metadata.generate_audio"},
    {"return_last_frame", "{" HEAD ",'metadata':{'return_last_frame':1}}", 0, 400,
     "invalid_parameter", "metadata.return_last_frame"},
    {"watermark", "{" HEAD ",'metadata':{'watermark':'false'}}", 0, 400, "invalid_parameter",
     "metadata.watermark"},
    {"camera_fixed", "{" HEAD ",'metadata':{'camera_fixed':[]}}", 0, 400, "invalid_parameter",
     "metadata.camera_fixed"},
    /* callback_url */
    {"callback wrong type", "{" HEAD ",'callback_url':{}}", 0, 400, "invalid_parameter",
     "callback_url"},
    {"callback http", "{" HEAD ",'callback_url':'http://hooks.example/x'}", 0, 400,
     "invalid_parameter", "callback_url"},
    {"callback not a URL", "{" HEAD ",'callback_url':'hooks.example/x'}", 1, 400,
     "invalid_parameter", "callback_url"},
    {"callback asset", "{" HEAD ",'callback_url':'asset://x'}", 1, 400, "invalid_parameter",
     "callback_url"},
    {"callback no host", "{" HEAD ",'callback_url':'https://'}", 0, 400, "invalid_parameter",
     "callback_url"},
};

static void test_each_rule(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_errors / sizeof k_errors[0]; i++)
        expect_error(&k_errors[i]);
}

/* Cases whose bodies are built rather than written. */
static void expect_error_json(json_t *j, int http, const char *code, const char *param)
{
    vg_task_spec s;
    vg_err err = {0};
    assert_int_not_equal(vg_spec_parse(j, NULL, &s, &err), VG_OK);
    assert_int_equal(err.http_status, http);
    assert_string_equal(err.code, code);
    assert_string_equal(err.param, param);
    vg_task_spec_free(&s);
    json_decref(j);
}

static json_t *with_prompt(json_t *prompt)
{
    json_t *j = json_pack("{s:s}", "model", "doubao-seedance-2-0");
    json_object_set_new(j, "prompt", prompt);
    return j;
}

static void test_prompt_limits(void **state)
{
    (void)state;
    char *p = vg_malloc(VG_MAX_PROMPT_BYTES + 2);
    memset(p, 'a', VG_MAX_PROMPT_BYTES + 1);
    p[VG_MAX_PROMPT_BYTES + 1] = '\0';
    expect_error_json(with_prompt(json_string(p)), 400, "invalid_parameter", "prompt");
    /* exactly the cap is fine */
    p[VG_MAX_PROMPT_BYTES] = '\0';
    json_t *j = with_prompt(json_string(p));
    vg_task_spec s;
    vg_err err = {0};
    assert_int_equal(vg_spec_parse(j, NULL, &s, &err), VG_OK);
    assert_int_equal(strlen(s.prompt), VG_MAX_PROMPT_BYTES);
    vg_task_spec_free(&s);
    json_decref(j);
    free(p);
    /* an embedded NUL and invalid UTF-8 (possible for bodies built in code, not parsed) */
    expect_error_json(with_prompt(json_stringn("a\0b", 3)), 400, "invalid_parameter", "prompt");
    expect_error_json(with_prompt(json_stringn_nocheck("a\xC0\xAF", 3)), 400, "invalid_parameter",
                      "prompt");
    expect_error_json(with_prompt(json_stringn_nocheck("\xED\xA0\x80", 3)), 400,
                      "invalid_parameter", "prompt");
}

static void test_url_length(void **state)
{
    (void)state;
    size_t n = VG_MAX_URL_BYTES + 1;
    char *url = vg_malloc(n + 1);
    memcpy(url, "https://a.example/", 18);
    memset(url + 18, 'x', n - 18);
    url[n] = '\0';
    json_t *j = json_pack("{s:s, s:s, s:[s]}", "model", "doubao-seedance-2-0", "prompt", "p",
                          "images", url);
    expect_error_json(j, 400, "invalid_image", "images[0]");
    j = json_pack("{s:s, s:s, s:s}", "model", "doubao-seedance-2-0", "prompt", "p", "callback_url",
                  url);
    expect_error_json(j, 400, "invalid_parameter", "callback_url");
    url[n - 1] = '\0'; /* exactly the cap is fine */
    j = json_pack("{s:s, s:s, s:[s]}", "model", "doubao-seedance-2-0", "prompt", "p", "images",
                  url);
    vg_task_spec s;
    vg_err err = {0};
    assert_int_equal(vg_spec_parse(j, NULL, &s, &err), VG_OK);
    vg_task_spec_free(&s);
    json_decref(j);
    free(url);
}

static void test_not_an_object(void **state)
{
    (void)state;
    expect_error_json(json_string("x"), 400, "invalid_json", "");
    vg_task_spec s;
    vg_err err = {0};
    assert_int_equal(vg_spec_parse(NULL, NULL, &s, &err), VG_INVALID);
    assert_string_equal(err.code, "invalid_json");
}

/* ---- happy paths ------------------------------------------------------------------------- */

static void parse_ok(const char *src, const vg_spec_opts *opts, vg_task_spec *s)
{
    json_t *j = body(src);
    vg_err err = {0};
    int rc = vg_spec_parse(j, opts, s, &err);
    if (rc != VG_OK)
        fail_msg("%s: %d %s %s: %s", src, err.http_status, err.code, err.param, err.message);
    json_decref(j);
}

static void test_seed_text_to_video(void **state)
{
    (void)state;
    vg_task_spec s;
    parse_ok("{'model':'doubao-seedance-2-0-fast','prompt':'一只橘猫在阳光下伸懒腰，镜头缓慢推进',"
             "'seconds':'5','metadata':{'resolution':'480p'}}",
             NULL, &s);
    assert_string_equal(s.model, "doubao-seedance-2-0-fast");
    assert_string_equal(s.prompt, "一只橘猫在阳光下伸懒腰，镜头缓慢推进");
    assert_int_equal(s.seconds, 5);
    assert_int_equal(s.resolution, VG_RES_480P);
    assert_int_equal(s.ratio, VG_RATIO_ADAPTIVE);
    assert_int_equal(s.seed, -1);
    assert_int_equal(s.n_media, 0);
    vg_task_spec_free(&s);
}

static void test_seed_image_to_video(void **state)
{
    (void)state;
    vg_task_spec s;
    parse_ok("{'model':'doubao-seedance-2-0','prompt':'镜头缓缓推进，人物自然微笑',"
             "'images':['https://assets.example.com/first-frame.jpg'],'seconds':'5',"
             "'metadata':{'resolution':'720p'}}",
             NULL, &s);
    assert_int_equal(s.resolution, VG_RES_720P);
    assert_int_equal(s.n_media, 1);
    assert_int_equal(s.media[0].type, VG_MEDIA_IMAGE);
    assert_int_equal(s.media[0].role, VG_ROLE_FIRST_FRAME);
    assert_string_equal(s.media[0].url, "https://assets.example.com/first-frame.jpg");
    vg_task_spec_free(&s);
}

static void test_seed_asset(void **state)
{
    (void)state;
    vg_task_spec s;
    parse_ok("{'model':'doubao-seedance-2-0','prompt':'产品在展示台上缓慢旋转，背景简洁',"
             "'seconds':'5','metadata':{'resolution':'720p','content':[{'type':'image_url',"
             "'image_url':{'url':'asset://asset_xxx'},'role':'first_frame'}]}}",
             NULL, &s);
    assert_int_equal(s.n_media, 1);
    assert_int_equal(s.media[0].role, VG_ROLE_FIRST_FRAME);
    assert_string_equal(s.media[0].url, "asset://asset_xxx");
    assert_true(vg_task_spec_has_role(&s, VG_ROLE_FIRST_FRAME));
    vg_task_spec_free(&s);
}

static void test_defaults(void **state)
{
    (void)state;
    vg_task_spec s;
    parse_ok("{'model':'doubao-seedance-2-0','prompt':'p'}", NULL, &s);
    assert_int_equal(s.seconds, 5);
    assert_int_equal(s.resolution, VG_RES_720P);
    assert_int_equal(s.ratio, VG_RATIO_ADAPTIVE);
    assert_int_equal(s.seed, -1);
    assert_true(s.generate_audio);
    assert_false(s.return_last_frame);
    assert_false(s.watermark);
    assert_false(s.camera_fixed);
    assert_null(s.callback_url);
    assert_int_equal(s.n_media, 0);
    vg_task_spec_free(&s);
    /* the OpenAI route's default model; nulls count as absent; unknown keys are ignored */
    vg_spec_opts o = {.default_model = "doubao-seedance-2-0-mini"};
    parse_ok("{'prompt':'p','seconds':null,'size':null,'metadata':null,'n':2,'quality':'hd',"
             "'images':null,'callback_url':null}",
             &o, &s);
    assert_string_equal(s.model, "doubao-seedance-2-0-mini");
    assert_int_equal(s.seconds, 5);
    vg_task_spec_free(&s);
    parse_ok("{'model':'doubao-seedance-2-0','prompt':'p','metadata':{'seed':null,'foo':1,"
             "'resolution':null}}",
             NULL, &s);
    assert_int_equal(s.seed, -1);
    assert_int_equal(s.resolution, VG_RES_720P);
    vg_task_spec_free(&s);
}

static void test_seconds_forms(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        int want;
    } cases[] = {
        {"{" HEAD ",'seconds':10}", 10},
        {"{" HEAD ",'seconds':'4'}", 4},
        {"{" HEAD ",'seconds':'15'}", 15},
        {"{" HEAD ",'seconds':'07'}", 7},
        {"{" HEAD ",'duration':8}", 8},
        {"{" HEAD ",'seconds':'6','duration':99}", 6}, /* seconds wins */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vg_task_spec s;
        parse_ok(cases[i].body, NULL, &s);
        assert_int_equal(s.seconds, cases[i].want);
        vg_task_spec_free(&s);
    }
}

static void test_size_forms(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        vg_resolution r;
        vg_ratio q;
    } cases[] = {
        {"{" HEAD ",'size':'480p'}", VG_RES_480P, VG_RATIO_ADAPTIVE},
        {"{" HEAD ",'size':'720x1280'}", VG_RES_720P, VG_RATIO_9_16},
        {"{" HEAD ",'size':'1280x720'}", VG_RES_720P, VG_RATIO_16_9},
        {"{" HEAD ",'size':'2206x946'}", VG_RES_1080P, VG_RATIO_21_9},
        {"{" HEAD ",'size':'1792x1024'}", VG_RES_1080P, VG_RATIO_16_9},
        {"{" HEAD ",'size':'1024x1792'}", VG_RES_1080P, VG_RATIO_9_16},
        {"{" HEAD ",'size':'720x1280','metadata':{'ratio':'1:1'}}", VG_RES_720P, VG_RATIO_1_1},
        {"{" HEAD ",'size':'720x1280','metadata':{'resolution':'480p'}}", VG_RES_480P,
         VG_RATIO_9_16},
        {"{" HEAD ",'size':'1080p','metadata':{'resolution':'480p'}}", VG_RES_480P,
         VG_RATIO_ADAPTIVE},
        {"{" HEAD ",'metadata':{'resolution':'1080p','ratio':'21:9'}}", VG_RES_1080P,
         VG_RATIO_21_9},
        {"{" HEAD ",'metadata':{'ratio':'adaptive'}}", VG_RES_720P, VG_RATIO_ADAPTIVE},
        /* the fast model's 1080p size is fine once metadata.resolution brings it down */
        {"{'model':'doubao-seedance-2-0-fast','prompt':'p','size':'1920x1080','metadata':{"
         "'resolution':'720p'}}",
         VG_RES_720P, VG_RATIO_16_9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vg_task_spec s;
        parse_ok(cases[i].body, NULL, &s);
        assert_int_equal(s.resolution, cases[i].r);
        assert_int_equal(s.ratio, cases[i].q);
        vg_task_spec_free(&s);
    }
}

static void test_images_and_input_reference(void **state)
{
    (void)state;
    vg_task_spec s;
    parse_ok("{" HEAD ",'images':['https://a/1','" PNG "']}", NULL, &s);
    assert_int_equal(s.n_media, 2);
    assert_int_equal(s.media[0].role, VG_ROLE_REFERENCE_IMAGE);
    assert_int_equal(s.media[1].role, VG_ROLE_REFERENCE_IMAGE);
    assert_string_equal(s.media[1].url, PNG);
    vg_task_spec_free(&s);

    parse_ok("{" HEAD ",'images':[]}", NULL, &s);
    assert_int_equal(s.n_media, 0);
    vg_task_spec_free(&s);

    vg_spec_opts http = {.urls = {.allow_http = true, .allow_private = true}};
    parse_ok("{" HEAD ",'images':['http://127.0.0.1:8080/x.png'],'callback_url':"
             "'http://127.0.0.1/cb'}",
             &http, &s);
    assert_int_equal(s.media[0].role, VG_ROLE_FIRST_FRAME);
    assert_string_equal(s.callback_url, "http://127.0.0.1/cb");
    vg_task_spec_free(&s);

    static const char *refs[] = {
        "{" HEAD ",'input_reference':'https://a/x.png'}",
        "{" HEAD ",'input_reference':{'image_url':'https://a/x.png'}}",
        "{" HEAD ",'input_reference':{'image_url':{'url':'https://a/x.png'}}}",
        "{" HEAD ",'input_reference':'https://a/x.png','images':[]}",
    };
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        parse_ok(refs[i], NULL, &s);
        assert_int_equal(s.n_media, 1);
        assert_int_equal(s.media[0].role, VG_ROLE_FIRST_FRAME);
        assert_string_equal(s.media[0].url, "https://a/x.png");
        vg_task_spec_free(&s);
    }
}

static void test_content_forms(void **state)
{
    (void)state;
    vg_task_spec s;
    /* content replaces images, even invalid ones; text items are ignored */
    parse_ok("{" HEAD ",'images':['ftp://ignored'],'metadata':{'content':[{'type':'text','text':"
             "'hi'}," IMG0("https://a/1") "]}}",
             NULL, &s);
    assert_int_equal(s.n_media, 1);
    assert_int_equal(s.media[0].role, VG_ROLE_FIRST_FRAME);
    vg_task_spec_free(&s);

    /* an image without a role next to a last frame is the first frame */
    parse_ok(CONTENT(IMG("https://a/2", "last_frame") "," IMG0("https://a/1")), NULL, &s);
    assert_int_equal(s.media[0].role, VG_ROLE_LAST_FRAME);
    assert_int_equal(s.media[1].role, VG_ROLE_FIRST_FRAME);
    vg_task_spec_free(&s);

    /* next to reference media it is a reference image; videos and audios default their roles */
    parse_ok(CONTENT(IMG0("asset://img-1") "," VID("asset://vid_1") "," AUD(MP3)), NULL, &s);
    assert_int_equal(s.n_media, 3);
    assert_int_equal(s.media[0].role, VG_ROLE_REFERENCE_IMAGE);
    assert_int_equal(s.media[1].type, VG_MEDIA_VIDEO);
    assert_int_equal(s.media[1].role, VG_ROLE_REFERENCE_VIDEO);
    assert_int_equal(s.media[2].type, VG_MEDIA_AUDIO);
    assert_int_equal(s.media[2].role, VG_ROLE_REFERENCE_AUDIO);
    vg_task_spec_free(&s);

    /* two images without roles are references */
    parse_ok(CONTENT(IMG0("https://a/1") "," IMG0(PNG)), NULL, &s);
    assert_int_equal(s.media[0].role, VG_ROLE_REFERENCE_IMAGE);
    assert_int_equal(s.media[1].role, VG_ROLE_REFERENCE_IMAGE);
    vg_task_spec_free(&s);

    /* audio with a video is fine; explicit roles; a full house of 12 media */
    parse_ok(CONTENT(VID("https://a/v") ",{'type':'audio_url','audio_url':{'url':'https://a/a'},"
                                        "'role':'reference_audio'}"),
             NULL, &s);
    assert_int_equal(s.n_media, 2);
    vg_task_spec_free(&s);
    parse_ok(
        CONTENT(IMG0("https://a/1") "," IMG0("https://a/2") "," IMG0("https://a/3") "," IMG0(
            "https://"
            "a/4") "," IMG0("https://a/5") "," IMG0("https://a/6") "," VID("https://a/v1") "," VID("https://a/v2") "," VID("https://a/v3") "," AUD("https://a/"
                                                                                                                                                   "a1") "," AUD("https://a/a2") "," AUD("https://a/a3")),
        NULL, &s);
    assert_int_equal(s.n_media, 12);
    vg_task_spec_free(&s);

    /* empty content: text to video, and it still replaces images */
    parse_ok("{" HEAD ",'images':['https://a/1'],'metadata':{'content':[]}}", NULL, &s);
    assert_int_equal(s.n_media, 0);
    vg_task_spec_free(&s);
}

static void test_metadata_scalars(void **state)
{
    (void)state;
    vg_task_spec s;
    parse_ok("{" HEAD ",'callback_url':'https://hooks.example/cb?x=1','metadata':{'seed':"
             "4294967295,'generate_audio':false,'return_last_frame':true,'watermark':true,"
             "'camera_fixed':true,'unknown':{'deep':[1]}}}",
             NULL, &s);
    assert_int_equal(s.seed, 4294967295LL);
    assert_false(s.generate_audio);
    assert_true(s.return_last_frame);
    assert_true(s.watermark);
    assert_true(s.camera_fixed);
    assert_string_equal(s.callback_url, "https://hooks.example/cb?x=1");
    vg_task_spec_free(&s);
    parse_ok("{" HEAD ",'metadata':{'seed':0}}", NULL, &s);
    assert_int_equal(s.seed, 0);
    vg_task_spec_free(&s);
    parse_ok("{" HEAD ",'metadata':{'seed':-1}}", NULL, &s);
    assert_int_equal(s.seed, -1);
    vg_task_spec_free(&s);
}

/* ---- data: URLs ---------------------------------------------------------------------------- */

static void test_dataurl(void **state)
{
    (void)state;
    static const struct {
        const char *url, *mime;
        size_t len;
    } good[] = {
        {PNG, "image/png", 8},
        {"data:image/PNG;base64,iVBORw0KGgo", "image/png", 8}, /* padding optional */
        {"DATA:Image/Jpeg;name=a.jpg;BASE64,/9j/", "image/jpeg", 3},
        {"data:;base64,aGk=", "text/plain", 2},
        {"data:audio/mpeg;base64,SUQz\nBAAA", "audio/mpeg", 6},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char mime[64];
        unsigned char *out = NULL;
        size_t len = 0;
        if (vg_dataurl_decode(good[i].url, mime, &out, &len) != 0) fail_msg("%s", good[i].url);
        assert_string_equal(mime, good[i].mime);
        assert_int_equal(len, good[i].len);
        free(out);
    }
    static const char *bad[] = {
        "https://a/x.png",
        "data:image/png,iVBORw0KGgo=",
        "data:image/png;base64",
        "data:image/png;base64,",
        "data:image/png;base64,@@",
        "data:image;base64,aGk=",
        "data:/png;base64,aGk=",
        "data:image/;base64,aGk=",
        "data:ima ge/png;base64,aGk=",
        "data:image/png;base64;charset=x,aGk=",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char mime[64];
        unsigned char *out = NULL;
        size_t len = 0;
        if (vg_dataurl_decode(bad[i], mime, &out, &len) != -1) fail_msg("accepted %s", bad[i]);
        assert_null(out);
    }
    char mime[64];
    unsigned char *out = NULL;
    size_t len;
    assert_int_equal(vg_dataurl_decode(NULL, mime, &out, &len), -1);
    /* a long mime type is refused rather than truncated */
    assert_int_equal(vg_dataurl_decode("data:image/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                       "aaaaaaaaaaaaaaaaaaa;base64,aGk=",
                                       mime, &out, &len),
                     -1);
}

static void test_dataurl_cap(void **state)
{
    (void)state;
    size_t n = VG_MAX_MULTIPART_BODY_BYTES + 1;
    char *url = vg_malloc(n + 1);
    memcpy(url, "data:image/png;base64,", 22);
    memset(url + 22, 'A', n - 22);
    url[n] = '\0';
    char mime[64];
    unsigned char *out = NULL;
    size_t len;
    assert_int_equal(vg_dataurl_decode(url, mime, &out, &len), -1);
    free(url);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_rule),
        cmocka_unit_test(test_prompt_limits),
        cmocka_unit_test(test_url_length),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_seed_text_to_video),
        cmocka_unit_test(test_seed_image_to_video),
        cmocka_unit_test(test_seed_asset),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_seconds_forms),
        cmocka_unit_test(test_size_forms),
        cmocka_unit_test(test_images_and_input_reference),
        cmocka_unit_test(test_content_forms),
        cmocka_unit_test(test_metadata_scalars),
        cmocka_unit_test(test_dataurl),
        cmocka_unit_test(test_dataurl_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
