/*
 * vidgated.c - the server's entry point: configuration, data directory, secrets, the admin key,
 * then the dispatcher, the asset processing pool and the HTTP loops until SIGINT/SIGTERM.
 *
 * Start-up order matters: the store is migrated and interrupted tasks are re-queued before the
 * first request is accepted, so a client never sees a task that nobody will run (nor a Processing
 * asset that nobody will process).
 *
 * Subcommands: `vidgated check` (check.c) and `vidgated copy` (copy.c) run instead of the server.
 */
#include "app.h"
#include "check.h"
#include "copy.h"

#include "api/console.h"
#include "api/env.h"
#include "api/handlers.h"
#include "api/keys.h"
#include "api/task_json.h"
#include "assets/worker.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/metrics.h"
#include "core/models.h"
#include "dispatch/dispatcher.h"
#include "dispatch/webhooks.h"
#include "http/events.h"
#include "http/server.h"
#include "store/batch.h"
#include "net/content.h"
#include "store/watch.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t stop_flag;
static atomic_bool reload_stopping;
/* The configuration the HTTP loops open their store connections with (set once by serve()). */
static const vg_config *g_cfg;
/* The other nodes of a shared store (http/events.h); NULL with one node. Set by serve() before
 * the reload thread and the loops start. */
static vg_events *g_events;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* SIGHUP is blocked in every thread and taken here, where a reload may lock and allocate (a
 * handler may not). vg_app_reload() logs the outcome. Shutdown wakes it with one more SIGHUP. */
static void *reload_thread(void *ud)
{
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    for (;;) {
        int sig;
        if (sigwait(&hup, &sig)) continue;
        if (atomic_load(&reload_stopping)) return NULL;
        json_t *report = NULL;
        char err[512];
        if (vg_app_reload(ud, &report, err, sizeof err) == 0) vg_events_publish_reload(g_events);
        json_decref(report);
    }
}

/* POST /admin/reload, through the handlers' environment. A reload applied here is announced to
 * the other nodes, which each reload their own configuration. */
static int reload_api(void *ud, json_t **report, char *err, size_t errlen)
{
    int rc = vg_app_reload(ud, report, err, errlen);
    if (rc == 0) vg_events_publish_reload(g_events);
    return rc;
}

/* Another node applied a reload (or this one may have missed some): reload here, not announced
 * again. */
static void reload_for_event(void *ud)
{
    json_t *report = NULL;
    char err[512];
    vg_app_reload(ud, &report, err, sizeof err);
    json_decref(report);
}

/* The store the configuration names (backend, database, data directory, node name). */
static vg_status store_open(const vg_config *cfg, vg_store **s, char *err, size_t errlen)
{
    vg_store_options o = {.backend = cfg->store,
                          .data_dir = cfg->data_dir,
                          .database = cfg->database,
                          .node = cfg->node,
                          .checkpoint_thread = true};
    return vg_store_open(&o, s, err, errlen);
}

static vg_store *open_store_at(const vg_config *cfg)
{
    vg_store *s = NULL;
    char err[256];
    if (store_open(cfg, &s, err, sizeof err)) {
        vg_error("%s", err);
        return NULL;
    }
    vg_store_watch(s); /* every committed task change wakes the long-polls of that task */
    return s;
}

/* The store opener of the workers, which are handed the process state. */
static vg_store *open_store(void *app)
{
    return open_store_at(((const vg_app *)app)->cfg);
}

/* A content directory other than DATA/files (a shared mount) is reached through DATA/files, made
 * a symbolic link to it, so that every path under DATA/files (results, assets, their staging)
 * means the same place. A real DATA/files directory is never replaced: its files would be lost
 * to the server. */
static int link_content_dir(const char *files_dir, const char *target)
{
    char now[1100];
    ssize_t n = readlink(files_dir, now, sizeof now - 1);
    if (n >= 0) {
        now[n] = '\0';
        if (!strcmp(now, target)) return 0;
        if (unlink(files_dir)) return -1;
    } else if (errno != ENOENT) {
        vg_error("content: %s exists and is not a link; move its files to %s and remove it",
                 files_dir, target);
        return -1;
    }
    return symlink(target, files_dir);
}

