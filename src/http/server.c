/*
 * server.c - see server.h.
 *
 * Design: every loop thread is self-contained (h2o contexts, a listener, store connection), so
 * the request path takes no lock. Loops wake at least every 100 ms to notice shutdown.
 *
 * One listening socket. It is bound once (vg_server_listen(), before the store is touched) without
 * SO_REUSEPORT, and each loop polls a dup() of it: a second server on the same port fails with
 * "address already in use" instead of silently sharing the port's connections.
 *
 * Connections are accepted here, not by h2o, and a new connection belongs to the server until its
 * first request head is complete:
 *  - Accepting stops for VG_ACCEPT_PAUSE_MS when accept() fails for want of descriptors or
 *    memory, and while max_connections are open (new clients wait in the kernel's backlog); a
 *    level-triggered listener would otherwise spin both loops. Logged once a minute at most.
 *  - Each client address (IPv4 address, IPv6 /64) holds at most max_connections_per_ip
 *    connections; one more gets 429 and is closed.
 *  - The head must arrive within header_timeout_ms (408 and close; silence is just closed). The
 *    head is scanned (reqhead.h) and judged by the router (vg_router_admit) before any body byte
 *    is kept: a malformed head, too many fields, a Content-Length over the route's cap, or a body
 *    over the JSON cap without a valid key is answered with the JSON envelope, and the rest of the
 *    input is read and dropped (never stored) for at most VG_LINGER_MS so the client sees the
 * reply.
 *
 * Why here: h2o 2.2 buffers a request's whole body (in memory, and in a temporary file above
 * 32 MiB) before a handler sees the request, and its only body cap, max_request_entity_size, is one
 * number for the whole server. So the decision is made on the head, and an admitted connection is
 * handed to one of two h2o contexts of its loop that differ in that cap:
 *  - keyed: the first request carried a valid key. Bodies up to the largest route cap; kept alive
 *    (idle_timeout_ms between requests). Later requests on it are not pre-screened: they are still
 *    authenticated and capped per route by the router, but a key holder can make h2o read up to
 *    the largest cap before a 401/413. That is bounded by the key's accountability.
 *  - anonymous: no valid key. Bodies up to the JSON cap, one request per connection (the reply
 *    says Connection: close), so an anonymous client can never reach a later, unscreened request.
 * h2o's own error replies (a chunked body over the cap, broken chunked encoding) are rewritten to
 * the JSON envelope by a filter on the fallback path, where h2o files them. The one reply left in
 * h2o's text/plain is its 400 for a malformed later request on a kept-alive keyed connection:
 * h2o writes it straight to the socket.
 * HTTP/2 is not offered (h2c upgrade off; a "PRI *" preface gets 400): its streams would bypass
 * the head screening.
 */
#include "http/server.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "http/keycache.h"
#include "http/defer.h"
#include "http/longpoll.h"
#include "http/reqbuf.h"
#include "http/reqhead.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    h2o_handler_t super;
    const vg_server_opts *opts;
} app_handler;

typedef enum {
    CONN_HEAD,   /* ours: waiting for the first request head */
    CONN_REPLY,  /* ours: writing a refusal */
    CONN_LINGER, /* ours: refusal sent, dropping input until EOF or VG_LINGER_MS */
    CONN_H2O,    /* handed to h2o */
} conn_phase;

/* A client address as counted by the per-address cap: IPv4, or the /64 of an IPv6 address. */
typedef struct {
    unsigned char bytes[8];
    unsigned char len;
} addr_key;

/* An accepted connection, known by its descriptor so shutdown can half-close it. */
typedef struct {
    struct loop_thread *owner;
    int fd;
    size_t index; /* in owner->conns */
    h2o_socket_t *sock;
    conn_phase phase;
    addr_key addr;
    h2o_timeout_entry_t timer; /* head timeout, then linger */
    char *reply;               /* refusal being written (malloc'd) */
    size_t dropped;            /* bytes dropped while lingering */
    void (*gone)(void *ud);    /* a parked request's client went away (vg_server_watch_client) */
    void *gone_ud;
} conn;

