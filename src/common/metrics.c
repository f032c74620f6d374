/*
 * metrics.c - see metrics.h.
 *
 * Storage is static and sized by limits.h, so no update ever allocates: HTTP series are a table
 * [route slot][status code − 100] of counters plus one latency histogram per route slot, where the
 * slots are the registered routes followed by one "unmatched" slot per method class. Memory that
 * no request touched stays untouched (zero pages), and a scrape writes only the series that
 * counted something, so the exposition grows with the routes actually used.
 *
 * A histogram keeps its buckets un-cumulated (one atomic addition per observation) with the sum
 * in microseconds; the writer accumulates them and derives _count from the buckets, so _count
 * always equals the +Inf bucket.
 */
#include "common/metrics.h"

#include "common/alloc.h"
#include "common/limits.h"

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* No release numbering yet: the build is named by its compiler in vidgate_build_info too. */
#define VG_METRICS_VERSION "0.1.0"
#if defined(__clang__)
#define VG_METRICS_COMPILER __VERSION__ /* "Debian Clang 14.0.6" */
#else
#define VG_METRICS_COMPILER "gcc " __VERSION__
#endif
#define MAX_BUCKETS 16
#define N_CODES     500 /* status codes 100..599 */

typedef struct {
    _Atomic uint64_t bucket[MAX_BUCKETS + 1]; /* [i]: bounds[i-1] < v <= bounds[i]; last: +Inf */
    _Atomic uint64_t sum_us;
} hist;

typedef struct {
    const char *name, *help;
    int n;
    const int64_t bounds_us[MAX_BUCKETS];
} hist_def;

static const hist_def http_latency = {
    "vidgate_http_request_duration_seconds",
    "Time from a request reaching the router to its answer (a long-poll's wait included), by "
    "route template.",
    16,
    {500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000,
     10000000, 30000000, 60000000}};

static const hist_def hist_defs[VG_MH_COUNT] = {
    [VG_MH_RENDER] = {"vidgate_render_duration_seconds",
                      "Wall time of local renders, start to end (finished, failed or interrupted).",
                      11,
                      {500000, 1000000, 2000000, 4000000, 8000000, 15000000, 30000000, 60000000,
                       120000000, 300000000, 600000000}},
    [VG_MH_POLL_LAG] = {"vidgate_upstream_poll_lag_seconds",
                        "Time from an upstream task's end (the upstream's own timestamp, to the "
                        "second) to the poll here that saw it.",
                        10,
                        {500000, 1000000, 2000000, 4000000, 8000000, 15000000, 30000000, 60000000,
                         120000000, 300000000}},
};

/* ---- method classes and route slots ---- */

static const char *const method_class[] = {"GET",   "HEAD",   "POST",    "PUT",
                                           "PATCH", "DELETE", "OPTIONS", "other"};
#define N_METHODS (sizeof method_class / sizeof method_class[0])
#define N_SLOTS   (VG_METRICS_MAX_ROUTES + N_METHODS)
#define UNMATCHED "unmatched"

static _Atomic uint64_t http_count[N_SLOTS][N_CODES];
static hist http_hist[N_SLOTS];
static const char *route_method[VG_METRICS_MAX_ROUTES], *route_pattern[VG_METRICS_MAX_ROUTES];
static _Atomic size_t n_routes;

/* ---- the rest of the registry ---- */

static const struct {
    const char *family, *label, *value;
} counter_defs[VG_MC_COUNT] = {
    [VG_MC_DB_ERROR] = {"vidgate_db_errors_total", "kind", "error"},
    [VG_MC_DB_BUSY] = {"vidgate_db_errors_total", "kind", "busy"},
    [VG_MC_DB_CHECKPOINT] = {"vidgate_sqlite_checkpoints_total", "result", "ok"},
    [VG_MC_DB_CHECKPOINT_FAIL] = {"vidgate_sqlite_checkpoints_total", "result", "failed"},
    [VG_MC_CONTENT_WRITE_ERROR] = {"vidgate_content_store_errors_total", "op", "write"},
    [VG_MC_CONTENT_READ_ERROR] = {"vidgate_content_store_errors_total", "op", "read"},
    [VG_MC_WEBHOOK_DELIVERED] = {"vidgate_webhook_deliveries_total", "result", "delivered"},
    [VG_MC_WEBHOOK_RETRY] = {"vidgate_webhook_deliveries_total", "result", "retry"},
    [VG_MC_WEBHOOK_FAILED] = {"vidgate_webhook_deliveries_total", "result", "failed"},
};