/* The content location (--content): a directory, or a bucket with DATA/files as its cache. */
static int open_content(vg_app *app, const vg_config *cfg)
{
    char err[512];
    if (vg_content_open(cfg->content, app->files_dir, &app->content, err, sizeof err) != VG_OK) {
        vg_error("%s", err);
        return -1;
    }
    const char *dir = vg_content_dir(app->content);
    if (strcmp(dir, app->files_dir) && link_content_dir(app->files_dir, dir)) {
        vg_error("content: cannot link %s to %s: %s", app->files_dir, dir, strerror(errno));
        return -1;
    }
    vg_info("content: %s", vg_content_describe(app->content));
    return 0;
}

static int prepare_dirs(vg_app *app, const vg_config *cfg)
{
    snprintf(app->files_dir, sizeof app->files_dir, "%s/files", cfg->data_dir);
    snprintf(app->tmp_dir, sizeof app->tmp_dir, "%s/tmp", cfg->data_dir);
    if (vg_mkdir_p(cfg->data_dir, 0700) == 0 && open_content(app, cfg)) return -1;
    if (vg_mkdir_p(cfg->data_dir, 0700) || vg_mkdir_p(app->files_dir, 0700)) {
        vg_error("cannot create %s: %s", cfg->data_dir, strerror(errno));
        return -1;
    }
    /* The directory holds key hashes, callback tokens, prompts and images: an existing one (made
     * by hand, or by an older version) is tightened, as are the database files in it. */
    static const char *const private_files[] = {
        "", "/files", "/vidgate.db", "/vidgate.db-wal", "/vidgate.db-shm", "/secret", "/admin.key"};
    for (size_t i = 0; i < sizeof private_files / sizeof private_files[0]; i++) {
        char path[1400];
        struct stat sb;
        snprintf(path, sizeof path, "%s%s", cfg->data_dir, private_files[i]);
        if (lstat(path, &sb) || S_ISLNK(sb.st_mode) || !(sb.st_mode & 077)) continue;
        if (chmod(path, sb.st_mode & 0700))
            vg_warn("cannot make %s private: %s", path, strerror(errno));
        else
            vg_info("made %s private (was %03o)", path, (unsigned)(sb.st_mode & 0777));
    }
    vg_rm_rf(app->tmp_dir); /* renders in progress are redone from scratch */
    return vg_mkdir_p(app->tmp_dir, 0700);
}

/* The presigning secret, kept in the store (setting "presign_secret") so that every node of a
 * shared database signs and checks links with the same one. The first start proposes the
 * DATA/secret of earlier versions when there is one (its links stay valid), else a fresh one; the
 * value the store keeps is also written to DATA/secret (0600) for older builds. */
static int load_secret(vg_app *app, const vg_config *cfg, vg_store *s)
{
    char path[1100], *text = NULL, *stored = NULL, proposal[65];
    snprintf(path, sizeof path, "%s/secret", cfg->data_dir);
    if (vg_read_file(path, 256, &text, NULL) == 0 && strlen(text) >= 64) {
        snprintf(proposal, sizeof proposal, "%.64s", text);
    } else {
        unsigned char raw[32];
        vg_random_bytes(raw, sizeof raw);
        for (int i = 0; i < 32; i++)
            snprintf(proposal + 2 * i, 3, "%02x", raw[i]);
    }
    bool had_file = text && strncmp(text, proposal, 64) == 0;
    free(text);
    if (vg_store_setting_claim(s, "presign_secret", proposal, &stored) != VG_OK || !stored ||
        strlen(stored) < 64) {
        vg_error("cannot read the presigning secret from the store");
        free(stored);
        return -1;
    }
    snprintf(app->secret, sizeof app->secret, "%.64s", stored);
    free(stored);
    if ((!had_file || strcmp(proposal, app->secret) != 0) &&
        vg_write_file(path, app->secret, 64, 0600)) {
        vg_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Makes an admin key (with `secret`, or a fresh one written to out); its id goes to id_out. */
static int create_admin(vg_store *s, const char *secret, char out[128], char id_out[VG_ID_MAX])
{
    vg_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "admin");
    k.is_admin = true;
    int rc = vg_keys_create(s, &k, 0, secret, out);
    snprintf(id_out, VG_ID_MAX, "%s", k.id);
    return rc;
}

/* Revokes every live admin key but keep_id (NULL: revokes none). *live counts those kept. */
static int retire_admins(vg_store *s, const char *keep_id, int *live)
{
    vg_key *keys = NULL;
    size_t n = 0;
    *live = 0;
    if (vg_store_key_list(s, &keys, &n) != VG_OK) return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keys[i].is_admin || keys[i].revoked) continue;
        if (!keep_id || !strcmp(keys[i].id, keep_id)) {
            (*live)++;
            continue;
        }
        if (vg_store_key_revoke(s, keys[i].id, vg_now_s()) != VG_OK)
            rc = -1;
        else
            vg_info("retired the previous admin key %s: VIDGATE_ADMIN_KEY names another",
                    keys[i].id);
    }
    for (size_t i = 0; i < n; i++)
        vg_key_free(&keys[i]);
    free(keys);
    return rc;
}

