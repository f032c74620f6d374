/*
 * main.c - ark-sim's start-up and shutdown: options, the model list, the global state g_sim, the
 * ticker and callback threads, the HTTP loops until SIGINT/SIGTERM, then an orderly stop. See
 * sim.h for what the simulator does and how its files divide the work.
 */
#include "tools/ark-sim/sim.h"

#include "common/alloc.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/fsutil.h"
#include "http/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sim_state g_sim;
volatile sig_atomic_t g_sim_stop;

typedef enum { O_STR, O_INT, O_FLAG } opt_kind;

#define OS(f) O_STR, offsetof(sim_opts, f), sizeof(((sim_opts *)0)->f)
#define OI(f) O_INT, offsetof(sim_opts, f), 0
static const struct {
    const char *flag;
    opt_kind kind;
    size_t off, size;
    const char *help;
} g_opts[] = {
    {"--listen", OS(listen), "HOST:PORT to serve on"},
    {"--data", OS(data), "directory for cached result videos"},
    {"--key", OS(key), "API key clients must send (Bearer); none = any"},
    {"--faults", OS(faults), "global fault rules (see ark-sim/sim.h)"},
    {"--video", OS(video), "full (render at the task's size) or tiny (64x36, 1 s)"},
    {"--models", OS(models), "comma-separated model ids (default: the dated 2.0 ids)"},
    {"--callback-allow-private", O_FLAG, offsetof(sim_opts, callback_private), 0,
     "deliver callbacks to loopback/private addresses"},
    {"--queue-ms", OI(queue_ms), "time a task stays queued (default 1000)"},
    {"--run-ms", OI(run_ms), "time a task stays running (default 5000)"},
    {"--url-ttl-s", OI(url_ttl_s), "result URL lifetime (default 86400)"},
    {"--max-queued", OI(max_queued), "queued tasks per account before 429 (0 = no limit)"},
    {"--threads", OI(threads), "HTTP event loops (default 2)"},
};
#define N_OPTS (sizeof g_opts / sizeof g_opts[0])

static void on_signal(int sig)
{
    (void)sig;
    g_sim_stop = 1;
}

static const char *const g_default_models[] = {
    "doubao-seedance-2-0-260128",        "doubao-seedance-2-0-fast-260128",
    "dreamina-seedance-2-0-260128",      "dreamina-seedance-2-0-fast-260128",
    "dreamina-seedance-2-0-mini-260615",
};

static void usage(void)
{
    printf("usage: ark-sim --listen HOST:PORT --data DIR [options]\n\n");
    for (size_t i = 0; i < N_OPTS; i++)
        printf("  %-26s %s\n", g_opts[i].flag, g_opts[i].help);
}

static int parse_args(int argc, char **argv)
{
    sim_opts *o = &g_sim.o;
    snprintf(o->video, sizeof o->video, "full");
    o->queue_ms = 1000, o->run_ms = 5000, o->url_ttl_s = 86400, o->threads = 2;
    for (int i = 1; i < argc; i++) {
        size_t k;
        for (k = 0; k < N_OPTS && strcmp(g_opts[k].flag, argv[i]); k++)
            ;
        if (k == N_OPTS) {
            if (strcmp(argv[i], "--help")) fprintf(stderr, "ark-sim: unknown option %s\n", argv[i]);
            usage();
            return -1;
        }
        char *field = (char *)o + g_opts[k].off;
        if (g_opts[k].kind == O_FLAG) {
            *(bool *)field = true;
            continue;
        }
        if (i + 1 >= argc) return fprintf(stderr, "ark-sim: %s needs a value\n", argv[i]), -1;
        const char *v = argv[++i];
        if (g_opts[k].kind == O_INT)
            *(int *)field = atoi(v);
        else
            snprintf(field, g_opts[k].size, "%s", v);
    }
    if (!o->listen[0] || !o->data[0]) return usage(), -1;
    if (strcmp(o->video, "full") && strcmp(o->video, "tiny"))
        return fprintf(stderr, "ark-sim: --video must be full or tiny\n"), -1;
    return 0;
}

