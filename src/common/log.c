/* log.c - see log.h. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static vg_log_level min_level = VG_LOG_INFO;
static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void vg_log_set_level(vg_log_level level)
{
    min_level = level;
}

bool vg_log_enabled(vg_log_level level)
{
    return level >= min_level;
}

/* "YYYY-MM-DDTHH:MM:SS" of the last second this thread formatted: gmtime_r() and a format once a
 * second instead of once a line (access lines come in thousands a second). */
static _Thread_local time_t stamp_sec = -1;
static _Thread_local char stamp[64];

size_t vg_log_vformat(vg_log_level level, char *line, size_t cap, const char *fmt, va_list ap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != stamp_sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        stamp_sec = ts.tv_sec;
    }
    int n = snprintf(line, cap, "%s.%03dZ %s ", stamp, (int)(ts.tv_nsec / 1000000), names[level]);
    if (n < 0) n = 0;
    if ((size_t)n > cap - 2) n = (int)(cap - 2);
    int m = vsnprintf(line + n, cap - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > cap - 2) len = cap - 2;
    line[len++] = '\n';
    return len;
}

void vg_log_write(const char *buf, size_t len)
{
    /* One write() per batch of lines keeps them whole when several threads log at once. */
    ssize_t w = write(STDERR_FILENO, buf, len);
    (void)w;
}

void vg_log(vg_log_level level, const char *fmt, ...)
{
    if (level < min_level) return;
    char line[VG_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    size_t len = vg_log_vformat(level, line, sizeof line, fmt, ap);
    va_end(ap);
    vg_log_write(line, len);
}