typedef struct loop_thread {
    const vg_server_opts *opts;
    h2o_globalconf_t *conf_keyed, *conf_anon;
    h2o_context_t ctx_keyed, ctx_anon;
    h2o_accept_ctx_t accept_keyed, accept_anon;
    h2o_socket_t *listener;
    h2o_timeout_t head_timeout, linger_timeout, pause_timeout;
    h2o_timeout_entry_t pause_entry;
    vg_store *store;
    volatile sig_atomic_t *stop;
    int fd;
    pthread_t thread;
    conn **conns; /* open connections of this loop */
    size_t n_conns, cap_conns;
} loop_thread;

#define SHUTDOWN_GRACE_MS 2000
#define ACCEPT_BATCH      64    /* accepts per wake-up, so one loop does not take a whole burst */
#define WARN_EVERY_MS     60000 /* a resource warning is repeated at most this often */
#define ADDR_BUCKETS      1024

static _Thread_local loop_thread *current;
static atomic_int open_connections;
static atomic_llong fd_warned_at, cap_warned_at;

/* ---- per-address connection counts (all loops; taken on accept and close only) ----------------
 */

typedef struct addr_count {
    struct addr_count *next;
    addr_key key;
    int n;
} addr_count;

static pthread_mutex_t addr_lock = PTHREAD_MUTEX_INITIALIZER;
static addr_count *addr_table[ADDR_BUCKETS];

static addr_key addr_key_of(const struct sockaddr_storage *ss)
{
    addr_key k = {{0}, 0};
    if (ss->ss_family == AF_INET) {
        memcpy(k.bytes, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        k.len = 4;
    } else if (ss->ss_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
        bool v4mapped = IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a);
        memcpy(k.bytes, v4mapped ? a + 12 : a, v4mapped ? 4 : 8); /* one site holds a /64 */
        k.len = v4mapped ? 4 : 8;
    }
    return k;
}

static addr_count **addr_slot(const addr_key *k)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < k->len; i++)
        h = (h ^ k->bytes[i]) * 16777619u;
    addr_count **p = &addr_table[h % ADDR_BUCKETS];
    while (*p && ((*p)->key.len != k->len || memcmp((*p)->key.bytes, k->bytes, k->len)))
        p = &(*p)->next;
    return p;
}

/* Takes a slot for k unless it already holds cap. */
static bool addr_take(const addr_key *k, int cap)
{
    pthread_mutex_lock(&addr_lock);
    addr_count **p = addr_slot(k);
    bool ok = !*p || (*p)->n < cap;
    if (ok && !*p) {
        *p = vg_malloc(sizeof **p);
        **p = (addr_count){.key = *k};
    }
    if (ok) (*p)->n++;
    pthread_mutex_unlock(&addr_lock);
    return ok;
}

static void addr_release(const addr_key *k)
{
    pthread_mutex_lock(&addr_lock);
    addr_count **p = addr_slot(k), *e = *p;
    if (e && --e->n == 0) {
        *p = e->next;
        free(e);
    }
    pthread_mutex_unlock(&addr_lock);
}

/* ---- replies written by the server itself ------------------------------------------------------
 */

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {408, "Request Timeout"},
    {413, "Content Too Large"},
    {417, "Expectation Failed"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {503, "Service Unavailable"},
};

static const char *reason_of(int status)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (reasons[i].status == status) return reasons[i].reason;
    return "Error";
}

/* A complete HTTP/1.1 response carrying the envelope of e, closing the connection (malloc'd). */
static char *format_refusal(const vg_err *e, size_t *len)
{
    char *body = vg_err_envelope_text(e);
    const char *b = body ? body : "{}";
    char id[VG_ID_MAX];
    vg_id_new("req_", id);
    char retry[48] = "";
    if (e->retry_after_s > 0)
        snprintf(retry, sizeof retry, "Retry-After: %d\r\n", e->retry_after_s);
    char *out = vg_asprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
                            "%zu\r\nCache-Control: no-store\r\nX-Request-Id: %s\r\n%sConnection: "
                            "close\r\n\r\n%s",
                            e->http_status, reason_of(e->http_status), strlen(b), id, retry, b);
    free(body);
    *len = strlen(out);
    vg_metrics_http_request(-1, "", 0, e->http_status, 0); /* refused before routing */
    return out;
}

