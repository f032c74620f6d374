/*
 * money.h - exact money: int64 micro-units of the configured currency inside, decimal strings with
 * six fractional digits in JSON ("12.500000"). Input accepts a string or a JSON number.
 */
#ifndef VG_MONEY_H
#define VG_MONEY_H
#include <jansson.h>
#include <stdint.h>

#define VG_MONEY_STR_MAX 32

/** Formats micro-units as "-12.500000" into out. */
void vg_money_format(int64_t micro, char out[VG_MONEY_STR_MAX]);
/** Parses "12.5", "12.500000", "-3" (at most 6 fractional digits, |value| at most
 * VG_MAX_BALANCE_MICRO of common/limits.h, 10^9 units). 0 or -1. */
int vg_money_parse(const char *s, int64_t *micro);
/** Parses a JSON string or number the same way. 0 or -1. */
int vg_money_from_json(const json_t *v, int64_t *micro);

#endif
