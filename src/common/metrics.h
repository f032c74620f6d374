/*
 * metrics.h - the process's metrics registry and its Prometheus text exposition (format 0.0.4).
 *
 * A fixed table of families, each a set of series indexed by small bounded labels: route
 * templates (registered once at start, at most VG_METRICS_MAX_ROUTES), method classes, HTTP status
 * codes (100–599), channel names (at most VG_METRICS_MAX_CHANNELS distinct; later names share the
 * series "other"), and the enums below. Never a key secret, a key id or a task id.
 *
 * Cost on the hot paths: every update is one or a few relaxed atomic additions on static memory
 * (no lock, no allocation); histograms have fixed buckets. Counting a channel finds its slot by
 * name among the channels seen so far (a short scan, lock-free; a new name takes a mutex once).
 * A scrape (vg_metrics_write) reads every series with relaxed loads: a scrape that races updates
 * may see a histogram's sum a moment ahead of its buckets, never torn values.
 *
 * Who counts what: the router counts every answered request once, when its access-log line is
 * written (status final); the render pool renders; providers/ark_provider.c every upstream call;
 * the upstream loop downloads, cool-downs and poll lag; the webhook workers deliveries;
 * store/watch.c captured money; the SQLite backend database errors; result publishing and content
 * reads content-store errors; the long-poll module parked requests. Counts belong to this process:
 * with many nodes, Prometheus sums them. Families read from the store (tasks by status, the queue,
 * money held) are written by the /metrics handler (api/metrics.c) with vg_metrics_family() and
 * vg_metrics_sample(), since this module sits below the store.
 *
 * Threads: every function is safe from any thread. vg_metrics_init() and
 * vg_metrics_http_routes() are called once at start, before the event loops.
 */
#ifndef VG_METRICS_H
#define VG_METRICS_H
#include <stddef.h>
#include <stdint.h>

/* Plain counters, each one series of a family with fixed labels (metrics.c's table). */
typedef enum {
    VG_MC_DB_ERROR,            /* vidgate_db_errors_total{kind="error"} */
    VG_MC_DB_BUSY,             /* vidgate_db_errors_total{kind="busy"} */
    VG_MC_DB_CHECKPOINT,       /* vidgate_sqlite_checkpoints_total{result="ok"} */
    VG_MC_DB_CHECKPOINT_FAIL,  /* ...{result="failed"} */
    VG_MC_CONTENT_WRITE_ERROR, /* vidgate_content_store_errors_total{op="write"} */
    VG_MC_CONTENT_READ_ERROR,  /* vidgate_content_store_errors_total{op="read"} */
    VG_MC_WEBHOOK_DELIVERED,   /* vidgate_webhook_deliveries_total{result="delivered"} */
    VG_MC_WEBHOOK_RETRY,       /* ...{result="retry"}: an attempt failed, another is scheduled */
    VG_MC_WEBHOOK_FAILED,      /* ...{result="failed"}: an attempt failed and it was the last */
    VG_MC_COUNT
} vg_metric_counter;

/* Gauges this process keeps up to date. */
typedef enum {
    VG_MG_RENDERS,         /* vidgate_renders_in_progress */
    VG_MG_LONGPOLLS,       /* vidgate_longpoll_waiting */
    VG_MG_UPSTREAM_LEADER, /* vidgate_upstream_leader: 1 while this node plans upstream work */
    VG_MG_COUNT
} vg_metric_gauge;

/* Histograms of durations, in seconds (fixed buckets per family). */
typedef enum {
    VG_MH_RENDER,   /* vidgate_render_duration_seconds: a local render, start to end */
    VG_MH_POLL_LAG, /* vidgate_upstream_poll_lag_seconds: upstream end → seen here by a poll */
    VG_MH_COUNT
} vg_metric_hist;

/* What an upstream request was for. */
typedef enum {
    VG_MU_CREATE,   /* POST …/tasks */
    VG_MU_GET,      /* GET …/tasks/{id} */
    VG_MU_LIST,     /* GET …/tasks?… (poll batches, lookups of lost submits) */
    VG_MU_DELETE,   /* DELETE …/tasks/{id} */
    VG_MU_DOWNLOAD, /* a result file */
    VG_MU_KIND_COUNT
} vg_metric_up_kind;

/* How it ended: answered as asked (OK, also "not found" of a get or delete), or the error class
 * of providers/provider.h. */
typedef enum {
    VG_MU_OK,
    VG_MU_REFUSED,   /* a definite refusal (4xx) */
    VG_MU_TRANSIENT, /* certainly not done (connect failed, 429, 503) */
    VG_MU_AMBIGUOUS, /* maybe done (timeout after sending, lost or malformed reply, 5xx) */
    VG_MU_RESULT_COUNT
} vg_metric_up_result;

/** Records the process start (for uptime families) and the currency of money families. */
void vg_metrics_init(const char *currency);
/** The node name (vidgate_node_info{node=…}), so that series of many nodes tell them apart. */
void vg_metrics_node(const char *node);

/** Registers the route table: route i is methods[i] + patterns[i] (strings that live as long as
 *  the process, e.g. the route table's literals). Later calls replace the table. */
void vg_metrics_http_routes(size_t n, const char *const *methods, const char *const *patterns);

/** One answered request: route = its index in the registered table, or -1 when no route matched
 *  (counted under route "unmatched" and the request's method class); us = time to answer. */
void vg_metrics_http_request(int route, const char *method, size_t method_len, int status,
                             int64_t us);

void vg_metrics_inc(vg_metric_counter c);
void vg_metrics_gauge_add(vg_metric_gauge g, int64_t delta);
void vg_metrics_observe(vg_metric_hist h, double seconds);

/** One upstream request of a channel and how it ended. */
void vg_metrics_upstream(const char *channel, vg_metric_up_kind kind, vg_metric_up_result r);
/** The channel takes no new task before until_ms (wall clock, ms); 0 = not cooling down. */
void vg_metrics_channel_cooldown(const char *channel, int64_t until_ms);
/** Money captured by a completion (micro-units of the configured currency). */
void vg_metrics_captured(int64_t micro);

/* ---- exposition ---- */

/** A growing text buffer; zero-initialise, release with vg_metrics_out_free(). */
typedef struct {
    char *text;
    size_t len, cap;
} vg_metrics_out;

void vg_metrics_out_free(vg_metrics_out *o);
/** "# HELP name help" and "# TYPE name type" (type: counter, gauge, histogram). */
void vg_metrics_family(vg_metrics_out *o, const char *name, const char *type, const char *help);
/** One sample line. label/value: one label (NULL = none); value is escaped here. */
void vg_metrics_sample(vg_metrics_out *o, const char *name, const char *label, const char *value,
                       double v);
/** The currency label value given to vg_metrics_init() ("" before). */
const char *vg_metrics_currency(void);
/** Appends a money amount (micro-units) as a decimal number of currency units. */
void vg_metrics_sample_money(vg_metrics_out *o, const char *name, int64_t micro);

/** Appends every family of the registry and the process families (now_ms: wall clock). */
void vg_metrics_write(vg_metrics_out *o, int64_t now_ms);

#endif
