/* config.c - see config.h. Options are rows of one table; loading walks it three times. Flags are
 * read with getopt_long() (so "--name value", "--name=value" and "--" all work), once to find the
 * file and once, after the file and the environment, to apply them. */
#include "common/config.h"

#include "common/limits.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* T_SECRET: a string read from the environment only (no flag, refused in the file, never shown). */
typedef enum { T_STR, T_INT, T_I64, T_BOOL, T_SECRET } opt_type;

typedef struct {
    const char *name; /* key in the file; flag is --name with '_' → '-' */
    const char *env;
    opt_type type;
    size_t offset;
    size_t size; /* for strings */
    const char *help;
    bool credentials; /* may hold a password: shown masked (vg_config_to_json) */
} opt;

#define S(field)    T_STR, offsetof(vg_config, field), sizeof(((vg_config *)0)->field)
#define N(t, field) t, offsetof(vg_config, field), 0
#define K(field)    T_SECRET, offsetof(vg_config, field), sizeof(((vg_config *)0)->field)

static const opt options[] = {
    {"listen", "VIDGATE_LISTEN", S(listen), "address to serve on (HOST:PORT)"},
    {"data", "VIDGATE_DATA", S(data_dir), "data directory (database, results, keys)"},
    {"database", "VIDGATE_DATABASE_URL", S(database),
     "postgresql://… URL or libpq key=value string (PostgreSQL, shared by nodes), or a SQLite "
     "file path (default DATA/vidgate.db)",
     true},
    {"content", "VIDGATE_CONTENT_URL", S(content),
     "where results and assets live: a directory (default DATA/files) or "
     "s3://BUCKET/PREFIX?endpoint=URL&region=R (credentials from AWS_ACCESS_KEY_ID and "
     "AWS_SECRET_ACCESS_KEY)"},
    {"store", "VIDGATE_STORE", S(store),
     "store backend: sqlite or postgresql (default: chosen by database)"},
    {"node", "VIDGATE_NODE", S(node),
     "name of this node in logs, leases and metrics of a shared store (default: host:pid)"},
    {"public_url", "VIDGATE_PUBLIC_URL", S(public_url), "base URL of presigned links"},
    {"currency", "VIDGATE_CURRENCY", S(currency), "currency of balances and prices"},
    {"log_level", "VIDGATE_LOG_LEVEL", S(log_level), "debug, info, warn or error"},
    {"log_format", "VIDGATE_LOG_FORMAT", S(log_format), "text or json (one object per line)"},
    {"access_log", "VIDGATE_ACCESS_LOG", S(access_log),
     "on (with the other lines), off, or a file to write request lines to"},
    {"threads", "VIDGATE_THREADS", N(T_INT, threads), "HTTP event loops (0 = one per core)"},
    {"render_workers", "VIDGATE_RENDER_WORKERS", N(T_INT, render_workers),
     "local renders at once (0 = one per core)"},
    {"retention_s", "VIDGATE_RETENTION_S", N(T_I64, retention_s), "seconds results are kept"},
    {"task_lease_s", "VIDGATE_TASK_LEASE_S", N(T_I64, task_lease_s),
     "seconds a render's lease lasts (renewed every third of it); another node takes over a dead "
     "node's renders after it"},
    {"allow_http_fetch", "VIDGATE_ALLOW_HTTP_FETCH", N(T_BOOL, allow_http_fetch),
     "accept http:// media URLs"},
    {"allow_private_fetch", "VIDGATE_ALLOW_PRIVATE_FETCH", N(T_BOOL, allow_private_fetch),
     "accept media URLs on loopback/private addresses"},
    {"max_connections", "VIDGATE_MAX_CONNECTIONS", N(T_INT, max_connections),
     "open connections at most"},
    {"max_connections_per_ip", "VIDGATE_MAX_CONNECTIONS_PER_IP", N(T_INT, max_connections_per_ip),
     "open connections per client address (IPv6: per /64) at most"},
    {"header_timeout_ms", "VIDGATE_HEADER_TIMEOUT_MS", N(T_I64, header_timeout_ms),
     "time a new connection has to send its first request head"},
    {"idle_timeout_ms", "VIDGATE_IDLE_TIMEOUT_MS", N(T_I64, idle_timeout_ms),
     "time a kept-alive connection may wait for (and receive) its next request"},
    {"request_timeout_ms", "VIDGATE_REQUEST_TIMEOUT_MS", N(T_I64, request_timeout_ms),
     "time to receive a request"},
    {"upstream_workers", "VIDGATE_UPSTREAM_WORKERS", N(T_INT, upstream_workers),
     "threads for upstream calls and result downloads"},
    {"upstream_task_ttl_s", "VIDGATE_UPSTREAM_TASK_TTL_S", N(T_I64, upstream_task_ttl_s),
     "seconds an upstream task may take before it fails as expired"},
    {"upstream_poll_min_ms", "VIDGATE_UPSTREAM_POLL_MIN_MS", N(T_I64, upstream_poll_min_ms),
     "shortest interval between two polls of one upstream task"},
    {"upstream_poll_max_ms", "VIDGATE_UPSTREAM_POLL_MAX_MS", N(T_I64, upstream_poll_max_ms),
     "longest interval between two polls of one upstream task"},
    {"webhook_workers", "VIDGATE_WEBHOOK_WORKERS", N(T_INT, webhook_workers),
     "threads delivering webhooks (one slow receiver holds one)"},
    {"webhook_backoff_ms", "VIDGATE_WEBHOOK_BACKOFF_MS", N(T_I64, webhook_backoff_ms),
     "wait before a webhook's first retry; each later retry doubles it"},
    {"metrics_token", "VIDGATE_METRICS_TOKEN", K(metrics_token),
     "bearer token GET /metrics requires (unset: /metrics is open)"},
    {"console_dir", "VIDGATE_CONSOLE_DIR", S(console_dir),
     "web console files served at /console/ (default: ../console from the binary; off)"},
    {"asset_quota_bytes", "VIDGATE_ASSET_QUOTA_BYTES", N(T_I64, asset_quota_bytes),
     "storage each key's assets may use, in bytes (0 = no limit)"},
};
#define N_OPTIONS (sizeof options / sizeof options[0])