/* Logs a resource warning unless one was logged within WARN_EVERY_MS (any loop). */
static bool warn_due(atomic_llong *last)
{
    long long now = vg_mono_ms(), prev = atomic_load(last);
    return (prev == 0 || now - prev >= WARN_EVERY_MS) &&
           atomic_compare_exchange_strong(last, &prev, now);
}

/* ---- request handling --------------------------------------------------------------------------
 */

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    app_handler *h = (app_handler *)self;
    /* An anonymous connection serves one request: a later one would not be screened. */
    if (req->conn->ctx == &current->ctx_anon) req->http1_is_persistent = 0;
    return vg_router_handle(&h->opts->router, req, h->opts->app, current->store);
}

/* h2o's own error replies (filed under the fallback path) get the JSON envelope. */
typedef struct {
    h2o_ostream_t super;
    h2o_iovec_t body;
} envelope_ostream;

static const struct {
    int status;
    const char *code;
} h2o_error_codes[] = {
    {400, "invalid_request"},
    {413, "request_too_large"},
    {417, "expectation_failed"},
};

static void envelope_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n,
                          h2o_send_state_t state)
{
    (void)bufs, (void)n;
    envelope_ostream *o = (envelope_ostream *)self;
    if (h2o_send_state_is_in_progress(state))
        h2o_ostream_send_next(&o->super, req, NULL, 0, state);
    else
        h2o_ostream_send_next(&o->super, req, &o->body, 1, state);
}

static void envelope_setup(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    if (req->res.status >= 400) {
        const char *code = "invalid_request";
        for (size_t i = 0; i < sizeof h2o_error_codes / sizeof h2o_error_codes[0]; i++)
            if (h2o_error_codes[i].status == req->res.status) code = h2o_error_codes[i].code;
        vg_err e = {0};
        if (req->res.status == 413)
            vg_err_set(&e, 413, code, "", "request body is larger than %zu bytes",
                       req->conn->ctx->globalconf->max_request_entity_size);
        else
            vg_err_set(&e, req->res.status, code, "", "malformed HTTP request (%s)",
                       req->res.reason);
        char *s = vg_err_envelope_text(&e);
        if (s) {
            envelope_ostream *o = (void *)h2o_add_ostream(req, sizeof *o, slot);
            o->super.do_send = envelope_send;
            o->body = h2o_strdup(&req->pool, s, strlen(s));
            free(s);
            memset(&req->res.headers, 0, sizeof req->res.headers);
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                           H2O_STRLIT("application/json"));
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                           H2O_STRLIT("no-store"));
            char id[VG_ID_MAX];
            vg_id_new("req_", id);
            h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0,
                                  NULL, h2o_strdup(&req->pool, id, strlen(id)).base, strlen(id));
            req->res.content_length = o->body.len;
            slot = &o->super.next;
        }
    }
    h2o_setup_next_ostream(req, slot);
}

/* ---- connections -------------------------------------------------------------------------------
 */

static void on_conn_close(void *data)
{
    conn *c = data;
    loop_thread *t = c->owner;
    if (h2o_timeout_is_linked(&c->timer)) h2o_timeout_unlink(&c->timer);
    addr_release(&c->addr);
    t->conns[c->index] = t->conns[--t->n_conns];
    t->conns[c->index]->index = c->index;
    free(c->reply);
    free(c);
    atomic_fetch_sub(&open_connections, 1);
}

static void close_conn(conn *c)
{
    h2o_socket_close(c->sock); /* on_conn_close runs from here */
}

static void on_linger_read(h2o_socket_t *sock, const char *err)
{
    conn *c = sock->data;
    c->dropped += sock->input->size;
    h2o_buffer_consume(&sock->input, sock->input->size);
    if (err || c->dropped > VG_LINGER_MAX_BYTES) close_conn(c);
}

