/*
 * config.h - the effective configuration: embedded defaults, then the JSON config file, then
 * VIDGATE_* environment variables, then command-line flags (later wins). One table (config.c)
 * describes every option once: its name in the file, its variable, its flag and its help text.
 *
 * Secrets are never put in the file or printed: the admin key comes from VIDGATE_ADMIN_KEY, the
 * metrics token from VIDGATE_METRICS_TOKEN (a table row of type secret: environment only), a
 * channel names the environment variable holding its upstream key (api_key_env), and
 * --print-config shows every option but those.
 *
 * The struct is filled once at start-up and read-only afterwards (any thread may read it). A
 * reload (SIGHUP, POST /admin/reload; src/app.c) loads a whole new configuration the same way,
 * validates it, and hands what can change at run time to its owners: models and prices
 * (core/models.h), channels (the dispatcher), the log level and format (common/log.h), and the
 * retention, which lives here as an atomic (vg_config_retention_s). Every other field keeps its
 * start-up value; the reload reports that such a change needs a restart.
 */
#ifndef VG_CONFIG_H
#define VG_CONFIG_H
#include "common/limits.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char listen[256];    /* HOST:PORT */
    char data_dir[1024]; /* database, files, keys */
    char database[1024]; /* PostgreSQL URL / key=value, or SQLite path; "" = DATA/vidgate.db */
    char content[1024];  /* content location (net/content.h); "" = DATA/files */
    char store[32];      /* store backend (store/open.c); "" = chosen by database */
    char node[128];      /* this node in logs, leases, metrics; default host:pid */
    char config_file[1024];
    char public_url[512]; /* base of presigned URLs; "" = http://LISTEN */
    char currency[8];
    char log_level[16];
    char log_format[16];        /* "text" or "json" */
    char access_log[1024];      /* "on" (with the other lines), "off", or a file path */
    char console_dir[1024];     /* web console files; "" = found next to the binary, "off" */
    int threads;                /* HTTP event loops; 0 = one per core */
    int render_workers;         /* local engine renders at once; 0 = one per core */
    int64_t retention_s;        /* how long results are kept */
    int64_t task_lease_s;       /* a render's lease (renewed every third of it) */
    bool allow_http_fetch;      /* accept http:// media URLs (tests, closed networks) */
    bool allow_private_fetch;   /* accept loopback/private destinations (tests) */
    int max_connections;        /* lowered at start to fit the descriptor limit */
    int max_connections_per_ip; /* per IPv4 address or IPv6 /64 */
    int64_t header_timeout_ms;  /* a new connection's first request head */
    int64_t idle_timeout_ms;    /* keep-alive idle */
    int64_t request_timeout_ms;
    int upstream_workers;         /* threads making upstream calls and downloads */
    int64_t upstream_task_ttl_s;  /* an upstream task not final after this fails as "expired" */
    int64_t upstream_poll_min_ms; /* shortest interval between two polls of one task */
    int64_t upstream_poll_max_ms; /* longest interval */
    int webhook_workers;          /* threads delivering webhooks */
    int64_t webhook_backoff_ms;   /* wait before a webhook's first retry (then doubling) */
    int64_t asset_quota_bytes;    /* storage of each key's assets; 0 = no limit */
    json_t *models;               /* "models" array of the file, or NULL = built-in table; owned */
    json_t *channels;    /* "channels" array of the file, or NULL = one local channel; owned */
    char admin_key[128]; /* from VIDGATE_ADMIN_KEY only; never printed */
    /* GET /metrics needs "Authorization: Bearer <this>"; "" = open. From VIDGATE_METRICS_TOKEN
     * only (a secret: refused in the file, no flag, never printed). */
    char metrics_token[VG_METRICS_MAX_TOKEN_BYTES + 1];
    _Atomic int64_t retention_live_s; /* retention_s as last reloaded; vg_config_retention_s() */
} vg_config;

/**
 * Builds the configuration from argv (flags may name --config FILE) and the environment.
 * Returns 0; 1 when --help or --print-config was handled (output written; exit 0);
 * -1 with a message in err on a bad option, value or file.
 */
int vg_config_load(vg_config *c, int argc, char **argv, char *err, size_t errlen);
/** The effective configuration as JSON, without secrets (new reference). */
json_t *vg_config_to_json(const vg_config *c);
void vg_config_free(vg_config *c);
/**
 * Reads the "channels" array of a config file again (SIGHUP). *out = the array (new reference)
 * or NULL when the file has none. 0, or -1 with a reason in err (the file is unreadable or not a
 * JSON object, or "channels" is not an array).
 */
int vg_config_read_channels(const char *file, json_t **out, char *err, size_t errlen);
/** The retention in effect (seconds); any thread. */
static inline int64_t vg_config_retention_s(const vg_config *c)
{
    return atomic_load(&((vg_config *)c)->retention_live_s);
}
/** Changes the retention in effect (a reload). */
static inline void vg_config_set_retention_s(vg_config *c, int64_t s)
{
    atomic_store(&c->retention_live_s, s);
}
/** Splits listen into host and port. 0 or -1. */
int vg_config_listen_addr(const vg_config *c, char *host, size_t hostlen, int *port);

#endif
