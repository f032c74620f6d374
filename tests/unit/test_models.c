/*
 * test_models.c - the model, size and price tables (spec §2, §7): every size of the table, the
 * token formula's worked figure, prices with ceil rounding, ratio matching, pixel strings, config
 * loading.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/models.h"

#include <stdio.h>
#include <string.h>

static const struct {
    vg_resolution r;
    vg_ratio q;
    int w, h;
} k_sizes[] = {
    {VG_RES_480P, VG_RATIO_16_9, 864, 496},    {VG_RES_480P, VG_RATIO_4_3, 752, 560},
    {VG_RES_480P, VG_RATIO_1_1, 640, 640},     {VG_RES_480P, VG_RATIO_3_4, 560, 752},
    {VG_RES_480P, VG_RATIO_9_16, 496, 864},    {VG_RES_480P, VG_RATIO_21_9, 992, 432},
    {VG_RES_720P, VG_RATIO_16_9, 1280, 720},   {VG_RES_720P, VG_RATIO_4_3, 1112, 834},
    {VG_RES_720P, VG_RATIO_1_1, 960, 960},     {VG_RES_720P, VG_RATIO_3_4, 834, 1112},
    {VG_RES_720P, VG_RATIO_9_16, 720, 1280},   {VG_RES_720P, VG_RATIO_21_9, 1470, 630},
    {VG_RES_1080P, VG_RATIO_16_9, 1920, 1080}, {VG_RES_1080P, VG_RATIO_4_3, 1664, 1248},
    {VG_RES_1080P, VG_RATIO_1_1, 1440, 1440},  {VG_RES_1080P, VG_RATIO_3_4, 1248, 1664},
    {VG_RES_1080P, VG_RATIO_9_16, 1080, 1920}, {VG_RES_1080P, VG_RATIO_21_9, 2206, 946},
};
#define N_SIZES (sizeof k_sizes / sizeof k_sizes[0])

/* Restores the default table after tests that load another one. */
static int restore_defaults(void **state)
{
    (void)state;
    json_t *j =
        json_loads("[{\"name\":\"doubao-seedance-2-0\",\"resolutions\":[\"480p\",\"720p\","
                   "\"1080p\"],\"min_seconds\":4,\"max_seconds\":15,\"prices\":{\"480p\":"
                   "\"7.0\",\"720p\":\"7.0\",\"1080p\":\"7.7\"},\"prices_video_input\":{"
                   "\"480p\":\"4.3\",\"720p\":\"4.3\",\"1080p\":\"4.7\"}},"
                   "{\"name\":\"doubao-seedance-2-0-fast\",\"resolutions\":[\"480p\","
                   "\"720p\"],\"prices\":{\"480p\":5.6,\"720p\":5.6},\"prices_video_input\":"
                   "{\"480p\":3.3,\"720p\":3.3}},"
                   "{\"name\":\"doubao-seedance-2-0-mini\",\"resolutions\":[\"480p\","
                   "\"720p\"],\"prices\":{\"480p\":3.5,\"720p\":3.5},\"prices_video_input\":"
                   "{\"480p\":2.1,\"720p\":2.1}}]",
                   0, NULL);
    char err[128];
    int rc = vg_models_load_json(j, err, sizeof err);
    json_decref(j);
    return rc;
}

