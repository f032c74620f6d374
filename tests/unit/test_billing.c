/* test_billing.c - the hold a submit prices (core/billing): fixed sizes, adaptive ratio, reference
 * videos, test-mode keys, unknown models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/status.h"
#include "core/billing.h"
#include "core/models.h"

#include <stdio.h>
#include <string.h>

#define MODEL "doubao-seedance-2-0-fast"

static vg_task_spec spec(vg_ratio q, int seconds)
{
    vg_task_spec s;
    memset(&s, 0, sizeof s);
    snprintf(s.model, sizeof s.model, "%s", MODEL);
    s.resolution = VG_RES_720P;
    s.ratio = q;
    s.seconds = seconds;
    return s;
}

static void test_fixed_size(void **state)
{
    (void)state;
    vg_task_spec s = spec(VG_RATIO_16_9, 5);
    vg_billing_hold h;
    assert_int_equal(vg_billing_estimate(&s, false, &h), VG_OK);
    int w, ht;
    vg_output_size(VG_RES_720P, VG_RATIO_16_9, &w, &ht);
    assert_int_equal(h.width, w);
    assert_int_equal(h.height, ht);
    assert_int_equal(h.tokens, vg_tokens(w, ht, 5));
    assert_int_equal(h.hold_micro,
                     vg_price_micro(vg_model_find(MODEL), VG_RES_720P, false, h.tokens));
    assert_true(h.hold_micro > 0);
}

static void test_adaptive_holds_the_largest_area(void **state)
{
    (void)state;
    vg_task_spec s = spec(VG_RATIO_ADAPTIVE, 5);
    vg_billing_hold h;
    assert_int_equal(vg_billing_estimate(&s, false, &h), VG_OK);
    assert_int_equal(h.width, 0);
    for (int q = 0; q < VG_RATIO_ADAPTIVE; q++) {
        vg_task_spec f = spec((vg_ratio)q, 5);
        vg_billing_hold fh;
        assert_int_equal(vg_billing_estimate(&f, false, &fh), VG_OK);
        assert_true(h.hold_micro >= fh.hold_micro);
    }
}

static void test_reference_video_and_test_mode(void **state)
{
    (void)state;
    vg_task_spec s = spec(VG_RATIO_16_9, 5);
    vg_billing_hold plain, ref, test;
    assert_int_equal(vg_billing_estimate(&s, false, &plain), VG_OK);
    s.media[0].type = VG_MEDIA_VIDEO;
    s.media[0].role = VG_ROLE_REFERENCE_VIDEO;
    s.n_media = 1;
    assert_int_equal(vg_billing_estimate(&s, false, &ref), VG_OK);
    assert_int_equal(ref.tokens,
                     vg_tokens(plain.width, plain.height, 5 + VG_BILLING_REF_VIDEO_HOLD_S));
    assert_true(ref.hold_micro > plain.hold_micro);
    assert_int_equal(vg_billing_estimate(&s, true, &test), VG_OK);
    assert_int_equal(test.hold_micro, 0);
    assert_int_equal(test.tokens, ref.tokens);
}

static void test_unknown_model(void **state)
{
    (void)state;
    vg_task_spec s = spec(VG_RATIO_16_9, 5);
    snprintf(s.model, sizeof s.model, "no-such-model");
    vg_billing_hold h;
    assert_int_equal(vg_billing_estimate(&s, false, &h), VG_NOTFOUND);
    assert_int_equal(h.hold_micro, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_size),
        cmocka_unit_test(test_adaptive_holds_the_largest_area),
        cmocka_unit_test(test_reference_video_and_test_mode),
        cmocka_unit_test(test_unknown_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
