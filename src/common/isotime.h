/*
 * isotime.h - reads a point in time as operators type it: unix seconds ("1795000000") or ISO 8601
 * in UTC or with an offset ("2026-11-26", "2026-11-26T10:00:00Z", "2026-11-26T10:00Z",
 * "2026-11-26 10:00:00+01:00"). A date alone is its midnight UTC. Used by the server's query
 * parsing and by the CLI, so both accept the same spellings. Pure; any thread.
 */
#ifndef VG_ISOTIME_H
#define VG_ISOTIME_H
#include <stdint.h>

/** Parses s into unix seconds. VG_OK, or VG_ERR when s is neither form (or out of range). */
int vg_isotime_parse(const char *s, int64_t *out);

#endif