/* The refusal is out: stop sending, and drop what the client still sends until it sees it. */
static void on_refusal_written(h2o_socket_t *sock, const char *err)
{
    conn *c = sock->data;
    if (err) {
        close_conn(c);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->phase = CONN_LINGER;
    c->dropped += sock->input->size;
    h2o_buffer_consume(&sock->input, sock->input->size);
    h2o_timeout_link(c->owner->ctx_anon.loop, &c->owner->linger_timeout, &c->timer);
    h2o_socket_read_start(sock, on_linger_read);
}

static void on_conn_timer(h2o_timeout_entry_t *entry);

static void refuse(conn *c, const vg_err *e)
{
    size_t len;
    h2o_socket_read_stop(c->sock);
    if (h2o_timeout_is_linked(&c->timer)) h2o_timeout_unlink(&c->timer);
    c->timer.cb = on_conn_timer;
    c->reply = format_refusal(e, &len);
    c->phase = CONN_REPLY;
    h2o_buffer_consume(&c->sock->input, c->sock->input->size);
    h2o_iovec_t buf = h2o_iovec_init(c->reply, len);
    h2o_socket_write(c->sock, &buf, 1, on_refusal_written);
}

static void on_conn_timer(h2o_timeout_entry_t *entry)
{
    conn *c = H2O_STRUCT_FROM_MEMBER(conn, timer, entry);
    if (c->phase != CONN_HEAD || c->sock->input->size == 0) {
        close_conn(c); /* lingered enough, or never said anything */
        return;
    }
    vg_err e = {0};
    vg_err_set(&e, 408, "request_timeout", "", "no complete request head within %llu ms",
               (unsigned long long)c->owner->opts->header_timeout_ms);
    refuse(c, &e);
}

static void hand_over(conn *c, bool keyed)
{
    loop_thread *t = c->owner;
    h2o_timeout_unlink(&c->timer);
    h2o_socket_read_stop(c->sock);
    c->phase = CONN_H2O;
    /* h2o parses the head again from the socket's buffer and reads the body itself. */
    h2o_accept(keyed ? &t->accept_keyed : &t->accept_anon, c->sock);
}

static size_t span_before(const char *s, size_t n, char ch)
{
    const char *p = memchr(s, ch, n);
    return p ? (size_t)(p - s) : n;
}

static void on_head_read(h2o_socket_t *sock, const char *err)
{
    conn *c = sock->data;
    if (err) {
        close_conn(c);
        return;
    }
    vg_reqhead h;
    vg_err e = {0};
    vg_status rc = vg_reqhead_scan(sock->input->bytes, sock->input->size, VG_MAX_HEADER_BYTES,
                                   VG_MAX_HEADERS, &h, &e);
    if (rc == VG_AGAIN) return;
    bool keyed = !c->owner->store; /* without a key store the application authenticates */
    if (rc == VG_OK && (keyed || vg_router_admit(c->owner->store, &h, &keyed, &e) == VG_OK)) {
        hand_over(c, keyed);
        return;
    }
    if (rc == VG_OK) /* as the access log writes it; the query may hold a signature */
        vg_info("%.*s %.*s %d refused by head", (int)h.method.len, h.method.base,
                (int)span_before(h.path.base, h.path.len, '?'), h.path.base, e.http_status);
    refuse(c, &e);
}

static void track(loop_thread *t, int fd, h2o_socket_t *sock, const addr_key *addr)
{
    if (t->n_conns == t->cap_conns) {
        t->cap_conns = t->cap_conns ? 2 * t->cap_conns : 64;
        t->conns = vg_realloc(t->conns, t->cap_conns * sizeof *t->conns);
    }
    conn *c = vg_calloc(1, sizeof *c);
    c->owner = t;
    c->fd = fd;
    c->index = t->n_conns;
    c->sock = sock;
    c->addr = *addr;
    c->phase = CONN_HEAD;
    c->timer.cb = on_conn_timer;
    t->conns[t->n_conns++] = c;
    sock->data = c;
    sock->on_close.cb = on_conn_close;
    sock->on_close.data = c;
    h2o_timeout_link(t->ctx_anon.loop, &t->head_timeout, &c->timer);
    h2o_socket_read_start(sock, on_head_read);
}

/* ---- requests answered later: is the client still there? -------------------------------------
 * h2o 2.2 stops reading a connection while its request is being handled, so it would notice a
 * client that hung up only when the reply is written, possibly a minute later. While a handler
 * parks a request, the server reads the socket instead: EOF or an error calls `gone` at once;
 * bytes of a pipelined next request stay in the socket's buffer for h2o (reading pauses past
 * VG_PARKED_INPUT_MAX_BYTES). The conn is found in O(1): every socket we accept carries our conn
 * as its on_close data (h2o keeps that hook: it is how on_conn_close runs), and a request's socket
 * comes from h2o's own get_socket callback. (A scan of the loop's connections here was 12 % of the
 * CPU of waking 10,000 parked long-polls: quadratic in parked requests.) */

static conn *conn_of_sock(loop_thread *t, h2o_socket_t *sock)
{
    if (!sock || sock->on_close.cb != on_conn_close) return NULL;
    conn *c = sock->on_close.data;
    return c->owner == t ? c : NULL;
}

static conn *conn_of_req(loop_thread *t, const h2o_req_t *req)
{
    h2o_conn_t *hc = req->conn;
    if (!hc || !hc->callbacks->get_socket) return NULL;
    conn *c = conn_of_sock(t, hc->callbacks->get_socket(hc));
    return c && c->phase == CONN_H2O ? c : NULL;
}

static void on_parked_read(h2o_socket_t *sock, const char *err)
{
    conn *c = current ? conn_of_sock(current, sock) : NULL;
    if (c && !err && sock->input->size <= VG_PARKED_INPUT_MAX_BYTES) return;
    h2o_socket_read_stop(sock);
    if (!c || !err || !c->gone) return;
    void (*gone)(void *) = c->gone;
    c->gone = NULL;
    gone(c->gone_ud);
}

int vg_server_watch_client(h2o_req_t *req, void (*gone)(void *ud), void *ud)
{
    conn *c = current ? conn_of_req(current, req) : NULL;
    if (!c) return -1;
    c->gone = gone;
    c->gone_ud = ud;
    h2o_socket_read_start(c->sock, on_parked_read);
    return 0;
}

void vg_server_release_input(h2o_req_t *req)
{
    conn *c = current ? conn_of_req(current, req) : NULL;
    if (c) vg_reqbuf_shrink(req, c->sock); /* h2o is not reading it now: see http/reqbuf.h */
}

void vg_server_unwatch_client(h2o_req_t *req)
{
    conn *c = current ? conn_of_req(current, req) : NULL;
    if (!c || !c->gone) return;
    c->gone = NULL;
    h2o_socket_read_stop(c->sock);
}

static void on_accept(h2o_socket_t *listener, const char *err);

static void resume_accepting(h2o_timeout_entry_t *entry)
{
    loop_thread *t = H2O_STRUCT_FROM_MEMBER(loop_thread, pause_entry, entry);
    h2o_socket_read_start(t->listener, on_accept);
}

static void pause_accepting(loop_thread *t)
{
    h2o_socket_read_stop(t->listener);
    if (!h2o_timeout_is_linked(&t->pause_entry))
        h2o_timeout_link(t->ctx_anon.loop, &t->pause_timeout, &t->pause_entry);
}

/* Refuses a connection over its address's cap without reading from it. */
static void refuse_busy_address(int fd)
{
    vg_err e = {0};
    vg_err_set(&e, 429, "too_many_connections", "", "too many connections from this address");
    size_t len;
    char *resp = format_refusal(&e, &len);
    ssize_t w = send(fd, resp, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w; /* best effort: a new connection's socket buffer takes it */
    free(resp);
    close(fd);
}

/* Accepts what is waiting, up to a batch; pauses when out of descriptors or at capacity. */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    loop_thread *t = listener->data;
    if (err) return;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        if (atomic_load(&open_connections) >= t->opts->max_connections) {
            if (warn_due(&cap_warned_at))
                vg_warn("%d connections open (max_connections): new clients wait until one "
                        "closes",
                        t->opts->max_connections);
            pause_accepting(t);
            return;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(t->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC), on = 1;
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                if (warn_due(&fd_warned_at))
                    vg_warn("cannot accept connections: %s; pausing accepts (%d connections "
                            "open; lower max_connections or raise the descriptor limit)",
                            strerror(errno), atomic_load(&open_connections));
                pause_accepting(t);
            }
            return; /* EAGAIN: the other loop took it; ECONNABORTED: the client left */
        }
        addr_key addr = addr_key_of(&ss);
        if (!addr_take(&addr, t->opts->max_connections_per_ip)) {
            refuse_busy_address(fd);
            continue;
        }
        atomic_fetch_add(&open_connections, 1);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        track(t, fd, h2o_evloop_socket_create(t->ctx_anon.loop, fd, 0), &addr);
    }
}

