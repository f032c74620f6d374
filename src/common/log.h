/*
 * log.h - one line per event on stderr: "2026-11-24T17:00:00.123Z LEVEL message".
 *
 * Thread-safe (each line is written with one call). Callers never pass secrets: API keys,
 * signatures and upstream credentials are not logged anywhere (see redact helpers in http/).
 */
#ifndef VG_LOG_H
#define VG_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define VG_LOG_LINE_MAX 2048 /* a longer line is cut */

typedef enum { VG_LOG_DEBUG, VG_LOG_INFO, VG_LOG_WARN, VG_LOG_ERROR } vg_log_level;

/** Lines below this level are dropped (default INFO; VIDGATE_LOG_LEVEL=debug lowers it). */
void vg_log_set_level(vg_log_level level);
void vg_log(vg_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Whether lines of this level are written. */
bool vg_log_enabled(vg_log_level level);
/**
 * Formats one line as vg_log() writes it, '\n' included, into buf (cap ≥ VG_LOG_LINE_MAX bytes
 * for an uncut line; a longer one is cut) and returns its length. For writers that batch lines.
 */
size_t vg_log_vformat(vg_log_level level, char *buf, size_t cap, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/** Writes whole lines (len ≤ PIPE_BUF stays in one piece between threads) with one write(). */
void vg_log_write(const char *buf, size_t len);

#define vg_debug(...) vg_log(VG_LOG_DEBUG, __VA_ARGS__)
#define vg_info(...)  vg_log(VG_LOG_INFO, __VA_ARGS__)
#define vg_warn(...)  vg_log(VG_LOG_WARN, __VA_ARGS__)
#define vg_error(...) vg_log(VG_LOG_ERROR, __VA_ARGS__)

#endif