/* DATA/admin.key holds a generated admin key; once VIDGATE_ADMIN_KEY names another, that one is
 * retired and the file would only mislead. */
static void drop_admin_file(const vg_config *cfg)
{
    char path[1100], *text = NULL;
    snprintf(path, sizeof path, "%s/admin.key", cfg->data_dir);
    if (vg_read_file(path, 256, &text, NULL) != 0) return;
    text[strcspn(text, "\r\n")] = '\0';
    if (strcmp(text, cfg->admin_key) != 0 && unlink(path) == 0)
        vg_info("removed %s: it held the retired admin key", path);
    free(text);
}

/* VIDGATE_ADMIN_KEY names the admin key, made on first use. Rotation: set a new value and
 * restart; every other admin key (the previous value, or a generated one) is retired, i.e.
 * revoked, and a retired key named again is refused, so a leaked key does not come back by
 * mistake. Without the variable, one is made when no live admin key exists, written to
 * DATA/admin.key (0600) and printed once. */
static int ensure_admin(vg_store *s, const vg_config *cfg)
{
    char secret[128], hash[VG_SHA256_HEX_LEN + 1], id[VG_ID_MAX];
    int live = 0;
    if (cfg->admin_key[0]) {
        vg_sha256_hex(cfg->admin_key, strlen(cfg->admin_key), hash);
        vg_key k;
        vg_status rc = vg_store_key_by_hash(s, hash, &k);
        if (rc == VG_OK) {
            bool admin = k.is_admin, revoked = k.revoked;
            snprintf(id, sizeof id, "%s", k.id);
            vg_key_free(&k);
            if (!admin) return vg_error("VIDGATE_ADMIN_KEY is an existing non-admin key"), -1;
            if (revoked)
                return vg_error("VIDGATE_ADMIN_KEY is a retired admin key: choose a new one"), -1;
        } else if (rc == VG_NOTFOUND) {
            if (create_admin(s, cfg->admin_key, secret, id) != VG_OK) return -1;
        } else
            return -1;
        if (retire_admins(s, id, &live)) return -1;
        drop_admin_file(cfg);
        return 0;
    }
    if (retire_admins(s, NULL, &live)) return -1;
    if (live > 0) return 0;
    if (create_admin(s, NULL, secret, id) != VG_OK) return -1;
    char path[1100];
    snprintf(path, sizeof path, "%s/admin.key", cfg->data_dir);
    char line[160];
    int len = snprintf(line, sizeof line, "%s\n", secret);
    if (vg_write_file(path, line, (size_t)len, 0600)) return -1;
    printf("vidgated: created the admin key (also saved in %s):\n  %s\n", path, secret);
    fflush(stdout);
    return 0;
}

static int setup_models(const vg_config *cfg)
{
    char err[256];
    if (!cfg->models) return 0;
    if (vg_models_load_json(cfg->models, err, sizeof err)) {
        vg_error("config: models: %s", err);
        return -1;
    }
    return 0;
}

/* The handlers' wake-up: the dispatcher and the webhook workers (a cancel or a redelivery made
 * an event due), reached through the process state. */
static void wake_dispatcher(void *ud)
{
    const vg_app *app = ud;
    vg_dispatch_notify(app->dispatch);
    vg_webhooks_notify(app->webhooks);
}

/* After each group commit of submits (on the writer thread): the new tasks are due. */
static void wake_for_submits(void *ud)
{
    const vg_app *app = ud;
    vg_dispatch_notify(app->dispatch);
}

/* The submit writer (store/batch.h) on its own connection; NULL when the backend commits each
 * task cheaply alone (the loops then commit on their own connections). */
static vg_store_batch *start_submit_writer(vg_app *app, const vg_config *cfg)
{
    vg_store *s = open_store_at(cfg);
    if (!s) return NULL;
    if (!vg_store_batches_creates(s)) {
        vg_store_close(s);
        return NULL;
    }
    return vg_store_batch_start(s, wake_for_submits, app);
}

