/*
 * accesslog.h - the access log: one INFO line per request, written in batches.
 *
 * A status poll is small, and one write() per request line was a system call per request. So an
 * event loop keeps its lines in a buffer of its own (VG_ACCESSLOG_BUF_BYTES, at most PIPE_BUF, so
 * one batch stays whole in a pipe between threads) and writes them out with one write() when the
 * next line would not fit, when its oldest line is VG_ACCESSLOG_FLUSH_MS old, and when the loop
 * stops. Lines are formatted when the request ends (common/log.h's format, its timestamp), so
 * they may reach the log up to that long after lines other code logs at once. Lost only if the
 * process dies abruptly: at most the last VG_ACCESSLOG_FLUSH_MS of each loop.
 *
 * Threads: the buffer is per thread. A loop thread calls vg_accesslog_thread_start() before its
 * first request, vg_accesslog_tick() after every turn of its loop (vg_accesslog_wait_ms() bounds
 * how long that turn may sleep) and vg_accesslog_thread_stop() when it ends. On any other thread
 * vg_accesslog() writes its line at once.
 */
#ifndef VG_HTTP_ACCESSLOG_H
#define VG_HTTP_ACCESSLOG_H
#include <stdint.h>

/** Logs one access line at INFO level (nothing when INFO is off). */
void vg_accesslog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** From now on this thread's lines are buffered. */
void vg_accesslog_thread_start(void);
/** Writes the buffer when its oldest line is VG_ACCESSLOG_FLUSH_MS old. */
void vg_accesslog_tick(int64_t now_ms);
/** How long the loop may sleep before the buffer is due: max_ms when it is empty. */
int64_t vg_accesslog_wait_ms(int64_t now_ms, int64_t max_ms);
/** Writes what is buffered and writes later lines of this thread at once. */
void vg_accesslog_thread_stop(void);

#endif
