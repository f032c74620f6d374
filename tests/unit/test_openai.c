/*
 * test_openai.c - the OpenAI-compatible view of a task (spec §4) and the envelope form (§3):
 * "WxH" sizes of the table and OpenAI's own sizes map to resolution + ratio; every internal status
 * maps to the OpenAI and the envelope status (cancelled → failed / FAILURE with error "cancelled");
 * the `video` object and the envelope have the documented fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/task_json.h"
#include "core/models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *wxh;
    vg_resolution r;
    vg_ratio q;
} k_sizes[] = {
    {"864x496", VG_RES_480P, VG_RATIO_16_9},
    {"752x560", VG_RES_480P, VG_RATIO_4_3},
    {"640x640", VG_RES_480P, VG_RATIO_1_1},
    {"560x752", VG_RES_480P, VG_RATIO_3_4},
    {"496x864", VG_RES_480P, VG_RATIO_9_16},
    {"992x432", VG_RES_480P, VG_RATIO_21_9},
    {"1280x720", VG_RES_720P, VG_RATIO_16_9},
    {"1112x834", VG_RES_720P, VG_RATIO_4_3},
    {"960x960", VG_RES_720P, VG_RATIO_1_1},
    {"834x1112", VG_RES_720P, VG_RATIO_3_4},
    {"720x1280", VG_RES_720P, VG_RATIO_9_16},
    {"1470x630", VG_RES_720P, VG_RATIO_21_9},
    {"1920x1080", VG_RES_1080P, VG_RATIO_16_9},
    {"1664x1248", VG_RES_1080P, VG_RATIO_4_3},
    {"1440x1440", VG_RES_1080P, VG_RATIO_1_1},
    {"1248x1664", VG_RES_1080P, VG_RATIO_3_4},
    {"1080x1920", VG_RES_1080P, VG_RATIO_9_16},
    {"2206x946", VG_RES_1080P, VG_RATIO_21_9},
    /* OpenAI's sizes: the two 720p ones are in the table; the two Sora-Pro ones map to 1080p. */
    {"1792x1024", VG_RES_1080P, VG_RATIO_16_9},
    {"1024x1792", VG_RES_1080P, VG_RATIO_9_16},
};

static void test_size_mapping(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_sizes / sizeof k_sizes[0]; i++) {
        vg_resolution r = VG_RES_COUNT;
        vg_ratio q = VG_RATIO_COUNT;
        if (vg_size_from_pixels(k_sizes[i].wxh, &r, &q) != 0) fail_msg("%s", k_sizes[i].wxh);
        assert_int_equal(r, k_sizes[i].r);
        assert_int_equal(q, k_sizes[i].q);
    }
    static const char *const bad[] = {"1280x721",  "1280X720", " 1280x720", "01280x720",
                                      "1280x720 ", "720p",     "",          "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vg_resolution r;
        vg_ratio q;
        if (vg_size_from_pixels(bad[i], &r, &q) != -1) fail_msg("'%s' accepted", bad[i]);
    }
}

static void test_status_mapping(void **state)
{
    (void)state;
    static const struct {
        vg_task_status s;
        const char *openai, *envelope;
    } want[] = {
        {VG_TASK_QUEUED, "queued", "QUEUED"},
        {VG_TASK_DISPATCHING, "queued", "QUEUED"},
        {VG_TASK_RUNNING, "in_progress", "IN_PROGRESS"},
        {VG_TASK_FINALIZING, "in_progress", "IN_PROGRESS"},
        {VG_TASK_COMPLETED, "completed", "SUCCESS"},
        {VG_TASK_FAILED, "failed", "FAILURE"},
        {VG_TASK_CANCELLED, "failed", "FAILURE"},
    };
    assert_int_equal(sizeof want / sizeof want[0], VG_TASK_STATUS_COUNT);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_string_equal(vg_openai_status(want[i].s), want[i].openai);
        assert_string_equal(vg_envelope_status(want[i].s), want[i].envelope);
    }
}

static vg_api_env g_app = {.secret = "00112233", .public_url = "http://vg.test"};

static vg_task make_task(vg_task_status s)
{
    vg_task t;
    memset(&t, 0, sizeof t);
    snprintf(t.id, sizeof t.id, "task_TEST");
    snprintf(t.model, sizeof t.model, "doubao-seedance-2-0-fast");
    t.status = s;
    t.created_at = 1700000000;
    t.seconds = 4;
    t.width = 864;
    t.height = 496;
    t.cost_micro = -1;
    t.params = strdup("{\"model\":\"doubao-seedance-2-0-fast\",\"prompt\":\"a red fox\"}");
    return t;
}