/* The object a webhook event carries: the native task object of the API. */
static json_t *webhook_task_object(void *ud, const vg_task *t)
{
    return vg_task_json(ud, t);
}

/* The handlers' environment: a view of the process state with exactly what they use. */
static vg_api_env api_env(vg_app *app, const vg_config *cfg, const char *console_dir)
{
    return (vg_api_env){
        .data_dir = cfg->data_dir,
        .files_dir = app->files_dir,
        .tmp_dir = app->tmp_dir,
        .content = app->content,
        .secret = app->secret,
        .public_url = app->public_url,
        .currency = cfg->currency,
        .metrics_token = cfg->metrics_token,
        .urls = {.allow_http = cfg->allow_http_fetch, .allow_private = cfg->allow_private_fetch},
        .asset_quota_bytes = cfg->asset_quota_bytes,
        .wake = wake_dispatcher,
        .wake_ud = app,
        .reload = reload_api,
        .reload_ud = app,
        .upstream = vg_dispatch_upstream(app->dispatch),
        .console_dir = console_dir};
}

/* The store opener the HTTP loops use: the server hands it the handlers' environment. */
static vg_store *open_store_env(void *env)
{
    (void)env; /* the handlers' view has no configuration: the process state has */
    return open_store_at(g_cfg);
}

/* Raises the soft descriptor limit to the hard one, then keeps connections below what is left
 * once renders, fetches, the loops and the database have theirs: a connection flood must not make
 * a render fail to create its output. 0 with the connection cap in *max_conns, or -1. */
static int plan_descriptors(const vg_config *cfg, int loops, int workers, int *max_conns)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl)) {
        *max_conns = cfg->max_connections;
        return 0;
    }
    rlim_t before = rl.rlim_cur, want = rl.rlim_max == RLIM_INFINITY ? 1u << 20 : rl.rlim_max;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        if (setrlimit(RLIMIT_NOFILE, &rl)) rl.rlim_cur = before;
    }
    long long reserve = VG_FD_RESERVE_BASE + (long long)VG_FD_PER_RENDER * workers +
                        (long long)VG_FD_PER_FETCHER * (cfg->upstream_workers + VG_ASSET_WORKERS +
                                                        cfg->webhook_workers + VG_CONTENT_WORKERS) +
                        (long long)VG_FD_PER_LOOP * loops;
    long long avail = (long long)rl.rlim_cur - reserve;
    *max_conns = avail < cfg->max_connections ? (int)(avail > 0 ? avail : 0) : cfg->max_connections;
    if (*max_conns < VG_MIN_CONNECTIONS) {
        vg_error(
            "file descriptors: the limit is %llu, %lld are needed for renders, fetches and the "
            "database, which leaves fewer than %d for connections; raise it (ulimit -n)",
            (unsigned long long)rl.rlim_cur, reserve, VG_MIN_CONNECTIONS);
        return -1;
    }
    vg_info("file descriptors: limit %llu%s, %lld kept for renders, fetches and the database; at "
            "most %d connections%s",
            (unsigned long long)rl.rlim_cur,
            rl.rlim_cur > before ? " (raised to the hard limit)" : "", reserve, *max_conns,
            *max_conns < cfg->max_connections ? " (max_connections lowered)" : "");
    return 0;
}

