/*
 * test_task.c - task statuses (names, public names, finality), the state machine's operations and
 * the moves they make, the task spec's JSON storage form and its asset references.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/alloc.h"
#include "common/limits.h"
#include "core/task.h"

#include <stdlib.h>
#include <string.h>

static void test_names(void **state)
{
    (void)state;
    static const struct {
        vg_task_status s;
        const char *name, *pub;
        bool final;
    } cases[] = {
        {VG_TASK_QUEUED, "queued", "queued", false},
        {VG_TASK_DISPATCHING, "dispatching", "queued", false},
        {VG_TASK_RUNNING, "running", "running", false},
        {VG_TASK_FINALIZING, "finalizing", "running", false},
        {VG_TASK_COMPLETED, "completed", "completed", true},
        {VG_TASK_FAILED, "failed", "failed", true},
        {VG_TASK_CANCELLED, "cancelled", "cancelled", true},
    };
    assert_int_equal(sizeof cases / sizeof cases[0], VG_TASK_STATUS_COUNT);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_string_equal(vg_task_status_name(cases[i].s), cases[i].name);
        assert_string_equal(vg_task_status_public(cases[i].s), cases[i].pub);
        assert_int_equal(vg_task_status_parse(cases[i].name), cases[i].s);
        assert_int_equal(vg_task_status_final(cases[i].s), cases[i].final);
    }
    assert_int_equal(vg_task_status_parse("in_progress"), -1);
    assert_int_equal(vg_task_status_parse("Queued"), -1);
    assert_int_equal(vg_task_status_parse(NULL), -1);
    assert_false(vg_task_status_final(VG_TASK_STATUS_COUNT));
}

/* The moves task.h documents, written as the spec states them (the store test drives the real
 * operations against the table). */
static void test_transitions(void **state)
{
    (void)state;
    enum { Q, D, R, F, C, X, K };
    /* allowed[from][to]: queued, dispatching, running, finalizing, completed, failed, cancelled */
    static const bool allowed[VG_TASK_STATUS_COUNT][VG_TASK_STATUS_COUNT] = {
        [Q] = {[D] = 1, [R] = 1, [K] = 1, [X] = 1},
        [D] = {[R] = 1, [Q] = 1, [K] = 1, [X] = 1},
        [R] = {[F] = 1, [C] = 1, [Q] = 1, [X] = 1},
        [F] = {[C] = 1, [X] = 1},
        /* completed, failed, cancelled: nothing */
    };
    for (int from = 0; from < VG_TASK_STATUS_COUNT; from++)
        for (int to = 0; to < VG_TASK_STATUS_COUNT; to++) {
            bool ok = vg_task_transition_ok((vg_task_status)from, (vg_task_status)to);
            if (ok != allowed[from][to])
                fail_msg("%s -> %s: got %d", vg_task_status_name((vg_task_status)from),
                         vg_task_status_name((vg_task_status)to), ok);
            assert_int_equal((vg_task_from((vg_task_status)to) & VG_TASK_BIT(from)) != 0, ok);
        }
    assert_false(vg_task_transition_ok(VG_TASK_STATUS_COUNT, VG_TASK_QUEUED));
    assert_false(vg_task_transition_ok(VG_TASK_QUEUED, VG_TASK_STATUS_COUNT));
}

/* Each operation: a non-empty from set; only the one that forgets content runs on final tasks;
 * nothing moves a task into a status it cannot leave except the three final ones. */
static void test_ops(void **state)
{
    (void)state;
    for (int op = 0; op < VG_TASK_OP_COUNT; op++) {
        vg_task_status_set from = vg_task_op_from((vg_task_op)op);
        int to = vg_task_op_to((vg_task_op)op);
        assert_true(from != 0);
        assert_int_equal(from & ~VG_TASK_SET_ALL, 0);
        if (op == VG_TASK_OP_FORGET)
            assert_int_equal(from, VG_TASK_SET_FINAL);
        else
            assert_int_equal(from & VG_TASK_SET_FINAL, 0);
        if (to >= 0)
            for (int f = 0; f < VG_TASK_STATUS_COUNT; f++)
                if (from & VG_TASK_BIT(f))
                    assert_true(vg_task_transition_ok((vg_task_status)f, (vg_task_status)to));
        assert_string_not_equal(vg_task_op_name((vg_task_op)op), "unknown");
    }
    assert_int_equal(vg_task_op_from(VG_TASK_OP_COUNT), 0);
    assert_int_equal(vg_task_op_to(VG_TASK_OP_PROGRESS), -1);
    assert_int_equal(vg_task_op_to(VG_TASK_OP_CLAIM), VG_TASK_RUNNING);
}

