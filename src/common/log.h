/*
 * log.h - one line per event on stderr: "2026-11-24T17:00:00.123Z LEVEL message".
 *
 * Thread-safe (each line is written with one call). Callers never pass secrets: API keys,
 * signatures and upstream credentials are not logged anywhere (see redact helpers in http/).
 */
#ifndef VG_LOG_H
#define VG_LOG_H

typedef enum { VG_LOG_DEBUG, VG_LOG_INFO, VG_LOG_WARN, VG_LOG_ERROR } vg_log_level;

/** Lines below this level are dropped (default INFO; VIDGATE_LOG_LEVEL=debug lowers it). */
void vg_log_set_level(vg_log_level level);
void vg_log(vg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define vg_debug(...) vg_log(VG_LOG_DEBUG, __VA_ARGS__)
#define vg_info(...)  vg_log(VG_LOG_INFO, __VA_ARGS__)
#define vg_warn(...)  vg_log(VG_LOG_WARN, __VA_ARGS__)
#define vg_error(...) vg_log(VG_LOG_ERROR, __VA_ARGS__)

#endif