static void defaults(vg_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8080");
    snprintf(c->data_dir, sizeof c->data_dir, "./var");
    snprintf(c->currency, sizeof c->currency, "USD");
    snprintf(c->log_level, sizeof c->log_level, "info");
    snprintf(c->log_format, sizeof c->log_format, "text");
    snprintf(c->access_log, sizeof c->access_log, "on");
    c->retention_s = 7 * 24 * 3600;
    c->task_lease_s = VG_TASK_LEASE_MS / 1000;
    /* The node name: host:pid (the store's default too, store/open.c), so a restarted process is
     * a new node and recognises its previous life's leases as dead. */
    char host[256] = "";
    if (gethostname(host, sizeof host) != 0 || !host[0]) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(c->node, sizeof c->node, "%.100s:%ld", host, (long)getpid());
    c->max_connections = VG_MAX_CONNECTIONS;
    c->max_connections_per_ip = VG_MAX_CONNECTIONS_PER_IP;
    c->header_timeout_ms = VG_HEADER_TIMEOUT_MS;
    c->idle_timeout_ms = VG_IDLE_TIMEOUT_MS;
    c->request_timeout_ms = VG_REQUEST_TIMEOUT_MS;
    c->upstream_workers = 8;
    c->upstream_task_ttl_s = 172800;
    c->upstream_poll_min_ms = 2000;
    c->upstream_poll_max_ms = 30000;
    c->webhook_workers = 4;
    c->webhook_backoff_ms = 5000;
    c->asset_quota_bytes = VG_ASSET_QUOTA_BYTES;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
        !strcasecmp(v, "on"))
        *out = true;
    else if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
             !strcasecmp(v, "off"))
        *out = false;
    else
        return -1;
    return 0;
}

/* Sets one option from text (environment and flags). */
static int set_text(vg_config *c, const opt *o, const char *v, char *err, size_t errlen)
{
    char *base = (char *)c + o->offset, *end = NULL;
    long long n;
    switch (o->type) {
    case T_STR:
    case T_SECRET:
        if (strlen(v) >= o->size) goto bad;
        memcpy(base, v, strlen(v) + 1);
        return 0;
    case T_INT:
    case T_I64:
        /* strtoll saturates out-of-range text; such a value was not what the user wrote. */
        errno = 0;
        n = strtoll(v, &end, 10);
        if (!*v || *end || errno || n < 0 || (o->type == T_INT && n > 1000000)) goto bad;
        if (o->type == T_INT)
            *(int *)base = (int)n;
        else
            *(int64_t *)base = n;
        return 0;
    case T_BOOL:
        if (parse_bool(v, (bool *)base)) goto bad;
        return 0;
    }
bad:
    snprintf(err, errlen, "invalid value for %s: \"%s\"", o->name, v);
    return -1;
}