static int serve(vg_app *app, const vg_config *cfg, const char *host, int port, int listen_fd)
{
    char err[256];
    g_cfg = cfg;
    vg_metrics_init(cfg->currency);
    vg_metrics_node(cfg->node);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int workers = cfg->render_workers > 0 ? cfg->render_workers : (int)(cores > 0 ? cores : 1);
    int loops = cfg->threads > 0 ? cfg->threads : (int)(cores > 0 ? cores : 1), max_conns;
    if (plan_descriptors(cfg, loops, workers, &max_conns)) {
        close(listen_fd);
        return 1;
    }
    /* The dispatcher gets only what it needs; an upstream reaches us at public_url only when the
     * operator configured one. */
    vg_dispatch_env denv = {
        .cfg = cfg,
        .secret = app->secret,
        .public_url = cfg->public_url[0] ? app->public_url : "",
        .files_dir = app->files_dir,
        .tmp_dir = app->tmp_dir,
        .content = app->content,
        .fetch = {.allow_http = cfg->allow_http_fetch, .allow_private = cfg->allow_private_fetch},
        .open_store = open_store,
        .store_ud = app};
    app->dispatch = vg_dispatch_start(&denv, workers, err, sizeof err);
    if (!app->dispatch) {
        vg_error("%s", err);
        close(listen_fd);
        return 1;
    }
    vg_events_env eenv = {
        .open_store = open_store, .store_ud = app, .reload = reload_for_event, .reload_ud = app};
    if (vg_events_start(&eenv, &g_events, err, sizeof err) != VG_OK) {
        vg_error("%s", err);
        vg_dispatch_stop(app->dispatch);
        close(listen_fd);
        return 1;
    }
    pthread_t reloader;
    if (pthread_create(&reloader, NULL, reload_thread, app)) {
        vg_error("cannot start the reload thread");
        vg_events_stop(g_events);
        vg_dispatch_stop(app->dispatch);
        close(listen_fd);
        return 1;
    }
    /* Processing assets resume here, before the first request is accepted. */
    vg_assets_env aenv = {.data_dir = cfg->data_dir,
                          .tmp_dir = app->tmp_dir,
                          .content = app->content,
                          .allow_http = cfg->allow_http_fetch,
                          .allow_private = cfg->allow_private_fetch,
                          .quota_bytes = cfg->asset_quota_bytes};
    vg_assets *assets = vg_assets_start(&aenv, VG_ASSET_WORKERS, open_store, app, err, sizeof err);
    if (!assets) {
        vg_error("%s", err);
        vg_dispatch_stop(app->dispatch);
        close(listen_fd);
        return 1;
    }
    size_t n_routes = 0;
    const vg_route *routes = vg_api_routes(&n_routes);
    char console_dir[PATH_MAX];
    vg_console_dir_resolve(cfg->console_dir, console_dir, sizeof console_dir);
    vg_api_env env = api_env(app, cfg, console_dir);
    /* Deliveries left pending by the last run leave as soon as the workers start. */
    vg_webhooks_env wenv = {.workers = cfg->webhook_workers,
                            .backoff_ms = cfg->webhook_backoff_ms,
                            .fetch = denv.fetch,
                            .open_store = open_store,
                            .store_ud = app,
                            .task_object = webhook_task_object,
                            .object_ud = &env};
    app->webhooks = vg_webhooks_start(&wenv, err, sizeof err);
    if (!app->webhooks) {
        vg_error("%s", err);
        vg_dispatch_stop(app->dispatch);
        vg_assets_stop(assets);
        free((void *)routes);
        close(listen_fd);
        return 1;
    }
    env.submits = start_submit_writer(app, cfg);
    vg_server_opts so = {.host = host,
                         .port = port,
                         .threads = loops,
                         .listen_fd = listen_fd,
                         .max_body_bytes = VG_MAX_MULTIPART_BODY_BYTES,
                         .max_connections = max_conns,
                         .max_connections_per_ip = cfg->max_connections_per_ip,
                         .header_timeout_ms = (uint64_t)cfg->header_timeout_ms,
                         .idle_timeout_ms = (uint64_t)cfg->idle_timeout_ms,
                         .request_timeout_ms = (uint64_t)cfg->request_timeout_ms,
                         .router = {routes, n_routes},
                         .app = &env,
                         .open_store = open_store_env};
    int rc = vg_server_run(&so, &stop_flag, err, sizeof err);
    if (rc) vg_error("%s", err);
    vg_store_batch_stop(env.submits); /* after the loops: every parked submit was answered */
    vg_info("shutting down");
    atomic_store(&reload_stopping, true);
    pthread_kill(reloader, SIGHUP);
    pthread_join(reloader, NULL);
    vg_events_stop(g_events); /* its reloads reach the dispatcher: stopped first */
    g_events = NULL;
    vg_dispatch_stop(app->dispatch);
    vg_assets_stop(assets);
    vg_webhooks_stop(app->webhooks);
    app->webhooks = NULL;
    free((void *)routes);
    return rc ? 1 : 0;
}

/* `vidgated check --data DIR`: recomputes every balance and hold from the ledger and every task's
 * money state from its status. Read-only; safe while the server runs. Exit 0 clean, 1 not. */
static int check(const vg_config *cfg)
{
    vg_store_options o = {.backend = cfg->store,
                          .data_dir = cfg->data_dir,
                          .database = cfg->database,
                          .node = cfg->node};
    return vg_check_store(&o, "vidgated check");
}

/* Links are built on public_url, by default on the listen address: on an unspecified address
 * ("0.0.0.0", "::") that gives links no client can follow. */
