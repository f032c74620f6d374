/*
 * server.c - see server.h.
 *
 * Design: every loop thread is self-contained (h2o context, listener, store connection), so the
 * request path takes no lock. Loops wake at least every 100 ms to notice shutdown.
 */
#include "http/server.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "http/keycache.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    h2o_handler_t super;
    const vg_server_opts *opts;
} app_handler;

/* An accepted connection, known by its descriptor so shutdown can half-close it. */
typedef struct {
    struct loop_thread *owner;
    int fd;
    size_t index; /* in owner->conns */
} conn;

typedef struct loop_thread {
    const vg_server_opts *opts;
    h2o_globalconf_t *conf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    h2o_socket_t *listener;
    vg_store *store;
    volatile sig_atomic_t *stop;
    int fd;
    pthread_t thread;
    conn **conns; /* open connections of this loop */
    size_t n_conns, cap_conns;
} loop_thread;

#define SHUTDOWN_GRACE_MS 2000

static _Thread_local loop_thread *current;
static atomic_int open_connections;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    app_handler *h = (app_handler *)self;
    return vg_router_handle(&h->opts->router, req, h->opts->app, current->store);
}

static void on_conn_close(void *data)
{
    conn *c = data;
    loop_thread *t = c->owner;
    t->conns[c->index] = t->conns[--t->n_conns];
    t->conns[c->index]->index = c->index;
    free(c);
    atomic_fetch_sub(&open_connections, 1);
}

static void track(loop_thread *t, int fd, h2o_socket_t *sock)
{
    if (t->n_conns == t->cap_conns) {
        t->cap_conns = t->cap_conns ? 2 * t->cap_conns : 64;
        t->conns = vg_realloc(t->conns, t->cap_conns * sizeof *t->conns);
    }
    conn *c = vg_malloc(sizeof *c);
    *c = (conn){.owner = t, .fd = fd, .index = t->n_conns};
    t->conns[t->n_conns++] = c;
    sock->on_close.cb = on_conn_close;
    sock->on_close.data = c;
}

/* Connections are accepted here rather than by h2o_evloop_socket_accept() so that their
 * descriptors are known: shutdown half-closes them (see drain()). */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    loop_thread *t = listener->data;
    if (err) return;
    int fd = accept4(t->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), on = 1;
    if (fd < 0) return;
    if (atomic_fetch_add(&open_connections, 1) >= t->opts->max_connections) {
        atomic_fetch_sub(&open_connections, 1);
        close(fd);
        return;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    h2o_socket_t *sock = h2o_evloop_socket_create(t->ctx.loop, fd, 0);
    track(t, fd, sock);
    h2o_accept(&t->accept, sock);
}

static int open_listener(const char *host, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host, portstr, &hints, &ai);
    if (rc) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, SOMAXCONN)) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0) close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static bool has_connections(h2o_context_t *ctx)
{
    return !h2o_linklist_is_empty(&ctx->http1._conns) || !h2o_linklist_is_empty(&ctx->http2._conns);
}

/* Shutdown: every connection's read side is shut, so an idle keep-alive connection sees EOF and
 * h2o closes it through its own path, while a busy one still writes its response and then reads
 * EOF and closes. Up to SHUTDOWN_GRACE_MS. (h2o_context_request_shutdown is not used: in h2o 2.2
 * it arms a timer that h2o_context_dispose then refuses.) h2o 2.2 cannot dispose a context that
 * still has connections, so if a client is still mid-request then, the context is left to the
 * process exit instead of being torn down under it. */
static void drain(loop_thread *t)
{
    for (size_t i = 0; i < t->n_conns; i++)
        shutdown(t->conns[i]->fd, SHUT_RD);
    int64_t deadline = vg_mono_ms() + SHUTDOWN_GRACE_MS;
    while (has_connections(&t->ctx) && vg_mono_ms() < deadline)
        h2o_evloop_run(t->ctx.loop, 20);
    if (has_connections(&t->ctx)) {
        vg_warn("shutdown: a connection is still busy after %d ms; not waiting for it",
                SHUTDOWN_GRACE_MS);
        /* The loop never runs again, so no close callback will: release the registry here. */
        for (size_t i = 0; i < t->n_conns; i++)
            free(t->conns[i]);
        free(t->conns);
        return;
    }
    /* The loop belongs to us, not to the context; one more turn lets the sockets that
     * context_dispose closed (its message queue's among them) finish closing first. */
    h2o_evloop_t *loop = t->ctx.loop;
    h2o_context_dispose(&t->ctx);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    free(t->conns);
}

static void *loop_main(void *arg)
{
    loop_thread *t = arg;
    current = t;
    h2o_context_init(&t->ctx, h2o_evloop_create(), t->conf);
    t->accept.ctx = &t->ctx;
    t->accept.hosts = t->conf->hosts;
    t->listener = h2o_evloop_socket_create(t->ctx.loop, t->fd, H2O_SOCKET_FLAG_DONT_READ);
    t->listener->data = t;
    h2o_socket_read_start(t->listener, on_accept);
    while (!*t->stop)
        h2o_evloop_run(t->ctx.loop, 100);
    h2o_socket_read_stop(t->listener);
    h2o_socket_close(t->listener);
    if (t->opts->on_loop_stop) t->opts->on_loop_stop(t->opts->app);
    drain(t);
    vg_keycache_thread_exit();
    return NULL;
}

int vg_server_run(const vg_server_opts *o, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    h2o_globalconf_t conf;
    h2o_config_init(&conf);
    conf.server_name = h2o_iovec_init(H2O_STRLIT("vidgate"));
    conf.max_request_entity_size = o->max_body_bytes;
    conf.http1.req_timeout = o->request_timeout_ms;
    conf.http2.idle_timeout = o->request_timeout_ms;
    h2o_hostconf_t *host =
        h2o_config_register_host(&conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    app_handler *h = (app_handler *)h2o_create_handler(path, sizeof *h);
    h->super.on_req = on_req;
    h->opts = o;

    int n = o->threads > 0 ? o->threads : 1, started = 0, rc = 0;
    loop_thread *threads = vg_calloc((size_t)n, sizeof *threads);
    for (int i = 0; i < n; i++) {
        loop_thread *t = &threads[i];
        t->opts = o;
        t->conf = &conf;
        t->stop = stop;
        t->fd = open_listener(o->host, o->port, err, errlen);
        t->store = t->fd >= 0 && o->open_store ? o->open_store(o->app) : NULL;
        bool store_ok = t->store || !o->open_store;
        if (t->fd >= 0 && !store_ok) snprintf(err, errlen, "cannot open the store");
        if (t->fd < 0 || !store_ok || pthread_create(&t->thread, NULL, loop_main, t)) {
            if (t->fd >= 0) close(t->fd);
            vg_store_close(t->store);
            rc = -1;
            *stop = 1;
            break;
        }
        started++;
    }
    if (rc == 0) vg_info("listening on http://%s:%d (%d event loops)", o->host, o->port, n);
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i].thread, NULL);
        vg_store_close(threads[i].store);
    }
    free(threads);
    h2o_config_dispose(&conf);
    return rc;
}
