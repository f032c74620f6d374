/*
 * money.c - see money.h.
 *
 * Amounts never pass through floating point except when a client sends a JSON real: that one is
 * formatted with "%.6f" (rounding to the nearest micro-unit, once) and then parsed as a decimal
 * string, so 0.1 becomes exactly 100000 micro-units instead of whatever the binary double holds.
 */
#include "core/money.h"

#include "common/limits.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MICRO_PER_UNIT 1000000LL
#define MAX_INT_DIGITS 12 /* read at most this many; the bound is checked after */
#define FRAC_DIGITS    6
#define MAX_INPUT_LEN  64 /* longer strings are not money, whatever they hold */

void vg_money_format(int64_t micro, char out[VG_MONEY_STR_MAX])
{
    /* Work on the magnitude as unsigned so INT64_MIN does not overflow on negation. */
    uint64_t mag = micro < 0 ? (uint64_t)0 - (uint64_t)micro : (uint64_t)micro;
    snprintf(out, VG_MONEY_STR_MAX, "%s%llu.%06llu", micro < 0 ? "-" : "",
             (unsigned long long)(mag / MICRO_PER_UNIT),
             (unsigned long long)(mag % MICRO_PER_UNIT));
}

/* Reads a run of digits into *acc (at most max_digits significant ones); returns the count read. */
static size_t read_digits(const char **p, int64_t *acc, int max_digits, bool *overflow)
{
    size_t n = 0;
    int significant = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++, n++) {
        if (*acc == 0 && **p == '0') continue; /* leading zeros do not count */
        if (++significant > max_digits)
            *overflow = true;
        else
            *acc = *acc * 10 + (**p - '0');
    }
    return n;
}

/* Reads the fraction after '.': up to six digits, then only zeros may follow. */
static int read_fraction(const char **p, int64_t *frac)
{
    int n = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++, n++) {
        if (n < FRAC_DIGITS)
            *frac = *frac * 10 + (**p - '0');
        else if (**p != '0')
            return -1; /* a seventh significant digit: not an exact amount */
    }
    if (n == 0) return -1;
    for (; n < FRAC_DIGITS; n++)
        *frac *= 10;
    return 0;
}

int vg_money_parse(const char *s, int64_t *micro)
{
    if (!s || strnlen(s, MAX_INPUT_LEN + 1) > MAX_INPUT_LEN) return -1;
    const char *p = s;
    bool neg = *p == '-', overflow = false;
    if (neg) p++;
    int64_t whole = 0, frac = 0;
    if (read_digits(&p, &whole, MAX_INT_DIGITS, &overflow) == 0 || overflow) return -1;
    if (*p == '.') {
        p++;
        if (read_fraction(&p, &frac) < 0) return -1;
    }
    if (*p != '\0') return -1; /* exponents, spaces, signs in the middle, trailing junk */
    int64_t v = whole * MICRO_PER_UNIT + frac;
    if (v > VG_MAX_BALANCE_MICRO) return -1; /* no sum of amounts may overflow */
    *micro = neg ? -v : v;
    return 0;
}

int vg_money_from_json(const json_t *v, int64_t *micro)
{
    if (json_is_string(v)) return vg_money_parse(json_string_value(v), micro);
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        /* Bound first: the multiplication below must not overflow. */
        if (i < -VG_MAX_BALANCE_MICRO / MICRO_PER_UNIT || i > VG_MAX_BALANCE_MICRO / MICRO_PER_UNIT)
            return -1;
        *micro = (int64_t)i * MICRO_PER_UNIT;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!isfinite(d) || fabs(d) >= 1e12) return -1; /* keeps "%.6f" short; parse bounds it */
        char buf[64];
        snprintf(buf, sizeof buf, "%.6f", d);
        return vg_money_parse(buf, micro);
    }
    return -1;
}