/* Sets one option from the JSON file. */
static int set_json(vg_config *c, const opt *o, json_t *v, char *err, size_t errlen)
{
    char buf[64];
    if (json_is_string(v)) return set_text(c, o, json_string_value(v), err, errlen);
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return set_text(c, o, buf, err, errlen);
    }
    if (json_is_boolean(v)) return set_text(c, o, json_is_true(v) ? "true" : "false", err, errlen);
    snprintf(err, errlen, "invalid type for %s in the config file", o->name);
    return -1;
}

static json_t *read_object(const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root || !json_is_object(root)) {
        snprintf(err, errlen, "%s:%d: %s", path, je.line, root ? "not a JSON object" : je.text);
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Keys of the file that hold structures rather than options (file only). */
static json_t **structured(vg_config *c, const char *key)
{
    if (!strcmp(key, "models")) return &c->models;
    if (!strcmp(key, "channels")) return &c->channels;
    return NULL;
}

static int load_file(vg_config *c, const char *path, char *err, size_t errlen)
{
    json_t *root = read_object(path, err, errlen);
    if (!root) return -1;
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        json_t **slot = structured(c, k);
        if (slot) {
            json_decref(*slot);
            *slot = json_incref(v);
            continue;
        }
        size_t i;
        for (i = 0; i < N_OPTIONS && strcmp(options[i].name, k); i++)
            ;
        if (i == N_OPTIONS || options[i].type == T_SECRET) {
            if (i == N_OPTIONS)
                snprintf(err, errlen, "%s: unknown option \"%s\"", path, k);
            else
                snprintf(err, errlen, "%s: %s is a secret: set %s in the environment instead", path,
                         k, options[i].env);
            json_decref(root);
            return -1;
        }
        if (set_json(c, &options[i], v, err, errlen)) {
            json_decref(root);
            return -1;
        }
    }
    json_decref(root);
    return 0;
}

static void usage(void)
{
    printf("usage: vidgated [options]\n       vidgated check --data DIR\n       vidgated copy "
           "--from DIR --to DATABASE_URL [--content-to URL] (see vidgated copy --help)\n\noptions "
           "(flag, environment variable, meaning):\n");
    printf("  --config FILE               VIDGATE_CONFIG  JSON configuration file\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        char flag[64];
        if (options[i].type == T_SECRET)
            snprintf(flag, sizeof flag, "(environment only)");
        else
            snprintf(flag, sizeof flag, "--%s", options[i].name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_') *p = '-';
        printf("  %-27s %s  %s\n", flag, options[i].env, options[i].help);
    }
    printf("  --print-config              show the effective configuration and exit\n"
           "  VIDGATE_ADMIN_KEY           the admin key (else DATA/admin.key is created)\n");
}

/* getopt_long() values of the flags that are not table rows; table rows use their index. */
enum { FLAG_CONFIG = 1000, FLAG_PRINT_CONFIG, FLAG_HELP = 'h' };

/* One getopt_long() table for every flag: each row as --name-with-dashes and, where that differs,
 * as --name_with_underscores (both spellings have always worked). Names live in `names`. */
static void build_longopts(struct option *lo, char names[][64])
{
    size_t n = 0;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        if (options[i].type == T_SECRET) continue; /* a flag would show in the process list */
        snprintf(names[i], 64, "%s", options[i].name);
        for (char *p = names[i]; *p; p++)
            if (*p == '_') *p = '-';
        lo[n++] = (struct option){names[i], required_argument, NULL, (int)i};
        if (strcmp(names[i], options[i].name))
            lo[n++] = (struct option){options[i].name, required_argument, NULL, (int)i};
    }
    lo[n++] = (struct option){"config", required_argument, NULL, FLAG_CONFIG};
    lo[n++] = (struct option){"print-config", no_argument, NULL, FLAG_PRINT_CONFIG};
    lo[n++] = (struct option){"help", no_argument, NULL, FLAG_HELP};
    lo[n] = (struct option){0};
}

/* Walks argv with getopt_long(); the first pass (apply == false) only finds --help, --config and
 * --print-config, the second applies the other flags over the file and the environment, so flags
 * win. Returns 0, 1 (--help shown) or -1 with err set. */
static int walk_flags(vg_config *c, int argc, char **argv, bool apply, const char **file,
                      bool *print, char *err, size_t errlen)
{
    static struct option lo[2 * N_OPTIONS + 4];
    static char names[N_OPTIONS][64];
    build_longopts(lo, names);
    optind = 0; /* a full re-initialisation of getopt's state (GNU): the walk runs twice */
    opterr = 0; /* our message, not getopt's */
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (ch == '?' || ch == ':') {
            snprintf(err, errlen, "unknown option or missing value: %s (see --help)",
                     argv[optind - 1]);
            return -1;
        }
        if (ch == FLAG_HELP) {
            usage();
            return 1;
        }
        if (ch == FLAG_CONFIG) {
            *file = optarg;
        } else if (ch == FLAG_PRINT_CONFIG) {
            *print = true;
        } else if (apply && set_text(c, &options[ch], optarg, err, errlen)) {
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument: %s (see --help)", argv[optind]);
        return -1;
    }
    return 0;
}