static void test_default_table(void **state)
{
    (void)state;
    assert_int_equal(vg_model_count(), 3);
    assert_string_equal(vg_model_at(0)->name, "doubao-seedance-2-0");
    assert_null(vg_model_at(3));
    assert_null(vg_model_find("sora-2"));
    const vg_model *m = vg_model_find("doubao-seedance-2-0");
    assert_non_null(m);
    assert_int_equal(m->min_seconds, 4);
    assert_int_equal(m->max_seconds, 15);
    assert_int_equal(m->resolutions, 7);
    assert_int_equal(m->price_per_mtok[VG_RES_480P][0], 7000000);
    assert_int_equal(m->price_per_mtok[VG_RES_720P][1], 4300000);
    assert_int_equal(m->price_per_mtok[VG_RES_1080P][0], 7700000);
    assert_int_equal(m->price_per_mtok[VG_RES_1080P][1], 4700000);
    const vg_model *fast = vg_model_find("doubao-seedance-2-0-fast");
    assert_int_equal(fast->resolutions, 3);
    assert_int_equal(fast->price_per_mtok[VG_RES_720P][0], 5600000);
    assert_int_equal(fast->price_per_mtok[VG_RES_480P][1], 3300000);
    const vg_model *mini = vg_model_find("doubao-seedance-2-0-mini");
    assert_int_equal(mini->resolutions, 3);
    assert_int_equal(mini->price_per_mtok[VG_RES_720P][0], 3500000);
    assert_int_equal(mini->price_per_mtok[VG_RES_720P][1], 2100000);
}

static void test_names(void **state)
{
    (void)state;
    static const char *res[] = {"480p", "720p", "1080p"};
    static const char *ratios[] = {"16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive"};
    for (int r = 0; r < VG_RES_COUNT; r++) {
        assert_string_equal(vg_resolution_name((vg_resolution)r), res[r]);
        assert_int_equal(vg_resolution_parse(res[r]), r);
    }
    for (int q = 0; q < VG_RATIO_COUNT; q++) {
        assert_string_equal(vg_ratio_name((vg_ratio)q), ratios[q]);
        assert_int_equal(vg_ratio_parse(ratios[q]), q);
    }
    assert_int_equal(vg_resolution_parse("720P"), -1);
    assert_int_equal(vg_resolution_parse("4k"), -1);
    assert_int_equal(vg_resolution_parse(NULL), -1);
    assert_int_equal(vg_ratio_parse("16/9"), -1);
    assert_int_equal(vg_ratio_parse(""), -1);
}

static void test_every_size(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SIZES; i++) {
        int w = 0, h = 0;
        vg_output_size(k_sizes[i].r, k_sizes[i].q, &w, &h);
        assert_int_equal(w, k_sizes[i].w);
        assert_int_equal(h, k_sizes[i].h);
        /* and back from the pixel string */
        char s[32];
        snprintf(s, sizeof s, "%dx%d", w, h);
        vg_resolution r;
        vg_ratio q;
        assert_int_equal(vg_size_from_pixels(s, &r, &q), 0);
        assert_int_equal(r, k_sizes[i].r);
        assert_int_equal(q, k_sizes[i].q);
    }
    /* adaptive without a first frame is 16:9 */
    int w, h;
    vg_output_size(VG_RES_720P, VG_RATIO_ADAPTIVE, &w, &h);
    assert_int_equal(w, 1280);
    assert_int_equal(h, 720);
}

