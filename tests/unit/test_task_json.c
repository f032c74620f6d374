/*
 * test_task_json.c - the native task object written directly (vg_task_json_write) is byte for
 * byte the jansson object (vg_task_json) dumped compact and in order, for tasks in every state
 * (queued, running, failed with an error, cancelled, completed with usage and links, content
 * deleted, test mode), for escape-heavy and non-ASCII strings, and for random bytes: where jansson
 * refuses a string (invalid UTF-8), the writer refuses too. Presigned links stay right when their
 * signatures come from the per-thread cache. The submit's short reply is written the same way.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/task_json.h"
#include "common/limits.h"
#include "core/models.h"
#include "core/presign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static vg_api_env g_env = {.secret = "00112233445566778899aabbccddeeff",
                           .public_url = "http://vg.test:8080"};

static vg_task base_task(void)
{
    vg_task t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "task_01J0000000000000000000000A");
    snprintf(t.key_id, sizeof t.key_id, "key_01J0000000000000000000000B");
    snprintf(t.model, sizeof t.model, "doubao-seedance-2-0-fast");
    t.status = VG_TASK_QUEUED;
    t.created_at = 1795661461;
    t.updated_at = 1795661461;
    t.seconds = 5;
    t.resolution = VG_RES_480P;
    t.ratio = VG_RATIO_16_9;
    t.seed = -1;
    t.cost_micro = -1;
    return t;
}

/* The writer's text, or NULL when it refuses (malloc'd). */
static char *written(const vg_task *t, size_t cap)
{
    char *buf = malloc(cap + 1);
    size_t len = 0;
    if (vg_task_json_write(&g_env, t, buf, cap, &len) != VG_OK) {
        free(buf);
        return NULL;
    }
    assert_true(len <= cap);
    buf[len] = '\0';
    return buf;
}

static char *dumped(const vg_task *t)
{
    json_t *j = vg_task_json(&g_env, t);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    return s;
}

static void assert_same(const vg_task *t)
{
    char *w = written(t, VG_TASK_JSON_BUF_BYTES), *d = dumped(t);
    assert_non_null(w);
    assert_non_null(d);
    assert_string_equal(w, d);
    free(w);
    free(d);
}

static void test_states(void **state)
{
    (void)state;
    vg_task t = base_task();
    assert_same(&t); /* queued: no size, no cost, nulls */
    t.status = VG_TASK_DISPATCHING;
    assert_same(&t);
    t.status = VG_TASK_RUNNING;
    t.progress = 42;
    t.width = 864, t.height = 496;
    t.seed = 1970603416;
    assert_same(&t);
    t.status = VG_TASK_FINALIZING;
    assert_same(&t);

    vg_task f = t;
    f.status = VG_TASK_FAILED;
    f.completed_at = 1795661500;
    f.cost_micro = 0;
    snprintf(f.error_code, sizeof f.error_code, "upstream_error");
    snprintf(f.error_message, sizeof f.error_message, "the upstream said: \"no\" (code 500)");
    assert_same(&f);
    f.status = VG_TASK_CANCELLED;
    snprintf(f.error_code, sizeof f.error_code, "cancelled");
    f.error_message[0] = '\0';
    assert_same(&f);

    vg_task c = t;
    c.status = VG_TASK_COMPLETED;
    c.progress = 100;
    c.completed_at = 1795661466;
    c.expires_at = 1796266266;
    c.tokens = 40594;
    c.cost_micro = 227327;
    assert_same(&c); /* usage, result_url, output with two links */
    c.has_last_frame = true;
    assert_same(&c); /* and last_frame_url */
    c.test_mode = true;
    c.cost_micro = 0;
    assert_same(&c);
    c.content_deleted = true;
    assert_same(&c); /* usage only */
    c.content_deleted = false;
    c.expires_at = 0; /* never expires: links with expires=0 */
    assert_same(&c);
}