static const struct {
    const char *family, *help;
} counter_help[] = {
    {"vidgate_db_errors_total",
     "Database statements that failed (error), or found the database locked past the busy "
     "timeout (busy)."},
    {"vidgate_sqlite_checkpoints_total",
     "WAL checkpoints run by the SQLite store's checkpointer thread (ok), or that failed."},
    {"vidgate_content_store_errors_total",
     "Content store operations that failed: results put in place (write), files opened to serve "
     "them (read)."},
    {"vidgate_webhook_deliveries_total",
     "Webhook delivery attempts by result: delivered (a 2xx), retry (failed, another attempt is "
     "scheduled), failed (failed for good)."},
};

static const struct {
    const char *name, *help;
} gauge_defs[VG_MG_COUNT] = {
    [VG_MG_RENDERS] = {"vidgate_renders_in_progress", "Local renders running now."},
    [VG_MG_LONGPOLLS] = {"vidgate_longpoll_waiting",
                         "Requests parked by ?wait= until their task changes."},
    [VG_MG_UPSTREAM_LEADER] = {"vidgate_upstream_leader",
                               "1 while this node plans the upstream work of its store (it holds "
                               "the upstream lease), else 0."},
};

static const char *const up_kind[VG_MU_KIND_COUNT] = {"create", "get", "list", "delete",
                                                      "download"};
static const char *const up_result[VG_MU_RESULT_COUNT] = {"ok", "refused", "transient",
                                                          "ambiguous"};

typedef struct {
    char name[64];
    _Atomic uint64_t req[VG_MU_KIND_COUNT][VG_MU_RESULT_COUNT];
    _Atomic int64_t cool_until_ms;
} chan;

static _Atomic uint64_t counters[VG_MC_COUNT];
static _Atomic int64_t gauges[VG_MG_COUNT];
static hist hists[VG_MH_COUNT];
static chan chans[VG_METRICS_MAX_CHANNELS];
static _Atomic int n_chans;
static pthread_mutex_t chan_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int64_t captured_micro;
static char currency[16];
static char node_name[128]; /* set once at start, before any /metrics request */
static double start_time_s;

/* ---- updates ---------------------------------------------------------------------------- */

static void hist_add(hist *h, const hist_def *d, int64_t us)
{
    if (us < 0) us = 0;
    int i = 0;
    while (i < d->n && us > d->bounds_us[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)us, memory_order_relaxed);
}

static size_t method_index(const char *m, size_t len)
{
    for (size_t i = 0; i + 1 < N_METHODS; i++)
        if (strlen(method_class[i]) == len && !memcmp(method_class[i], m, len)) return i;
    return N_METHODS - 1;
}

void vg_metrics_http_routes(size_t n, const char *const *methods, const char *const *patterns)
{
    if (n > VG_METRICS_MAX_ROUTES) n = VG_METRICS_MAX_ROUTES;
    for (size_t i = 0; i < n; i++) {
        route_method[i] = methods[i];
        route_pattern[i] = patterns[i];
    }
    atomic_store_explicit(&n_routes, n, memory_order_release);
}

void vg_metrics_http_request(int route, const char *method, size_t method_len, int status,
                             int64_t us)
{
    size_t slot =
        route >= 0 && (size_t)route < atomic_load_explicit(&n_routes, memory_order_relaxed)
            ? (size_t)route
            : VG_METRICS_MAX_ROUTES + method_index(method, method_len);
    if (status >= 100 && status < 100 + N_CODES)
        atomic_fetch_add_explicit(&http_count[slot][status - 100], 1, memory_order_relaxed);
    hist_add(&http_hist[slot], &http_latency, us);
}

