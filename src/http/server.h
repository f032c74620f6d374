/*
 * server.h - the HTTP server: h2o event loops, one per thread, each with its own listening socket
 * on the same port (SO_REUSEPORT lets the kernel spread connections), its own store connection and
 * the shared route table.
 *
 * Threads: vg_server_run() starts `threads` loop threads and blocks until *stop becomes non-zero
 * (set it from a signal handler), then closes the listeners, lets the loops finish briefly and
 * returns. Handlers run on loop threads and must never block on rendering or upstream calls.
 * Bounds: body size (max_request_entity_size), request timeout, and an open-connection cap
 * (connections over it are closed at once).
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
    size_t max_body_bytes;
    int max_connections;
    uint64_t request_timeout_ms;
    vg_router router;
    void *app;
    /* Opens this thread's store connection (NULL on failure); closed by the server. NULL = the
     * server runs without a store (handlers get c->store == NULL; routes must not need keys). */
    vg_store *(*open_store)(void *app);
    /* Called on each loop thread when it stops, before in-flight responses drain, so handlers
     * that hold requests for later (the simulator's delays) can answer them. May be NULL. */
    void (*on_loop_stop)(void *app);
} vg_server_opts;

/** Binds, serves until *stop, and cleans up. Returns 0, or -1 with a reason in err. */
int vg_server_run(const vg_server_opts *o, volatile sig_atomic_t *stop, char *err, size_t errlen);

#endif