static void test_size_from_pixels_aliases_and_rejects(void **state)
{
    (void)state;
    vg_resolution r;
    vg_ratio q;
    assert_int_equal(vg_size_from_pixels("1792x1024", &r, &q), 0);
    assert_int_equal(r, VG_RES_1080P);
    assert_int_equal(q, VG_RATIO_16_9);
    assert_int_equal(vg_size_from_pixels("1024x1792", &r, &q), 0);
    assert_int_equal(r, VG_RES_1080P);
    assert_int_equal(q, VG_RATIO_9_16);
    static const char *bad[] = {"1280X720", "1280x721", " 1280x720", "1280x720 ", "01280x720",
                                "1280*720", "720p",     "",          "x",         "1920x1080x1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(vg_size_from_pixels(bad[i], &r, &q), -1);
    assert_int_equal(vg_size_from_pixels(NULL, &r, &q), -1);
}

static void test_ratio_closest(void **state)
{
    (void)state;
    static const struct {
        int w, h;
        vg_ratio want;
    } cases[] = {
        {1920, 1080, VG_RATIO_16_9}, {1080, 1920, VG_RATIO_9_16}, {1000, 1000, VG_RATIO_1_1},
        {800, 600, VG_RATIO_4_3},    {600, 800, VG_RATIO_3_4},    {2520, 1080, VG_RATIO_21_9},
        {3000, 1000, VG_RATIO_21_9}, /* 3:1 is nearest 21:9 */
        {1000, 3000, VG_RATIO_9_16}, {1100, 1000, VG_RATIO_1_1},  {1500, 1000, VG_RATIO_4_3},
        {1700, 1000, VG_RATIO_16_9}, {0, 100, VG_RATIO_16_9},     {100, -1, VG_RATIO_16_9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(vg_ratio_closest(cases[i].w, cases[i].h), cases[i].want);
}

static void test_max_area(void **state)
{
    (void)state;
    /* the largest area is not always the same ratio: 4:3 wins at 720p */
    assert_int_equal(vg_max_area(VG_RES_480P), 864 * 496);
    assert_int_equal(vg_max_area(VG_RES_720P), 1112 * 834);
    assert_int_equal(vg_max_area(VG_RES_1080P), 2206 * 946);
    assert_int_equal(vg_max_area(VG_RES_COUNT), 0);
}

static void test_tokens(void **state)
{
    (void)state;
    assert_int_equal(vg_tokens(1280, 720, 5), 108900); /* the spec's worked figure */
    assert_int_equal(vg_tokens(1280, 720, 4), 1280 * 720 * 97 / 1024);
    /* rounded down: 864·496·121/1024 = 50638.5 */
    assert_int_equal(vg_tokens(864, 496, 5), 50638);
    assert_int_equal(vg_tokens(2206, 946, 15), (int64_t)2206 * 946 * 361 / 1024);
    assert_int_equal(vg_tokens(0, 720, 5), 0);
    assert_int_equal(vg_tokens(1280, 720, 0), 0);
}

static void test_price_each_default(void **state)
{
    (void)state;
    static const struct {
        const char *model;
        vg_resolution r;
        bool video;
        int64_t tokens, want;
    } cases[] = {
        /* 108900 × 7.0 = 762300 micro-units exactly (the spec's "0.762300") */
        {"doubao-seedance-2-0", VG_RES_720P, false, 108900, 762300},
        {"doubao-seedance-2-0", VG_RES_480P, false, 108900, 762300},
        {"doubao-seedance-2-0", VG_RES_720P, true, 108900, 468270},       /* × 4.3 */
        {"doubao-seedance-2-0", VG_RES_1080P, false, 108900, 838530},     /* × 7.7 */
        {"doubao-seedance-2-0", VG_RES_1080P, true, 108900, 511830},      /* × 4.7 */
        {"doubao-seedance-2-0-fast", VG_RES_720P, false, 108900, 609840}, /* × 5.6 */
        {"doubao-seedance-2-0-fast", VG_RES_480P, true, 108900, 359370},  /* × 3.3 */
        {"doubao-seedance-2-0-mini", VG_RES_720P, false, 108900, 381150}, /* × 3.5 */
        {"doubao-seedance-2-0-mini", VG_RES_480P, true, 108900, 228690},  /* × 2.1 */
        /* ceil: 1 token × 7.0 = 7 micro exactly; 1 × 4.3 = 4.3 → 5; 50638 × 4.3 = 217743.4 → 217744
         */
        {"doubao-seedance-2-0", VG_RES_720P, false, 1, 7},
        {"doubao-seedance-2-0", VG_RES_720P, true, 1, 5},
        {"doubao-seedance-2-0", VG_RES_480P, true, 50638, 217744},
        {"doubao-seedance-2-0-fast", VG_RES_480P, false, 50638, 283573}, /* 283572.8 */
        {"doubao-seedance-2-0-mini", VG_RES_480P, true, 50638, 106340},  /* 106339.8 */
        {"doubao-seedance-2-0", VG_RES_1080P, false, 3, 24},             /* 23.1 */
        {"doubao-seedance-2-0", VG_RES_720P, false, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const vg_model *m = vg_model_find(cases[i].model);
        assert_non_null(m);
        assert_int_equal(vg_price_micro(m, cases[i].r, cases[i].video, cases[i].tokens),
                         cases[i].want);
    }
    /* no overflow for a huge token count: 128-bit product */
    const vg_model *m = vg_model_find("doubao-seedance-2-0");
    assert_int_equal(vg_price_micro(m, VG_RES_720P, false, INT64_MAX / 2),
                     INT64_MAX); /* clamped, not wrapped */
    assert_int_equal(vg_price_micro(NULL, VG_RES_720P, false, 10), 0);
}

static void test_to_json(void **state)
{
    (void)state;
    json_t *arr = vg_models_to_json("USD");
    assert_int_equal(json_array_size(arr), 3);
    json_t *m0 = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(m0, "id")), "doubao-seedance-2-0");
    assert_string_equal(json_string_value(json_object_get(m0, "object")), "model");
    assert_int_equal(json_integer_value(json_object_get(m0, "created")), 0);
    assert_string_equal(json_string_value(json_object_get(m0, "owned_by")), "vidgate");
    assert_int_equal(json_array_size(json_object_get(m0, "resolutions")), 3);
    json_t *secs = json_object_get(m0, "seconds");
    assert_int_equal(json_integer_value(json_object_get(secs, "min")), 4);
    assert_int_equal(json_integer_value(json_object_get(secs, "max")), 15);
    json_t *pricing = json_object_get(m0, "pricing");
    assert_string_equal(json_string_value(json_object_get(pricing, "currency")), "USD");
    json_t *p = json_object_get(pricing, "per_million_tokens");
    assert_string_equal(json_string_value(json_object_get(p, "480p")), "7.000000");
    assert_string_equal(json_string_value(json_object_get(p, "1080p")), "7.700000");
    p = json_object_get(pricing, "per_million_tokens_video_input");
    assert_string_equal(json_string_value(json_object_get(p, "720p")), "4.300000");
    /* -fast lists no 1080p price */
    json_t *m1 = json_array_get(arr, 1);
    p = json_object_get(json_object_get(m1, "pricing"), "per_million_tokens");
    assert_null(json_object_get(p, "1080p"));
    assert_string_equal(json_string_value(json_object_get(p, "720p")), "5.600000");
    json_decref(arr);
}

static void test_load_json(void **state)
{
    (void)state;
    char err[160];
    /* change one price of a known model, add a new model: only the named models change, the
     * others stay; a new model goes at the end */
    json_t *j =
        json_loads("[{\"name\":\"custom-1\",\"resolutions\":[\"480p\"],\"min_seconds\":2,"
                   "\"max_seconds\":6,\"prices\":{\"480p\":\"1.25\"},\"description\":\"x\"},"
                   "{\"name\":\"doubao-seedance-2-0-fast\",\"prices\":{\"720p\":6}}]",
                   0, NULL);
    const vg_model *before = vg_model_find("doubao-seedance-2-0");
    assert_int_equal(vg_models_load_json(j, err, sizeof err), 0);
    json_decref(j);
    assert_int_equal(vg_model_count(), 4);
    const vg_model *c = vg_model_at(3);
    assert_string_equal(c->name, "custom-1");
    assert_int_equal(c->resolutions, 1);
    assert_int_equal(c->min_seconds, 2);
    assert_int_equal(c->max_seconds, 6);
    assert_int_equal(c->price_per_mtok[VG_RES_480P][0], 1250000);
    assert_int_equal(c->price_per_mtok[VG_RES_480P][1], 1250000); /* falls back to the full price */
    const vg_model *f = vg_model_find("doubao-seedance-2-0-fast");
    assert_int_equal(f->price_per_mtok[VG_RES_720P][0], 6000000);
    assert_int_equal(f->price_per_mtok[VG_RES_480P][0], 5600000); /* inherited */
    assert_int_equal(f->price_per_mtok[VG_RES_720P][1], 3300000);
    const vg_model *pro = vg_model_find("doubao-seedance-2-0"); /* not named: untouched */
    assert_non_null(pro);
    assert_int_equal(pro->price_per_mtok[VG_RES_1080P][0], 7700000);
    /* the replaced table stays readable through pointers taken before the swap */
    assert_int_equal(before->price_per_mtok[VG_RES_480P][0], 7000000);
    /* "enabled": false removes a model; the next load starts again from the built-in table */
    j = json_loads("[{\"name\":\"doubao-seedance-2-0-mini\",\"enabled\":false}]", 0, NULL);
    assert_int_equal(vg_models_load_json(j, err, sizeof err), 0);
    json_decref(j);
    assert_int_equal(vg_model_count(), 2);
    assert_null(vg_model_find("doubao-seedance-2-0-mini"));
    assert_null(vg_model_find("custom-1"));
    assert_int_equal(vg_model_find("doubao-seedance-2-0-fast")->price_per_mtok[VG_RES_720P][0],
                     5600000);
}

static void test_load_json_rejects(void **state)
{
    (void)state;
    static const char *bad[] = {
        "{}",
        "[]",
        "[{\"resolutions\":[\"480p\"],\"prices\":{\"480p\":1}}]",               /* no name */
        "[{\"name\":\"\",\"resolutions\":[\"480p\"],\"prices\":{\"480p\":1}}]", /* empty name */
        "[{\"name\":\"n\",\"prices\":{\"480p\":1}}]", /* new model, no resolutions */
        "[{\"name\":\"n\",\"resolutions\":[\"4k\"],\"prices\":{\"480p\":1}}]",
        "[{\"name\":\"n\",\"resolutions\":[\"480p\"]}]", /* no price */
        "[{\"name\":\"n\",\"resolutions\":[\"480p\"],\"prices\":{\"480p\":\"-1\"}}]",
        "[{\"name\":\"n\",\"resolutions\":[\"480p\"],\"prices\":{\"480p\":\"abc\"}}]",
        "[{\"name\":\"n\",\"resolutions\":[\"480p\"],\"prices\":{\"8k\":1}}]",
        "[{\"name\":\"n\",\"resolutions\":[\"480p\"],\"prices\":{\"480p\":1},\"min_seconds\":9,"
        "\"max_seconds\":3}]",
        "[{\"name\":\"n\",\"resolutions\":[\"480p\"],\"prices\":{\"480p\":1},\"min_seconds\":\"4\"}"
        "]",
        "[{\"name\":\"n\",\"resolutions\":[\"480p\"],\"prices\":{\"480p\":1}},"
        "{\"name\":\"n\",\"resolutions\":[\"480p\"],\"prices\":{\"480p\":1}}]", /* twice */
        "[{\"name\":\"nope\",\"enabled\":false}]",                 /* not in the table */
        "[{\"name\":\"doubao-seedance-2-0\",\"enabled\":\"no\"}]", /* not a boolean */
        "[{\"name\":\"doubao-seedance-2-0\",\"enabled\":false},{\"name\":"
        "\"doubao-seedance-2-0-fast\",\"enabled\":false},{\"name\":\"doubao-seedance-2-0-mini\","
        "\"enabled\":false}]", /* nothing left */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[160] = "";
        json_t *j = json_loads(bad[i], 0, NULL);
        assert_non_null(j);
        assert_int_equal(vg_models_load_json(j, err, sizeof err), -1);
        assert_true(err[0] != '\0');
        json_decref(j);
    }
    /* a failed load leaves the table as it was */
    assert_int_equal(vg_model_count(), 3);
    assert_non_null(vg_model_find("doubao-seedance-2-0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_table),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_every_size),
        cmocka_unit_test(test_size_from_pixels_aliases_and_rejects),
        cmocka_unit_test(test_ratio_closest),
        cmocka_unit_test(test_max_area),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_price_each_default),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test_teardown(test_load_json, restore_defaults),
        cmocka_unit_test(test_load_json_rejects),
        /* after the reload: the defaults came back through the JSON path intact */
        cmocka_unit_test(test_default_table),
        cmocka_unit_test(test_price_each_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