void vg_metrics_inc(vg_metric_counter c)
{
    atomic_fetch_add_explicit(&counters[c], 1, memory_order_relaxed);
}

void vg_metrics_gauge_add(vg_metric_gauge g, int64_t delta)
{
    atomic_fetch_add_explicit(&gauges[g], delta, memory_order_relaxed);
}

void vg_metrics_observe(vg_metric_hist h, double seconds)
{
    hist_add(&hists[h], &hist_defs[h], (int64_t)(seconds * 1e6));
}

/* The slot of a channel name: found among those seen (lock-free), or added under the lock. The
 * last slot is shared by every name past the cap. */
static chan *chan_of(const char *name)
{
    int n = atomic_load_explicit(&n_chans, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (!strcmp(chans[i].name, name)) return &chans[i];
    pthread_mutex_lock(&chan_lock);
    n = atomic_load_explicit(&n_chans, memory_order_relaxed);
    chan *c = NULL;
    for (int i = 0; i < n && !c; i++)
        if (!strcmp(chans[i].name, name)) c = &chans[i];
    if (!c && n < VG_METRICS_MAX_CHANNELS) {
        c = &chans[n];
        snprintf(c->name, sizeof c->name, "%s", n == VG_METRICS_MAX_CHANNELS - 1 ? "other" : name);
        atomic_store_explicit(&n_chans, n + 1, memory_order_release);
    }
    if (!c) c = &chans[VG_METRICS_MAX_CHANNELS - 1];
    pthread_mutex_unlock(&chan_lock);
    return c;
}

void vg_metrics_upstream(const char *channel, vg_metric_up_kind kind, vg_metric_up_result r)
{
    atomic_fetch_add_explicit(&chan_of(channel)->req[kind][r], 1, memory_order_relaxed);
}

void vg_metrics_channel_cooldown(const char *channel, int64_t until_ms)
{
    atomic_store_explicit(&chan_of(channel)->cool_until_ms, until_ms, memory_order_relaxed);
}

void vg_metrics_captured(int64_t micro)
{
    if (micro > 0) atomic_fetch_add_explicit(&captured_micro, micro, memory_order_relaxed);
}

/* ---- /proc ------------------------------------------------------------------------------ */

/* Fields of /proc/self/stat after the command name: [0] is field 3 (state). */
enum { STAT_UTIME = 11, STAT_STIME = 12, STAT_STARTTIME = 19, STAT_VSIZE = 20, STAT_RSS = 21 };

static int read_self_stat(unsigned long long *f, int n)
{
    char buf[1024];
    FILE *fp = fopen("/proc/self/stat", "re");
    if (!fp) return -1;
    size_t len = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[len] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    if (!p) return -1;
    char *save = NULL, *tok = strtok_r(p + 1, " ", &save);
    for (int i = 0; i < n; i++, tok = strtok_r(NULL, " ", &save)) {
        if (!tok) return -1;
        f[i] = i == 0 ? 0 : strtoull(tok, NULL, 10); /* [0] is the state letter */
    }
    return 0;
}

static double boot_time_s(void)
{
    FILE *fp = fopen("/proc/stat", "re");
    if (!fp) return 0;
    char line[256];
    double bt = 0;
    while (fgets(line, sizeof line, fp))
        if (!strncmp(line, "btime ", 6)) bt = strtod(line + 6, NULL);
    fclose(fp);
    return bt;
}

void vg_metrics_node(const char *node)
{
    snprintf(node_name, sizeof node_name, "%s", node ? node : "");
}

void vg_metrics_init(const char *cur)
{
    snprintf(currency, sizeof currency, "%s", cur ? cur : "");
    unsigned long long f[STAT_RSS + 1];
    long ticks = sysconf(_SC_CLK_TCK);
    double bt = boot_time_s();
    if (bt > 0 && ticks > 0 && read_self_stat(f, STAT_RSS + 1) == 0) {
        start_time_s = bt + (double)f[STAT_STARTTIME] / (double)ticks;
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        start_time_s = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    }
}

static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

/* ---- exposition ------------------------------------------------------------------------- */

static void out_printf(vg_metrics_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void out_printf(vg_metrics_out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = o->cap - o->len;
        int n = vsnprintf(o->text ? o->text + o->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < room) {
            o->len += (size_t)n;
            return;
        }
        o->cap = o->cap ? o->cap * 2 : 16384;
        while (o->cap - o->len <= (size_t)n)
            o->cap *= 2;
        o->text = vg_realloc(o->text, o->cap);
    }
}

void vg_metrics_out_free(vg_metrics_out *o)
{
    free(o->text);
    *o = (vg_metrics_out){0};
}

/* A label value with \, " and newline escaped (exposition format). */
static void out_escaped(vg_metrics_out *o, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            out_printf(o, "\\\\");
        else if (*v == '"')
            out_printf(o, "\\\"");
        else if (*v == '\n')
            out_printf(o, "\\n");
        else
            out_printf(o, "%c", *v);
    }
}