static const char *str(const json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

static void test_video_object(void **state)
{
    (void)state;
    vg_task t = make_task(VG_TASK_RUNNING);
    t.progress = 40;
    json_t *j = vg_task_json_openai(&g_app, &t);
    assert_string_equal(str(j, "object"), "video");
    assert_string_equal(str(j, "status"), "in_progress");
    assert_string_equal(str(j, "prompt"), "a red fox");
    assert_string_equal(str(j, "seconds"), "4");
    assert_string_equal(str(j, "size"), "864x496");
    assert_int_equal(json_integer_value(json_object_get(j, "progress")), 40);
    assert_true(json_is_null(json_object_get(j, "completed_at")));
    assert_true(json_is_null(json_object_get(j, "remixed_from_video_id")));
    assert_true(json_is_null(json_object_get(j, "error")));
    assert_int_equal(json_object_size(json_object_get(j, "metadata")), 0);
    assert_null(json_object_get(j, "usage"));
    json_decref(j);

    t.status = VG_TASK_COMPLETED;
    t.progress = 100;
    t.completed_at = 1700000100;
    t.expires_at = 1700600000;
    t.tokens = 40594;
    j = vg_task_json_openai(&g_app, &t);
    assert_string_equal(str(j, "status"), "completed");
    const char *url = str(json_object_get(j, "metadata"), "url");
    assert_non_null(url);
    assert_non_null(strstr(url, "http://vg.test/files/task_TEST/video?expires=1700600000&sig="));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "usage"), "completion_tokens")),
        40594);
    json_decref(j);

    /* Deleted content: no URL any more. */
    t.content_deleted = true;
    j = vg_task_json_openai(&g_app, &t);
    assert_null(json_object_get(json_object_get(j, "metadata"), "url"));
    json_decref(j);
    j = vg_task_json_openai_deleted(&t);
    assert_string_equal(str(j, "object"), "video.deleted");
    assert_true(json_is_true(json_object_get(j, "deleted")));
    json_decref(j);
    vg_task_free(&t);
}

static void test_failed_and_cancelled(void **state)
{
    (void)state;
    vg_task t = make_task(VG_TASK_CANCELLED);
    json_t *j = vg_task_json_openai(&g_app, &t);
    assert_string_equal(str(j, "status"), "failed");
    assert_string_equal(str(json_object_get(j, "error"), "code"), "cancelled");
    json_decref(j);

    vg_task_free(&t);
    t = make_task(VG_TASK_FAILED);
    snprintf(t.error_code, sizeof t.error_code, "render_failed");
    snprintf(t.error_message, sizeof t.error_message, "the encoder gave up");
    j = vg_task_json_openai(&g_app, &t);
    assert_string_equal(str(j, "status"), "failed");
    assert_string_equal(str(json_object_get(j, "error"), "code"), "render_failed");
    assert_string_equal(str(json_object_get(j, "error"), "message"), "the encoder gave up");
    json_decref(j);

    /* A spec without a prompt (or no spec) still gives a string. */
    free(t.params);
    t.params = NULL;
    j = vg_task_json_openai(&g_app, &t);
    assert_string_equal(str(j, "prompt"), "");
    json_decref(j);
    vg_task_free(&t);
}

static void test_envelope(void **state)
{
    (void)state;
    vg_task t = make_task(VG_TASK_RUNNING);
    t.progress = 50;
    json_t *j = vg_task_json_envelope(&g_app, &t);
    assert_string_equal(str(j, "code"), "success");
    json_t *d = json_object_get(j, "data");
    assert_string_equal(str(d, "status"), "IN_PROGRESS");
    assert_string_equal(str(d, "progress"), "50%");
    assert_string_equal(str(d, "task_id"), "task_TEST");
    assert_true(json_is_null(json_object_get(d, "result_url")));
    assert_string_equal(str(d, "fail_reason"), "");
    json_decref(j);

    t.status = VG_TASK_COMPLETED;
    t.progress = 100;
    t.expires_at = 1700600000;
    j = vg_task_json_envelope(&g_app, &t);
    d = json_object_get(j, "data");
    assert_string_equal(str(d, "status"), "SUCCESS");
    assert_string_equal(str(d, "progress"), "100%");
    assert_non_null(strstr(str(d, "result_url"), "/files/task_TEST/video?"));
    json_decref(j);

    t.status = VG_TASK_CANCELLED;
    j = vg_task_json_envelope(&g_app, &t);
    d = json_object_get(j, "data");
    assert_string_equal(str(d, "status"), "FAILURE");
    assert_string_equal(str(d, "fail_reason"), "cancelled");
    json_decref(j);
    vg_task_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_mapping), cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_video_object), cmocka_unit_test(test_failed_and_cancelled),
        cmocka_unit_test(test_envelope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