static void setup_models(void)
{
    if (!g_sim.o.models[0]) {
        g_sim.n_models = (int)(sizeof g_default_models / sizeof g_default_models[0]);
        g_sim.models = vg_calloc((size_t)g_sim.n_models, sizeof *g_sim.models);
        for (int i = 0; i < g_sim.n_models; i++)
            g_sim.models[i] = vg_strdup(g_default_models[i]);
        return;
    }
    char *copy = vg_strdup(g_sim.o.models), *save = NULL;
    for (char *m = strtok_r(copy, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        g_sim.models =
            vg_realloc(g_sim.models, (size_t)(g_sim.n_models + 1) * sizeof *g_sim.models);
        g_sim.models[g_sim.n_models++] = vg_strdup(m);
    }
    free(copy);
}

static void cleanup(void)
{
    for (size_t i = 0; i < g_sim.n_tasks; i++) {
        free(g_sim.tasks[i]->callback_url);
        free(g_sim.tasks[i]->request);
        free(g_sim.tasks[i]);
    }
    free(g_sim.tasks);
    for (int i = 0; i < g_sim.n_models; i++)
        free(g_sim.models[i]);
    free(g_sim.models);
    free(g_sim.videos);
    free(g_sim.markers);
    free(g_sim.creates);
    while (g_sim.cb_head) {
        cb_item *n = g_sim.cb_head->next;
        free(g_sim.cb_head->url);
        free(g_sim.cb_head->body);
        free(g_sim.cb_head);
        g_sim.cb_head = n;
    }
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv)) return 2;
    vg_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.listen, sizeof cfg.listen, "%s", g_sim.o.listen);
    char host[256];
    int port = 0;
    if (vg_config_listen_addr(&cfg, host, sizeof host, &port)) {
        fprintf(stderr, "ark-sim: invalid --listen %s\n", g_sim.o.listen);
        return 2;
    }
    pthread_mutex_init(&g_sim.lock, NULL);
    pthread_cond_init(&g_sim.cb_wake, NULL);
    vg_random_bytes(&g_sim.rng, sizeof g_sim.rng);
    unsigned char raw[32];
    vg_random_bytes(raw, sizeof raw);
    for (int i = 0; i < 32; i++)
        snprintf(g_sim.secret + 2 * i, 3, "%02x", raw[i]);
    snprintf(g_sim.base_url, sizeof g_sim.base_url, "http://%s", g_sim.o.listen);
    snprintf(g_sim.videos_dir, sizeof g_sim.videos_dir, "%s/videos", g_sim.o.data);
    if (vg_mkdir_p(g_sim.videos_dir, 0700)) {
        fprintf(stderr, "ark-sim: cannot create %s: %s\n", g_sim.videos_dir, strerror(errno));
        return 1;
    }
    g_sim.creates = vg_calloc(MAX_CREATE_LOG, sizeof *g_sim.creates);
    setup_models();
    if (g_sim.o.faults[0] &&
        (g_sim.n_rules = sim_faults_parse(g_sim.o.faults, g_sim.rules, MAX_RULES)) < 0) {
        fprintf(stderr, "ark-sim: invalid --faults\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pthread_t ticker, callbacks;
    pthread_create(&ticker, NULL, sim_ticker_main, NULL);
    pthread_create(&callbacks, NULL, sim_callbacks_main, NULL);
    vg_server_opts so = {.host = host,
                         .port = port,
                         .threads = g_sim.o.threads > 0 ? g_sim.o.threads : 2,
                         .max_body_bytes = 64u << 20,
                         .max_connections = 4096,
                         .request_timeout_ms = 60000,
                         .router = {sim_routes, sim_n_routes},
                         .app = &g_sim,
                         .open_store = NULL,
                         .on_loop_stop = sim_on_loop_stop};
    char err[256];
    int rc = vg_server_run(&so, &g_sim_stop, err, sizeof err);
    if (rc) fprintf(stderr, "ark-sim: %s\n", err);
    g_sim_stop = 1;
    pthread_mutex_lock(&g_sim.lock);
    pthread_cond_broadcast(&g_sim.cb_wake);
    pthread_mutex_unlock(&g_sim.lock);
    pthread_join(ticker, NULL);
    pthread_join(callbacks, NULL);
    cleanup();
    return rc ? 1 : 0;
}
