/*
 * test_isotime.c - times as operators type them: unix seconds and ISO 8601, and what is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/isotime.h"
#include "common/status.h"

static void test_accepted(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t want;
    } cases[] = {
        {"0", 0},
        {"1795651200", 1795651200},
        {"2026-11-26", 1795651200},
        {"2026-11-26T10:00:00Z", 1795687200},
        {"2026-11-26t10:00:00z", 1795687200},
        {"2026-11-26 10:00:00Z", 1795687200},
        {"2026-11-26T10:00Z", 1795687200},
        {"2026-11-26T10:00:00.750Z", 1795687200},
        {"2026-11-26T11:00:00+01:00", 1795687200},
        {"2026-11-26T05:30:00-0430", 1795687200},
        {"2026-11-26T12:00:00+02", 1795687200},
        {"2024-02-29", 1709164800},
        {"1970-01-01T00:00:00Z", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t t = -1;
        assert_int_equal(vg_isotime_parse(cases[i].in, &t), VG_OK);
        if (t != cases[i].want) fail_msg("%s: %lld", cases[i].in, (long long)t);
    }
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "yesterday",
        "2026-11-26x",
        "2026-13-01",
        "2026-02-30",
        "2025-02-29",
        "2026-11-26T25:00Z",
        "2026-11-26T10:60Z",
        "2026-11-26T10",
        "2026-11-26T10:00:00+25:00",
        "26-11-2026",
        "-5",
        " 5",
        "5 ",
        "99999999999999999999",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t t;
        if (vg_isotime_parse(bad[i], &t) != VG_ERR) fail_msg("accepted \"%s\"", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