static void test_every_enum_and_extreme(void **state)
{
    (void)state;
    vg_task t = base_task();
    for (int s = 0; s <= VG_TASK_STATUS_COUNT; s++) /* one past the end: "unknown" */
        for (int r = 0; r <= VG_RES_COUNT; r++)
            for (int q = 0; q <= VG_RATIO_COUNT; q++) {
                t.status = (vg_task_status)s;
                t.resolution = (vg_resolution)r;
                t.ratio = (vg_ratio)q;
                assert_same(&t);
            }
    t.status = VG_TASK_COMPLETED;
    t.seed = INT64_MIN;
    t.tokens = INT64_MAX;
    t.created_at = INT64_MAX;
    t.updated_at = -1;
    t.completed_at = INT64_MIN;
    t.expires_at = 1;
    t.progress = -7;
    t.seconds = -2147483647 - 1;
    t.width = 2147483647, t.height = -1;
    t.cost_micro = INT64_MAX;
    assert_same(&t);
    static const int64_t costs[] = {0, 1, 9, 10, 999999, 1000000, 1000001, 227327, 123456789012};
    for (size_t i = 0; i < sizeof costs / sizeof costs[0]; i++) {
        t.cost_micro = costs[i];
        assert_same(&t);
    }
}

static void test_escapes_and_unicode(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "",
        "plain",
        "quote \" backslash \\ slash / done",
        "\b\f\n\r\t and \x01\x02\x1f\x7f",
        "一只橘猫在阳光下伸懒腰，镜头缓慢推进",
        "emoji \xf0\x9f\x8e\xac and \xe2\x80\xa8 line separator, \xc2\xa0 nbsp",
        "\xef\xbf\xbf max BMP \xf4\x8f\xbf\xbf max code point",
        "</script><!-- -->&amp;",
    };
    vg_task t = base_task();
    t.status = VG_TASK_FAILED;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        snprintf(t.error_code, sizeof t.error_code, "%s", i ? "bad\"code\\" : "x");
        snprintf(t.error_message, sizeof t.error_message, "%s", texts[i]);
        if (strlen(texts[i]) < sizeof t.model) memcpy(t.model, texts[i], strlen(texts[i]) + 1);
        assert_same(&t);
    }
    /* The longest message of all control characters: six bytes each, still fits. */
    memset(t.error_message, '\x01', sizeof t.error_message - 1);
    t.error_message[sizeof t.error_message - 1] = '\0';
    assert_same(&t);
}

/* Random bytes as the message: where jansson takes the string, the writer prints the same bytes;
 * where jansson refuses it (not UTF-8), the writer refuses too. */
static void test_random_strings(void **state)
{
    (void)state;
    static const unsigned char interesting[] = {0x00, 0x01, 0x1f, 0x20, '"',  '\\', 0x7f,
                                                0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
                                                0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 'a'};
    srand(12345);
    vg_task t = base_task();
    t.status = VG_TASK_FAILED;
    snprintf(t.error_code, sizeof t.error_code, "failed");
    int accepted = 0, refused = 0;
    for (int round = 0; round < 20000; round++) {
        int n = rand() % 12;
        for (int i = 0; i < n; i++) {
            unsigned char b = rand() % 2 ? interesting[rand() % sizeof interesting]
                                         : (unsigned char)(rand() % 256);
            t.error_message[i] = (char)(b ? b : 'z');
        }
        t.error_message[n] = '\0';
        json_t *probe = json_string(t.error_message);
        char *w = written(&t, VG_TASK_JSON_BUF_BYTES);
        if (probe) {
            accepted++;
            char *d = dumped(&t);
            assert_non_null(w);
            assert_string_equal(w, d);
            free(d);
        } else {
            refused++;
            assert_null(w);
        }
        free(w);
        json_decref(probe);
    }
    assert_true(accepted > 1000 && refused > 1000);
}

static void test_no_room(void **state)
{
    (void)state;
    vg_task t = base_task();
    t.status = VG_TASK_COMPLETED;
    t.expires_at = 1796266266;
    char *d = dumped(&t);
    size_t need = strlen(d);
    char *w = written(&t, need);
    assert_non_null(w);
    assert_string_equal(w, d);
    free(w);
    for (size_t cap = 0; cap < need; cap += need / 17 + 1)
        assert_null(written(&t, cap));
    assert_null(written(&t, need - 1));
    free(d);
}

