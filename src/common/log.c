/* log.c - see log.h. JSON lines are built by hand into one buffer (no allocation while logging);
 * text that is not valid UTF-8 has its stray bytes replaced, so every line parses. */
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static _Atomic int min_level = VG_LOG_INFO;
static _Atomic int format = VG_LOG_TEXT;
static const char *const upper[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static const char *const lower[] = {"debug", "info", "warn", "error"};

/* Access log destination: -1 off, else a descriptor (STDERR_FILENO, or our file). Writers hold
 * the read lock so a reopen never closes a descriptor under a write. */
static pthread_rwlock_t access_lock = PTHREAD_RWLOCK_INITIALIZER;
static int access_fd = STDERR_FILENO;

void vg_log_set_level(vg_log_level level)
{
    atomic_store(&min_level, (int)level);
}

void vg_log_set_format(vg_log_format f)
{
    atomic_store(&format, (int)f);
}

int vg_log_level_parse(const char *name, vg_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, lower[i])) return *out = (vg_log_level)i, 0;
    return -1;
}

int vg_log_format_parse(const char *name, vg_log_format *out)
{
    static const char *const names[] = {"text", "json"};
    for (int i = 0; i < 2; i++)
        if (!strcmp(name, names[i])) return *out = (vg_log_format)i, 0;
    return -1;
}

int vg_log_set_access(const char *where)
{
    int fd = -1;
    if (!strcmp(where, "on"))
        fd = STDERR_FILENO;
    else if (strcmp(where, "off") &&
             (fd = open(where, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0)
        return -1;
    pthread_rwlock_wrlock(&access_lock);
    int old = access_fd;
    access_fd = fd;
    pthread_rwlock_unlock(&access_lock);
    if (old > STDERR_FILENO) close(old);
    return 0;
}

/* Appends to a bounded buffer; silently truncates (a line never exceeds LINE_MAX_BYTES). */
typedef struct {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t len)
{
    if (len > b->cap - b->n) len = b->cap - b->n;
    memcpy(b->p + b->n, s, len);
    b->n += len;
}

static void puts_(buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (of at most n bytes), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xe0) == 0xc0 ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (!len || len > n || (len == 2 && s[0] < 0xc2)) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

/* A JSON string of s[0..len) (quotes included). */
static void put_json_str(buf *b, const char *s, size_t len)
{
    put(b, "\"", 1);
    for (size_t i = 0; i < len;) {
        unsigned char ch = (unsigned char)s[i];
        size_t ulen = utf8_len((const unsigned char *)s + i, len - i);
        char esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\', esc[1] = (char)ch;
            put(b, esc, 2);
        } else if (ch < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            put(b, esc, 6);
        } else if (!ulen) {
            put(b, "\\ufffd", 6);
            i++;
            continue;
        } else {
            put(b, s + i, ulen);
            i += ulen;
            continue;
        }
        i++;
    }
    put(b, "\"", 1);
}

static void timestamp(char out[96])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
}

/* The line's start: text "TS LEVEL " or JSON {"ts":…,"level":…, */
static void head(buf *b, vg_log_level level, bool json)
{
    char ts[96];
    timestamp(ts);
    if (!json) {
        puts_(b, ts);
        put(b, " ", 1);
        puts_(b, upper[level]);
        put(b, " ", 1);
        return;
    }
    puts_(b, "{\"ts\":\"");
    puts_(b, ts);
    puts_(b, "\",\"level\":\"");
    puts_(b, lower[level]);
    puts_(b, "\",");
}

/* One write() per line keeps lines whole when several threads log at once. */
static void emit(int fd, buf *b)
{
    b->cap += 1; /* the room kept for the newline */
    put(b, "\n", 1);
    ssize_t w = write(fd, b->p, b->n);
    (void)w;
}

void vg_log(vg_log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&min_level)) return;
    bool json = atomic_load(&format) == VG_LOG_JSON;
    char line[LINE_MAX_BYTES], msg[LINE_MAX_BYTES / 2];
    buf b = {line, 0, sizeof line - 2}; /* room kept for "}" and the newline */
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t mlen = m < 0 ? 0 : (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1;
    /* One event, one line: a message with a newline in it does not start a new one. */
    for (size_t i = 0; !json && i < mlen; i++)
        if (msg[i] == '\n' || msg[i] == '\r') msg[i] = ' ';
    head(&b, level, json);
    if (json) {
        puts_(&b, "\"msg\":");
        put_json_str(&b, msg, mlen);
        b.cap += 1;
        put(&b, "}", 1);
    } else {
        put(&b, msg, mlen);
    }
    emit(STDERR_FILENO, &b);
}

void vg_log_access(const vg_log_access_entry *e)
{
    if (VG_LOG_INFO < atomic_load(&min_level)) return;
    bool json = atomic_load(&format) == VG_LOG_JSON;
    char line[LINE_MAX_BYTES], num[64];
    buf b = {line, 0, sizeof line - 2}; /* room kept for "}" and the newline */
    const char *key = e->key_id && e->key_id[0] ? e->key_id : "-";
    head(&b, VG_LOG_INFO, json);
    if (json) {
        puts_(&b, "\"type\":\"access\",\"method\":");
        put_json_str(&b, e->method, (size_t)e->method_len);
        puts_(&b, ",\"path\":");
        put_json_str(&b, e->path, (size_t)e->path_len);
        snprintf(num, sizeof num, ",\"status\":%d,\"ms\":%lld,\"key\":", e->status,
                 (long long)e->ms);
        puts_(&b, num);
        put_json_str(&b, key, strlen(key));
        puts_(&b, ",\"rid\":");
        put_json_str(&b, e->request_id, strlen(e->request_id));
        b.cap += 1;
        put(&b, "}", 1);
    } else {
        char rest[LINE_MAX_BYTES];
        int n = snprintf(rest, sizeof rest, "%.*s %.*s %d %lldms key=%s rid=%s", e->method_len,
                         e->method, e->path_len, e->path, e->status, (long long)e->ms, key,
                         e->request_id);
        size_t rlen = n < 0 ? 0 : (size_t)n < sizeof rest ? (size_t)n : sizeof rest - 1;
        for (size_t i = 0; i < rlen; i++) /* a path is bytes from the network: one line */
            if ((unsigned char)rest[i] < 0x20) rest[i] = '?';
        put(&b, rest, rlen);
    }
    pthread_rwlock_rdlock(&access_lock);
    if (access_fd >= 0) emit(access_fd, &b);
    pthread_rwlock_unlock(&access_lock);
}