static void test_asset_hashes(void **state)
{
    (void)state;
    char h[VG_MAX_MEDIA_ITEMS][65];
    const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char params[600];
    snprintf(params, sizeof params,
             "{\"media\":[{\"url\":\"asset://asset-1?sha256=%s\"},{\"url\":\"https://x/y\"},"
             "{\"url\":\"asset://asset-2?sha256=%s\"},{\"url\":\"asset://asset-3\"}]}",
             sha, sha);
    assert_int_equal(vg_task_params_asset_hashes(params, h), 1); /* the same bytes once */
    assert_string_equal(h[0], sha);
    assert_int_equal(vg_task_params_asset_hashes("{}", h), 0);
    assert_int_equal(vg_task_params_asset_hashes("not json", h), 0);
    assert_int_equal(vg_task_params_asset_hashes(NULL, h), 0);
}

static void fill_spec(vg_task_spec *s)
{
    memset(s, 0, sizeof *s);
    strcpy(s->model, "doubao-seedance-2-0");
    s->prompt = vg_strdup("产品在展示台上缓慢旋转 \"quoted\"");
    s->seconds = 7;
    s->resolution = VG_RES_1080P;
    s->ratio = VG_RATIO_21_9;
    s->seed = 4294967295LL;
    s->generate_audio = true;
    s->watermark = true;
    s->camera_fixed = false;
    s->return_last_frame = true;
    s->callback_url = vg_strdup("https://hooks.example.com/x?a=1");
    static const struct {
        vg_media_type t;
        vg_media_role r;
        const char *url;
    } media[] = {
        {VG_MEDIA_IMAGE, VG_ROLE_REFERENCE_IMAGE, "https://a.example/1.png"},
        {VG_MEDIA_IMAGE, VG_ROLE_REFERENCE_IMAGE, "data:image/png;base64,iVBORw0KGgo="},
        {VG_MEDIA_VIDEO, VG_ROLE_REFERENCE_VIDEO, "asset://asset-1"},
        {VG_MEDIA_AUDIO, VG_ROLE_REFERENCE_AUDIO, "https://a.example/a.mp3"},
    };
    for (size_t i = 0; i < sizeof media / sizeof media[0]; i++)
        s->media[s->n_media++] = (vg_media){media[i].t, media[i].r, vg_strdup(media[i].url)};
}

static void assert_specs_equal(const vg_task_spec *a, const vg_task_spec *b)
{
    assert_string_equal(a->model, b->model);
    assert_string_equal(a->prompt, b->prompt);
    assert_int_equal(a->seconds, b->seconds);
    assert_int_equal(a->resolution, b->resolution);
    assert_int_equal(a->ratio, b->ratio);
    assert_int_equal(a->seed, b->seed);
    assert_int_equal(a->generate_audio, b->generate_audio);
    assert_int_equal(a->return_last_frame, b->return_last_frame);
    assert_int_equal(a->watermark, b->watermark);
    assert_int_equal(a->camera_fixed, b->camera_fixed);
    if (a->callback_url || b->callback_url) assert_string_equal(a->callback_url, b->callback_url);
    assert_int_equal(a->n_media, b->n_media);
    for (int i = 0; i < a->n_media; i++) {
        assert_int_equal(a->media[i].type, b->media[i].type);
        assert_int_equal(a->media[i].role, b->media[i].role);
        assert_string_equal(a->media[i].url, b->media[i].url);
    }
}

