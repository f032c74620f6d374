/*
 * server.h - the HTTP server: h2o event loops, one per thread, sharing one listening socket, each
 * with its own store connection, and the shared route table.
 *
 * Threads: vg_server_run() starts `threads` loop threads and blocks until *stop becomes non-zero
 * (set it from a signal handler), then closes the listeners, lets the loops finish briefly and
 * returns. Handlers run on loop threads and must never block on rendering or upstream calls.
 * Bounds (design note in server.c): body size by route, judged on the request head before the
 * body is read; a header timeout; keep-alive idle and request timeouts; an open-connection cap
 * (accepting pauses while it is reached or descriptors run out); a cap per client address.
 */
#ifndef VG_HTTP_SERVER_H
#define VG_HTTP_SERVER_H
#include "http/router.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *host;
    int port;
    int threads;
    int listen_fd;         /* > 0: from vg_server_listen(), now the server's; 0: bind host:port */
    size_t max_body_bytes; /* the largest route cap */
    int max_connections;
    /* The next three: 0 = the default of limits.h. */
    int max_connections_per_ip;
    uint64_t header_timeout_ms;  /* a new connection's first request head */
    uint64_t idle_timeout_ms;    /* keep-alive idle (and each request on a kept-alive connection) */
    uint64_t request_timeout_ms; /* the body of an unauthenticated connection's one request */
    vg_router router;
    void *app;
    /* Opens this thread's store connection (NULL on failure); closed by the server. NULL = the
     * server runs without a store (handlers get c->store == NULL; routes must not need keys);
     * then no request is screened by key or route cap: every connection is treated as keyed. */
    vg_store *(*open_store)(void *app);
    /* Called on each loop thread when it stops, before in-flight responses drain, so handlers
     * that hold requests for later (the simulator's delays) can answer them. May be NULL. */
    void (*on_loop_stop)(void *app);
} vg_server_opts;

/**
 * Binds host:port once, without SO_REUSEPORT, and listens. 0 with the descriptor in *fd, or -1
 * with a reason in err ("... address already in use ..." when another process has the port).
 */
int vg_server_listen(const char *host, int port, int *fd, char *err, size_t errlen);

/**
 * For a handler that parks its request to answer it later (loop thread, http/longpoll.c): the
 * server reads the client's socket meanwhile and calls gone(ud) once, on the loop, as soon as the
 * client closes or resets it. Call vg_server_unwatch_client() before replying. -1 when the
 * request's connection is not one of this loop's (then nobody watches).
 */
int vg_server_watch_client(h2o_req_t *req, void (*gone)(void *ud), void *ud);
void vg_server_unwatch_client(h2o_req_t *req);
/** For the same handler, before it parks: gives back the connection's read buffer (http/reqbuf.h:
 *  the request's strings move into its pool). Call it before anything points into the request. */
void vg_server_release_input(h2o_req_t *req);

/** Serves until *stop, and cleans up. Returns 0, or -1 with a reason in err. */
int vg_server_run(const vg_server_opts *o, volatile sig_atomic_t *stop, char *err, size_t errlen);

#endif
