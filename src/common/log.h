/*
 * log.h - one line per event. Text lines "2026-11-24T17:00:00.123Z LEVEL message", or with
 * format JSON one object per line: {"ts":"…","level":"info","msg":"…"}; request lines (the access
 * log) carry their fields: {"ts","level","type":"access","method","path","status","ms","key",
 * "rid"}. Lines go to stderr (under systemd: the journal); the access log can be turned off or
 * sent to its own file instead.
 *
 * Thread-safe: each line is written with one write() call; level, format and the access log
 * destination can be changed at any time (a reload) while other threads log. Callers never pass
 * secrets: API keys, signatures and upstream credentials are not logged anywhere.
 */
#ifndef VG_LOG_H
#define VG_LOG_H
#include <stdint.h>

typedef enum { VG_LOG_DEBUG, VG_LOG_INFO, VG_LOG_WARN, VG_LOG_ERROR } vg_log_level;
typedef enum { VG_LOG_TEXT, VG_LOG_JSON } vg_log_format;

/** One served request. Strings are borrowed; the path has no query. */
typedef struct {
    const char *method;
    int method_len;
    const char *path;
    int path_len;
    int status;
    int64_t ms;
    const char *key_id; /* "" = none */
    const char *request_id;
} vg_log_access_entry;

/** Lines below this level are dropped (default INFO; VIDGATE_LOG_LEVEL=debug lowers it). */
void vg_log_set_level(vg_log_level level);
/** Level and format by name ("debug"…"error", "text"/"json"). 0, or -1 when unknown. */
int vg_log_level_parse(const char *name, vg_log_level *out);
int vg_log_format_parse(const char *name, vg_log_format *out);
void vg_log_set_format(vg_log_format format);
/**
 * Where request lines go: "on" (with the other lines), "off", or a file path (appended to,
 * created 0600; set again to reopen it after rotation). 0, or -1 with errno when the file
 * cannot be opened (the destination is then unchanged).
 */
int vg_log_set_access(const char *where);
void vg_log(vg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Writes one access line (at INFO), if the access log is on. */
void vg_log_access(const vg_log_access_entry *e);

#define vg_debug(...) vg_log(VG_LOG_DEBUG, __VA_ARGS__)
#define vg_info(...)  vg_log(VG_LOG_INFO, __VA_ARGS__)
#define vg_warn(...)  vg_log(VG_LOG_WARN, __VA_ARGS__)
#define vg_error(...) vg_log(VG_LOG_ERROR, __VA_ARGS__)

#endif