int vg_config_load(vg_config *c, int argc, char **argv, char *err, size_t errlen)
{
    defaults(c);
    bool print = false;
    const char *file = getenv("VIDGATE_CONFIG");
    int rc = walk_flags(c, argc, argv, false, &file, &print, err, errlen);
    if (rc) return rc;
    if (file && *file) {
        snprintf(c->config_file, sizeof c->config_file, "%s", file);
        if (load_file(c, file, err, errlen)) return -1;
    }
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const char *v = getenv(options[i].env);
        if (v && *v && set_text(c, &options[i], v, err, errlen)) return -1;
    }
    if (walk_flags(c, argc, argv, true, &file, &print, err, errlen)) return -1;
    atomic_store(&c->retention_live_s, c->retention_s);
    const char *ak = getenv("VIDGATE_ADMIN_KEY");
    if (ak) snprintf(c->admin_key, sizeof c->admin_key, "%s", ak);
    if (print) {
        json_t *j = vg_config_to_json(c);
        char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(j);
        return 1;
    }
    return 0;
}

/* A connection string with its password replaced by "***": the user:password@ and a password=…
 * parameter of a URL, and a password=… of a key=value string (quoted or not). */
static json_t *masked(const char *v)
{
    char out[2048];
    size_t n = 0;
    const char *scheme = strstr(v, "://"), *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    for (const char *p = v; *p && n < sizeof out - 8; p++) {
        if (colon && p == colon + 1) {
            n += (size_t)snprintf(out + n, sizeof out - n, "***");
            p = at - 1;
            continue;
        }
        bool starts = scheme ? p > v && (p[-1] == '?' || p[-1] == '&') : p == v || p[-1] == ' ';
        if (starts && strncmp(p, "password", 8) == 0) {
            const char *e = p + 8;
            while (*e == ' ')
                e++;
            if (*e == '=') {
                e++;
                while (*e == ' ')
                    e++;
                if (*e == '\'') {
                    for (e++; *e && *e != '\''; e++)
                        if (*e == '\\' && e[1]) e++;
                    if (*e) e++;
                } else {
                    while (*e && *e != (scheme ? '&' : ' '))
                        e++;
                }
                n += (size_t)snprintf(out + n, sizeof out - n, "password=***");
                p = e - 1;
                continue;
            }
        }
        out[n++] = *p;
    }
    out[n] = '\0';
    return json_string(out);
}

json_t *vg_config_to_json(const vg_config *c)
{
    json_t *j = json_object();
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const opt *o = &options[i];
        if (o->type == T_SECRET) continue;
        const char *base = (const char *)c + o->offset;
        json_t *v = o->type == T_STR && o->credentials ? masked(base)
                    : o->type == T_STR                 ? json_string(base)
                    : o->type == T_INT                 ? json_integer(*(const int *)base)
                    : o->type == T_I64                 ? json_integer(*(const int64_t *)base)
                                                       : json_boolean(*(const bool *)base);
        json_object_set_new(j, o->name, v);
    }
    if (c->models) json_object_set(j, "models", c->models);
    if (c->channels) json_object_set(j, "channels", c->channels); /* keys are env names only */
    return j;
}

void vg_config_free(vg_config *c)
{
    json_decref(c->models);
    json_decref(c->channels);
    c->models = c->channels = NULL;
}

int vg_config_read_channels(const char *file, json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    json_t *root = read_object(file, err, errlen);
    if (!root) return -1;
    json_t *ch = json_object_get(root, "channels");
    int rc = 0;
    if (ch && !json_is_array(ch)) {
        snprintf(err, errlen, "%s: \"channels\" must be an array", file);
        rc = -1;
    } else if (ch) {
        *out = json_incref(ch);
    }
    json_decref(root);
    return rc;
}

int vg_config_listen_addr(const vg_config *c, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(c->listen, ':');
    if (!colon || colon == c->listen) return -1;
    size_t n = (size_t)(colon - c->listen);
    if (n >= hostlen) return -1;
    memcpy(host, c->listen, n);
    host[n] = '\0';
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p < 0 || p > 65535) return -1;
    *port = (int)p;
    return 0;
}