/* A submit's short reply written directly is the jansson object's text, for every status, odd
 * model names and extreme numbers; a name jansson refuses gives no text either. */
static void test_submitted_reply(void **state)
{
    (void)state;
    static const char *models[] = {"doubao-seedance-2-0-fast", "m\"q\\b\n\x01", "模型-é", ""};
    for (int st = 0; st < VG_TASK_STATUS_COUNT; st++) {
        for (size_t m = 0; m < sizeof models / sizeof models[0]; m++) {
            vg_task t = base_task();
            t.status = (vg_task_status)st;
            snprintf(t.model, sizeof t.model, "%s", models[m]);
            t.progress = st * 17 % 101;
            t.created_at = st % 2 ? 0 : (int64_t)1 << 40;
            json_t *j = vg_task_json_submitted(&t);
            char *d = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
            char *w = vg_task_json_submitted_text(&t);
            assert_non_null(w);
            assert_string_equal(w, d);
            free(w);
            free(d);
            json_decref(j);
        }
    }
    vg_task bad = base_task();
    snprintf(bad.model, sizeof bad.model, "bad\xff");
    assert_null(vg_task_json_submitted_text(&bad));
}

/* Cached signatures: the same link for the same input, a different one for another secret, and
 * every link verifies. */
static void test_presign_cache(void **state)
{
    (void)state;
    char a1[1024], a2[1024], b1[1024], a3[1024];
    vg_presign_url("secret-a", "http://h", "files", "task_X", "video", 1796266266, a1, sizeof a1);
    vg_presign_url("secret-a", "http://h", "files", "task_X", "video", 1796266266, a2, sizeof a2);
    vg_presign_url("secret-b", "http://h", "files", "task_X", "video", 1796266266, b1, sizeof b1);
    vg_presign_url("secret-a", "http://h", "files", "task_X", "video", 1796266266, a3, sizeof a3);
    assert_string_equal(a1, a2);
    assert_string_equal(a1, a3);
    assert_string_not_equal(a1, b1);
    const char *sig = strstr(a3, "sig=") + 4;
    assert_int_equal(
        vg_presign_check("secret-a", "files", "task_X", "video", "1796266266", sig, 1000), 0);
    assert_int_equal(
        vg_presign_check("secret-b", "files", "task_X", "video", "1796266266", sig, 1000), -1);
    char other[1024];
    vg_presign_url("secret-a", "http://h", "files", "task_X", "video", 1796266267, other,
                   sizeof other);
    assert_string_not_equal(a1, other);
    /* The link is the documented form, cut like snprintf() when the buffer is short. */
    static const int64_t expiries[] = {0, 1, -5, 1796266266, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof expiries / sizeof expiries[0]; i++) {
        char url[1024], want[1024], e[24];
        snprintf(e, sizeof e, "%lld", (long long)expiries[i]);
        vg_presign_url("k", "http://h:1", "files", "task_Y", "thumbnail", expiries[i], url,
                       sizeof url);
        const char *s = strstr(url, "&sig=");
        assert_non_null(s);
        snprintf(want, sizeof want, "http://h:1/files/task_Y/thumbnail?expires=%s&sig=%s", e,
                 s + 5);
        assert_string_equal(url, want);
        assert_int_equal(vg_presign_check("k", "files", "task_Y", "thumbnail", e, s + 5, INT64_MIN),
                         expiries[i] > INT64_MIN ? 0 : -2);
        for (size_t cap = 1; cap < strlen(want) + 2; cap += 7) {
            char cut[1024], cut_want[1024];
            vg_presign_url("k", "http://h:1", "files", "task_Y", "thumbnail", expiries[i], cut,
                           cap);
            snprintf(cut_want, cap, "%s", want);
            assert_string_equal(cut, cut_want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_every_enum_and_extreme),
        cmocka_unit_test(test_escapes_and_unicode),
        cmocka_unit_test(test_random_strings),
        cmocka_unit_test(test_no_room),
        cmocka_unit_test(test_submitted_reply),
        cmocka_unit_test(test_presign_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