static void test_spec_round_trip(void **state)
{
    (void)state;
    vg_task_spec a, b;
    fill_spec(&a);
    json_t *j = vg_task_spec_to_json(&a);
    assert_non_null(j);
    /* through text, as the store keeps it */
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    json_t *back = json_loads(text, 0, NULL);
    free(text);
    assert_int_equal(vg_task_spec_from_json(back, &b), 0);
    assert_specs_equal(&a, &b);
    json_t *m0 = json_array_get(json_object_get(back, "media"), 2);
    assert_string_equal(json_string_value(json_object_get(m0, "type")), "video");
    assert_string_equal(json_string_value(json_object_get(m0, "role")), "reference_video");
    json_decref(back);
    vg_task_spec_free(&a);
    vg_task_spec_free(&b);
    vg_task_spec_free(&b); /* a second free is harmless */
}

static void test_spec_round_trip_minimal(void **state)
{
    (void)state;
    vg_task_spec a = {
        .seconds = 5, .resolution = VG_RES_720P, .ratio = VG_RATIO_ADAPTIVE, .seed = -1};
    strcpy(a.model, "doubao-seedance-2-0-mini");
    a.prompt = vg_strdup("p");
    json_t *j = vg_task_spec_to_json(&a);
    assert_null(json_object_get(j, "callback_url"));
    assert_string_equal(json_string_value(json_object_get(j, "ratio")), "adaptive");
    vg_task_spec b;
    assert_int_equal(vg_task_spec_from_json(j, &b), 0);
    assert_specs_equal(&a, &b);
    assert_null(b.callback_url);
    json_decref(j);
    vg_task_spec_free(&a);
    vg_task_spec_free(&b);
}

static void test_spec_from_json_rejects(void **state)
{
    (void)state;
    static const char *bad[] = {
        "[]",
        "{\"prompt\":\"p\",\"seconds\":5,\"resolution\":\"720p\",\"ratio\":\"1:1\"}", /* model */
        "{\"model\":\"m\",\"seconds\":5,\"resolution\":\"720p\",\"ratio\":\"1:1\"}",  /* prompt */
        "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":\"5\",\"resolution\":\"720p\",\"ratio\":\"1:"
        "1\"}",
        "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":5,\"resolution\":\"4k\",\"ratio\":\"1:1\"}",
        "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":5,\"resolution\":\"720p\",\"ratio\":\"2:"
        "1\"}",
        "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":5,\"resolution\":\"720p\",\"ratio\":\"1:1\","
        "\"watermark\":1}",
        "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":5,\"resolution\":\"720p\",\"ratio\":\"1:1\","
        "\"media\":[{\"type\":\"image\",\"role\":\"first_frame\",\"url\":\"u\"},"
        "{\"type\":\"gif\",\"role\":\"first_frame\",\"url\":\"u\"}]}", /* leaks nothing on failure
                                                                        */
        "{\"model\":\"m\",\"prompt\":\"p\",\"seconds\":5,\"resolution\":\"720p\",\"ratio\":\"1:1\","
        "\"callback_url\":7}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        vg_task_spec s;
        assert_int_equal(vg_task_spec_from_json(j, &s), -1);
        assert_null(s.prompt);
        assert_int_equal(s.n_media, 0);
        json_decref(j);
    }
}

static void test_has_role(void **state)
{
    (void)state;
    vg_task_spec s;
    fill_spec(&s);
    assert_true(vg_task_spec_has_role(&s, VG_ROLE_REFERENCE_VIDEO));
    assert_true(vg_task_spec_has_role(&s, VG_ROLE_REFERENCE_AUDIO));
    assert_false(vg_task_spec_has_role(&s, VG_ROLE_FIRST_FRAME));
    assert_false(vg_task_spec_has_role(&s, VG_ROLE_LAST_FRAME));
    vg_task_spec_free(&s);
    assert_false(vg_task_spec_has_role(&s, VG_ROLE_REFERENCE_VIDEO));
}

static void test_task_free(void **state)
{
    (void)state;
    vg_task t = {0};
    t.params = vg_strdup("{}");
    vg_task_free(&t);
    assert_null(t.params);
    vg_task_free(&t);
    vg_task_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_transitions),
        cmocka_unit_test(test_ops),
        cmocka_unit_test(test_asset_hashes),
        cmocka_unit_test(test_spec_round_trip),
        cmocka_unit_test(test_spec_round_trip_minimal),
        cmocka_unit_test(test_spec_from_json_rejects),
        cmocka_unit_test(test_has_role),
        cmocka_unit_test(test_task_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