void vg_metrics_family(vg_metrics_out *o, const char *name, const char *type, const char *help)
{
    out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{l1="v1",l2="v2",…} with up to three labels (NULL names end the list). */
static void out_series(vg_metrics_out *o, const char *name, const char *const *lv, int n)
{
    out_printf(o, "%s", name);
    for (int i = 0; i < n && lv[2 * i]; i++) {
        out_printf(o, "%s%s=\"", i ? "," : "{", lv[2 * i]);
        out_escaped(o, lv[2 * i + 1]);
        out_printf(o, "\"");
        if (i + 1 == n || !lv[2 * i + 2]) out_printf(o, "}");
    }
}

static void out_double(vg_metrics_out *o, double v)
{
    out_printf(o, " %.15g\n", v);
}

void vg_metrics_sample(vg_metrics_out *o, const char *name, const char *label, const char *value,
                       double v)
{
    const char *lv[] = {label, value};
    out_series(o, name, lv, label ? 1 : 0);
    out_double(o, v);
}

const char *vg_metrics_currency(void)
{
    return currency;
}

void vg_metrics_sample_money(vg_metrics_out *o, const char *name, int64_t micro)
{
    const char *lv[] = {"currency", currency};
    out_series(o, name, lv, 1);
    /* exact decimal: a double would print 0.1 as 0.10000000000000001 */
    uint64_t m = micro < 0 ? (uint64_t)0 - (uint64_t)micro : (uint64_t)micro;
    out_printf(o, " %s%" PRIu64 ".%06" PRIu64 "\n", micro < 0 ? "-" : "", m / 1000000, m % 1000000);
}

static uint64_t load(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* One histogram series: buckets, sum, count; lv = its labels (n pairs). */
static void write_hist(vg_metrics_out *o, const hist_def *d, hist *h, const char **lv, int n)
{
    char bucket[128], le[32];
    snprintf(bucket, sizeof bucket, "%s_bucket", d->name);
    const char *blv[8];
    for (int i = 0; i < 2 * n; i++)
        blv[i] = lv[i];
    blv[2 * n] = "le";
    uint64_t cum = 0;
    for (int i = 0; i <= d->n; i++) {
        cum += load(&h->bucket[i]);
        if (i < d->n)
            snprintf(le, sizeof le, "%g", (double)d->bounds_us[i] / 1e6);
        else
            snprintf(le, sizeof le, "+Inf");
        blv[2 * n + 1] = le;
        out_series(o, bucket, blv, n + 1);
        out_printf(o, " %" PRIu64 "\n", cum);
    }
    char sum[128], count[128];
    snprintf(sum, sizeof sum, "%s_sum", d->name);
    snprintf(count, sizeof count, "%s_count", d->name);
    out_series(o, sum, lv, n);
    uint64_t s = load(&h->sum_us);
    out_printf(o, " %" PRIu64 ".%06" PRIu64 "\n", s / 1000000, s % 1000000);
    out_series(o, count, lv, n);
    out_printf(o, " %" PRIu64 "\n", cum);
}

static bool hist_empty(hist *h, const hist_def *d)
{
    for (int i = 0; i <= d->n; i++)
        if (load(&h->bucket[i])) return false;
    return true;
}

static void slot_labels(size_t slot, const char **route, const char **method)
{
    if (slot < VG_METRICS_MAX_ROUTES) {
        *route = route_pattern[slot];
        *method = route_method[slot];
    } else {
        *route = UNMATCHED;
        *method = method_class[slot - VG_METRICS_MAX_ROUTES];
    }
}

static void write_http(vg_metrics_out *o)
{
    size_t nr = atomic_load_explicit(&n_routes, memory_order_acquire);
    vg_metrics_family(o, "vidgate_http_requests_total", "counter",
                      "HTTP requests answered, by route template, method and status code "
                      "(route \"unmatched\": no route matched).");
    for (size_t slot = 0; slot < N_SLOTS; slot++) {
        if (slot >= nr && slot < VG_METRICS_MAX_ROUTES) continue;
        const char *lv[6] = {"route", NULL, "method", NULL, "code", NULL};
        slot_labels(slot, &lv[1], &lv[3]);
        for (int c = 0; c < N_CODES; c++) {
            uint64_t v = load(&http_count[slot][c]);
            if (!v) continue;
            char code[16];
            snprintf(code, sizeof code, "%d", c + 100);
            lv[5] = code;
            out_series(o, "vidgate_http_requests_total", lv, 3);
            out_printf(o, " %" PRIu64 "\n", v);
        }
    }
    vg_metrics_family(o, http_latency.name, "histogram", http_latency.help);
    for (size_t slot = 0; slot < N_SLOTS; slot++) {
        if (slot >= nr && slot < VG_METRICS_MAX_ROUTES) continue;
        if (hist_empty(&http_hist[slot], &http_latency)) continue;
        const char *lv[4] = {"route", NULL, "method", NULL};
        slot_labels(slot, &lv[1], &lv[3]);
        write_hist(o, &http_latency, &http_hist[slot], lv, 2);
    }
}

static void write_counters(vg_metrics_out *o)
{
    for (size_t f = 0; f < sizeof counter_help / sizeof counter_help[0]; f++) {
        vg_metrics_family(o, counter_help[f].family, "counter", counter_help[f].help);
        for (int c = 0; c < VG_MC_COUNT; c++) {
            if (strcmp(counter_defs[c].family, counter_help[f].family)) continue;
            const char *lv[] = {counter_defs[c].label, counter_defs[c].value};
            out_series(o, counter_defs[c].family, lv, 1);
            out_printf(o, " %" PRIu64 "\n", load(&counters[c]));
        }
    }
    for (int g = 0; g < VG_MG_COUNT; g++) {
        vg_metrics_family(o, gauge_defs[g].name, "gauge", gauge_defs[g].help);
        vg_metrics_sample(o, gauge_defs[g].name, NULL, NULL,
                          (double)atomic_load_explicit(&gauges[g], memory_order_relaxed));
    }
    for (int h = 0; h < VG_MH_COUNT; h++) {
        vg_metrics_family(o, hist_defs[h].name, "histogram", hist_defs[h].help);
        write_hist(o, &hist_defs[h], &hists[h], NULL, 0);
    }
    char help[160];
    snprintf(help, sizeof help,
             "Money captured by completed tasks since the process started, in %s (the currency "
             "label).",
             currency);
    vg_metrics_family(o, "vidgate_money_captured_total", "counter", help);
    vg_metrics_sample_money(o, "vidgate_money_captured_total",
                            atomic_load_explicit(&captured_micro, memory_order_relaxed));
}

static void write_channels(vg_metrics_out *o, int64_t now_ms)
{
    int n = atomic_load_explicit(&n_chans, memory_order_acquire);
    vg_metrics_family(o, "vidgate_upstream_requests_total", "counter",
                      "Requests to upstream channels, by channel and kind (create, get, list, "
                      "delete, download).");
    for (int i = 0; i < n; i++)
        for (int k = 0; k < VG_MU_KIND_COUNT; k++) {
            uint64_t v = 0;
            for (int r = 0; r < VG_MU_RESULT_COUNT; r++)
                v += load(&chans[i].req[k][r]);
            if (!v) continue;
            const char *lv[] = {"channel", chans[i].name, "kind", up_kind[k]};
            out_series(o, "vidgate_upstream_requests_total", lv, 2);
            out_printf(o, " %" PRIu64 "\n", v);
        }
    vg_metrics_family(o, "vidgate_upstream_errors_total", "counter",
                      "Upstream requests that failed, by channel, kind and class (refused: a "
                      "definite 4xx; transient: certainly not done; ambiguous: maybe done).");
    for (int i = 0; i < n; i++)
        for (int k = 0; k < VG_MU_KIND_COUNT; k++)
            for (int r = VG_MU_OK + 1; r < VG_MU_RESULT_COUNT; r++) {
                uint64_t v = load(&chans[i].req[k][r]);
                if (!v) continue;
                const char *lv[] = {"channel",  chans[i].name, "kind",
                                    up_kind[k], "class",       up_result[r]};
                out_series(o, "vidgate_upstream_errors_total", lv, 3);
                out_printf(o, " %" PRIu64 "\n", v);
            }
    vg_metrics_family(o, "vidgate_channel_cooldown_seconds", "gauge",
                      "Seconds until a channel that refused work takes new tasks again (0: not "
                      "cooling down).");
    for (int i = 0; i < n; i++) {
        int64_t until = atomic_load_explicit(&chans[i].cool_until_ms, memory_order_relaxed);
        double left = until > now_ms ? (double)(until - now_ms) / 1000.0 : 0;
        vg_metrics_sample(o, "vidgate_channel_cooldown_seconds", "channel", chans[i].name, left);
    }
}

static void write_process(vg_metrics_out *o)
{
    vg_metrics_family(o, "vidgate_build_info", "gauge",
                      "Always 1; the labels describe this build.");
    const char *lv[] = {"version", VG_METRICS_VERSION, "compiler", VG_METRICS_COMPILER};
    out_series(o, "vidgate_build_info", lv, 2);
    out_printf(o, " 1\n");
    vg_metrics_family(o, "vidgate_node_info", "gauge",
                      "Always 1; the label is this node's name (--node) in a shared store.");
    vg_metrics_sample(o, "vidgate_node_info", "node", node_name, 1);
    vg_metrics_family(o, "process_start_time_seconds", "gauge",
                      "Start time of the process since unix epoch in seconds.");
    vg_metrics_sample(o, "process_start_time_seconds", NULL, NULL, start_time_s);
    unsigned long long f[STAT_RSS + 1];
    long ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (read_self_stat(f, STAT_RSS + 1) == 0 && ticks > 0 && page > 0) {
        vg_metrics_family(o, "process_cpu_seconds_total", "counter",
                          "Total user and system CPU time spent in seconds.");
        vg_metrics_sample(o, "process_cpu_seconds_total", NULL, NULL,
                          (double)(f[STAT_UTIME] + f[STAT_STIME]) / (double)ticks);
        vg_metrics_family(o, "process_resident_memory_bytes", "gauge",
                          "Resident memory size in bytes.");
        vg_metrics_sample(o, "process_resident_memory_bytes", NULL, NULL,
                          (double)f[STAT_RSS] * (double)page);
        vg_metrics_family(o, "process_virtual_memory_bytes", "gauge",
                          "Virtual memory size in bytes.");
        vg_metrics_sample(o, "process_virtual_memory_bytes", NULL, NULL, (double)f[STAT_VSIZE]);
    }
    long fds = open_fds();
    if (fds >= 0) {
        vg_metrics_family(o, "process_open_fds", "gauge", "Number of open file descriptors.");
        vg_metrics_sample(o, "process_open_fds", NULL, NULL, (double)fds);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        vg_metrics_family(o, "process_max_fds", "gauge",
                          "Maximum number of open file descriptors.");
        vg_metrics_sample(o, "process_max_fds", NULL, NULL,
                          rl.rlim_cur == RLIM_INFINITY ? 1e9 : (double)rl.rlim_cur);
    }
}

void vg_metrics_write(vg_metrics_out *o, int64_t now_ms)
{
    write_http(o);
    write_counters(o);
    write_channels(o, now_ms);
    write_process(o);
}