int vg_server_listen(const char *host, int port, int *fd_out, char *err, size_t errlen)
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
    /* SO_REUSEADDR only: restarting over TIME_WAIT works, sharing the port with a live server
     * (SO_REUSEPORT) does not. */
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) ||
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, SOMAXCONN)) {
        if (errno == EADDRINUSE)
            snprintf(err, errlen,
                     "cannot listen on %s:%d: address already in use (is another server "
                     "running on this port?)",
                     host, port);
        else
            snprintf(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        if (fd >= 0) close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    *fd_out = fd;
    return fd < 0 ? -1 : 0;
}

/* Shutdown: every connection's read side is shut, so an idle keep-alive connection (or one still
 * sending its head) sees EOF and closes through its own path, while a busy one still writes its
 * response and then reads EOF and closes. Up to SHUTDOWN_GRACE_MS.
 * (h2o_context_request_shutdown is not used: in h2o 2.2 it arms a timer that h2o_context_dispose
 * then refuses.) h2o 2.2 cannot dispose a context that still has connections, so if a client is
 * still mid-request then, the contexts are left to the process exit instead of being torn down
 * under it. */
static void drain(loop_thread *t)
{
    h2o_evloop_t *loop = t->ctx_anon.loop;
    for (size_t i = 0; i < t->n_conns; i++)
        shutdown(t->conns[i]->fd, SHUT_RD);
    int64_t deadline = vg_mono_ms() + SHUTDOWN_GRACE_MS;
    while (t->n_conns && vg_mono_ms() < deadline)
        h2o_evloop_run(loop, 20);
    if (t->n_conns) {
        vg_warn("shutdown: a connection is still busy after %d ms; not waiting for it",
                SHUTDOWN_GRACE_MS);
        /* The loop never runs again, so no close callback will: release the registry here. */
        for (size_t i = 0; i < t->n_conns; i++) {
            addr_release(&t->conns[i]->addr);
            free(t->conns[i]->reply);
            free(t->conns[i]);
        }
        free(t->conns);
        return;
    }
    h2o_timeout_dispose(loop, &t->head_timeout);
    h2o_timeout_dispose(loop, &t->linger_timeout);
    h2o_timeout_dispose(loop, &t->pause_timeout);
    /* The loop belongs to us, not to the contexts; one more turn lets the sockets that
     * context_dispose closed (its message queue's among them) finish closing first. */
    h2o_context_dispose(&t->ctx_keyed);
    h2o_context_dispose(&t->ctx_anon);
    h2o_evloop_run(loop, 0);
    h2o_evloop_destroy(loop);
    free(t->conns);
}

static void *loop_main(void *arg)
{
    loop_thread *t = arg;
    current = t;
    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_context_init(&t->ctx_anon, loop, t->conf_anon);
    h2o_context_init(&t->ctx_keyed, loop, t->conf_keyed);
    t->accept_anon = (h2o_accept_ctx_t){.ctx = &t->ctx_anon, .hosts = t->conf_anon->hosts};
    t->accept_keyed = (h2o_accept_ctx_t){.ctx = &t->ctx_keyed, .hosts = t->conf_keyed->hosts};
    h2o_timeout_init(loop, &t->head_timeout, t->opts->header_timeout_ms);
    h2o_timeout_init(loop, &t->linger_timeout, VG_LINGER_MS);
    h2o_timeout_init(loop, &t->pause_timeout, VG_ACCEPT_PAUSE_MS);
    t->pause_entry.cb = resume_accepting;
    t->listener = h2o_evloop_socket_create(loop, t->fd, H2O_SOCKET_FLAG_DONT_READ);
    t->listener->data = t;
    h2o_socket_read_start(t->listener, on_accept);
    vg_longpoll_loop_start(loop);
    vg_defer_loop_start(loop);
    while (!*t->stop)
        h2o_evloop_run(loop, 100);
    if (h2o_timeout_is_linked(&t->pause_entry)) h2o_timeout_unlink(&t->pause_entry);
    h2o_socket_read_stop(t->listener);
    h2o_socket_close(t->listener);
    vg_defer_loop_stop();    /* submits whose commit is under way are answered */
    vg_longpoll_loop_stop(); /* parked requests get the current object before the drain */
    if (t->opts->on_loop_stop) t->opts->on_loop_stop(t->opts->app);
    drain(t);
    vg_keycache_thread_exit();
    return NULL;
}

/* One h2o configuration: the app handler at "/", the envelope filter for h2o's own errors. */
static void configure(h2o_globalconf_t *conf, const vg_server_opts *o, size_t max_body,
                      uint64_t req_timeout_ms)
{
    h2o_config_init(conf);
    conf->server_name = h2o_iovec_init(H2O_STRLIT("vidgate"));
    conf->max_request_entity_size = max_body;
    conf->http1.req_timeout = req_timeout_ms;
    conf->http1.upgrade_to_http2 = 0;
    conf->http2.idle_timeout = req_timeout_ms;
    h2o_hostconf_t *host =
        h2o_config_register_host(conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    app_handler *h = (app_handler *)h2o_create_handler(path, sizeof *h);
    h->super.on_req = on_req;
    h->opts = o;
    h2o_filter_t *f = h2o_create_filter(&host->fallback_path, sizeof *f);
    f->on_setup_ostream = envelope_setup;
}

int vg_server_run(const vg_server_opts *opts, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
    vg_server_opts *o = vg_malloc(sizeof *o); /* with the defaults filled in; read by the loops */
    *o = *opts;
    if (o->max_connections_per_ip <= 0) o->max_connections_per_ip = VG_MAX_CONNECTIONS_PER_IP;
    if (!o->header_timeout_ms) o->header_timeout_ms = VG_HEADER_TIMEOUT_MS;
    if (!o->idle_timeout_ms) o->idle_timeout_ms = VG_IDLE_TIMEOUT_MS;
    if (!o->request_timeout_ms) o->request_timeout_ms = VG_REQUEST_TIMEOUT_MS;
    vg_router_metrics_init(&o->router);
    int listen_fd = o->listen_fd;
    if (listen_fd <= 0 && vg_server_listen(o->host, o->port, &listen_fd, err, errlen)) {
        free(o);
        *stop = 1;
        return -1;
    }
    h2o_globalconf_t conf_keyed, conf_anon;
    /* Anonymous connections take JSON-sized bodies, one request within request_timeout_ms.
     * Keyed ones take the largest route cap and are kept alive: h2o 2.2 runs one timer from the
     * end of a response to the end of the next request, so idle_timeout_ms bounds both the
     * keep-alive idle time and the arrival of each request on such a connection. */
    configure(&conf_anon, o,
              VG_MAX_JSON_BODY_BYTES < o->max_body_bytes ? VG_MAX_JSON_BODY_BYTES
                                                         : o->max_body_bytes,
              o->request_timeout_ms);
    configure(&conf_keyed, o, o->max_body_bytes, o->idle_timeout_ms);

    int n = o->threads > 0 ? o->threads : 1, started = 0, rc = 0;
    loop_thread *threads = vg_calloc((size_t)n, sizeof *threads);
    for (int i = 0; i < n; i++) {
        loop_thread *t = &threads[i];
        t->opts = o;
        t->conf_keyed = &conf_keyed;
        t->conf_anon = &conf_anon;
        t->stop = stop;
        t->fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
        if (t->fd < 0) snprintf(err, errlen, "cannot share the listener: %s", strerror(errno));
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
    close(listen_fd); /* the loops hold their own descriptors of it */
    if (rc == 0)
        vg_info("listening on http://%s:%d (%d event loops, at most %d connections, %d per "
                "address)",
                o->host, o->port, n, o->max_connections, o->max_connections_per_ip);
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i].thread, NULL);
        vg_store_close(threads[i].store);
    }
    free(threads);
    h2o_config_dispose(&conf_keyed);
    h2o_config_dispose(&conf_anon);
    free(o);
    return rc;
}
