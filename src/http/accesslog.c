/* accesslog.c - see accesslog.h. */
#include "http/accesslog.h"

#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

typedef struct {
    char buf[VG_ACCESSLOG_BUF_BYTES];
    size_t len;
    int64_t oldest_ms; /* when the first line still in buf was added */
    bool buffered;
} access_buf;

static _Thread_local access_buf g_buf;

static void flush(void)
{
    if (g_buf.len) vg_log_write(g_buf.buf, g_buf.len);
    g_buf.len = 0;
}

void vg_accesslog(const char *fmt, ...)
{
    if (!vg_log_enabled(VG_LOG_INFO)) return;
    char line[VG_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    size_t n = vg_log_vformat(VG_LOG_INFO, line, sizeof line, fmt, ap);
    va_end(ap);
    if (!g_buf.buffered) {
        vg_log_write(line, n);
        return;
    }
    if (n > sizeof g_buf.buf - g_buf.len) flush();
    if (!g_buf.len) g_buf.oldest_ms = vg_mono_ms();
    memcpy(g_buf.buf + g_buf.len, line, n);
    g_buf.len += n;
}

void vg_accesslog_thread_start(void)
{
    g_buf.len = 0;
    g_buf.buffered = true;
}

void vg_accesslog_tick(int64_t now_ms)
{
    if (g_buf.len && now_ms - g_buf.oldest_ms >= VG_ACCESSLOG_FLUSH_MS) flush();
}

int64_t vg_accesslog_wait_ms(int64_t now_ms, int64_t max_ms)
{
    if (!g_buf.len) return max_ms;
    int64_t left = g_buf.oldest_ms + VG_ACCESSLOG_FLUSH_MS - now_ms;
    return left < 0 ? 0 : left < max_ms ? left : max_ms;
}

void vg_accesslog_thread_stop(void)
{
    flush();
    g_buf.buffered = false;
}