static void warn_unreachable_links(const vg_config *cfg)
{
    static const char *const unspecified[] = {"0.0.0.0:", "[::]:", ":"};
    if (cfg->public_url[0]) return;
    for (size_t i = 0; i < sizeof unspecified / sizeof unspecified[0]; i++)
        if (!strncmp(cfg->listen, unspecified[i], strlen(unspecified[i]))) {
            vg_warn("listening on %s without public_url: presigned links will start with "
                    "http://%s, which clients cannot use; set public_url (VIDGATE_PUBLIC_URL) "
                    "to the address clients reach this server at",
                    cfg->listen, cfg->listen);
            return;
        }
}

/*
 * A render's encoder works in some 40-60 MiB, freed when it ends. With glibc's defaults the
 * largest blocks are mmap'd and unmapped, and the rest of the freed memory is handed back as soon
 * as 128 KiB lie free at the top of the thread's heap: every render then faulted its memory in
 * again (5,000-9,000 page faults of zeroed pages, the wide spread of B6's CPU time). Blocks under
 * 32 MiB now come from the heaps and up to 64 MiB free at a heap's top are kept, so a render
 * worker reuses the memory of the previous render (25 faults). The price: a heap that once held
 * a burst keeps up to 64 MiB of it until it is used again (the peak is unchanged).
 */
static void keep_working_memory(void)
{
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

int main(int argc, char **argv)
{
    vg_config cfg;
    char err[512];
    if (argc > 1 && !strcmp(argv[1], "copy")) return vg_copy_main(argc - 1, argv + 1);
    bool check_mode = argc > 1 && !strcmp(argv[1], "check");
    if (check_mode) argv[1] = argv[0], argc--, argv++;
    int rc = vg_config_load(&cfg, argc, argv, err, sizeof err);
    if (rc) {
        if (rc < 0) fprintf(stderr, "vidgated: %s\n", err);
        vg_config_free(&cfg);
        return rc < 0 ? 2 : 0;
    }
    if (check_mode) {
        rc = check(&cfg);
        vg_config_free(&cfg);
        return rc;
    }
    /* SIGHUP is taken by the reload thread only: blocked here, before any thread exists, so
     * every thread inherits the mask. */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, NULL);
    if (vg_app_apply_log(&cfg, err, sizeof err)) {
        fprintf(stderr, "vidgated: %s\n", err);
        vg_config_free(&cfg);
        return 2;
    }
    /* Everything the server creates (database and its -wal/-shm, results, assets, staging files,
     * secrets) is for its own user alone. */
    umask(077);
    keep_working_memory();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    vg_app app;
    memset(&app, 0, sizeof app);
    app.cfg = app.live_cfg = &cfg;
    app.argc = argc;
    app.argv = argv;
    app.applied = vg_config_to_json(&cfg);
    pthread_mutex_init(&app.reload_lock, NULL);
    snprintf(app.public_url, sizeof app.public_url, "%s", cfg.public_url);
    if (!app.public_url[0])
        snprintf(app.public_url, sizeof app.public_url, "http://%s", cfg.listen);
    size_t ul = strlen(app.public_url);
    if (ul && app.public_url[ul - 1] == '/') app.public_url[ul - 1] = '\0';
    warn_unreachable_links(&cfg);

    rc = 1;
    vg_store *s = NULL;
    /* The port is taken first: a second server on it stops here, before touching the data. */
    char host[256];
    int port, listen_fd = -1;
    if (vg_config_listen_addr(&cfg, host, sizeof host, &port)) {
        vg_error("invalid listen address %s", cfg.listen);
        goto out;
    }
    if (vg_server_listen(host, port, &listen_fd, err, sizeof err)) {
        vg_error("%s", err);
        goto out;
    }
    if (setup_models(&cfg) || prepare_dirs(&app, &cfg)) goto out;
    if (!(s = open_store(&app)) || load_secret(&app, &cfg, s)) goto out;
    if (ensure_admin(s, &cfg)) {
        vg_error("cannot set up the admin key");
        goto out;
    }
    vg_store_close(s);
    s = NULL;
    rc = serve(&app, &cfg, host, port, listen_fd);
    listen_fd = -1; /* serve() owns it */
out:
    if (listen_fd >= 0) close(listen_fd);
    vg_store_close(s);
    vg_content_close(app.content); /* after every thread that publishes or fetches has stopped */
    json_decref(app.applied);
    pthread_mutex_destroy(&app.reload_lock);
    vg_config_free(&cfg);
    return rc;
}
