/*
 * pg_events.c - events between the nodes of one PostgreSQL database: NOTIFY to publish, LISTEN
 * on a connection of its own to hear (store.h documents notify and listen_wait).
 *
 * Every event goes out on one channel, "vidgate", with its topic as the payload. PostgreSQL
 * delivers a NOTIFY when the transaction that sent it commits, and not at all when it rolls back,
 * so a change and its event are one: key changes (pg_keys.c) send theirs inside their own
 * transaction (vg_pg_notify_tx).
 *
 * Listening: a session listens from its LISTEN on, and a reconnection is a new session that
 * listens to nothing. listen_wait therefore (re)subscribes on the first call after each
 * connection and answers VG_STORE_TOPIC_ALL: whatever was published while nobody listened is
 * lost, so the caller must assume everything changed. Between events the call waits on the
 * connection's socket with poll(); a closed socket (the database stopped, or the network went)
 * marks the connection lost, and the next call reconnects (vg_pg_ensure).
 *
 * Threads: as the store — the listening connection belongs to the one thread that waits on it.
 */
#include "common/limits.h"
#include "store/pg_internal.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>

#define CHANNEL "vidgate"

bool vg_pg_connected(vg_store *base)
{
    return PQstatus(vg_pgs(base)->conn) == CONNECTION_OK;
}

vg_status vg_pg_notify_tx(vg_pg *s, const char *topic)
{
    return vg_pg_exec(s, "SELECT pg_notify('" CHANNEL "', $1)", PG_ARGS(PG_T(topic)), NULL);
}

vg_status vg_pg_notify(vg_store *base, const char *topic)
{
    if (strlen(topic) >= VG_EVENTS_TOPIC_BYTES) return VG_INVALID;
    return vg_pg_notify_tx(vg_pgs(base), topic); /* one statement: its own transaction */
}

/* The next notification already read from the socket, if any. */
static bool next_event(vg_pg *s, char *topic, size_t len)
{
    PGnotify *n = PQnotifies(s->conn);
    if (!n) return false;
    snprintf(topic, len, "%s", n->extra ? n->extra : "");
    PQfreemem(n);
    return true;
}

vg_status vg_pg_listen_wait(vg_store *base, int timeout_ms, char *topic, size_t len)
{
    vg_pg *s = vg_pgs(base);
    if (vg_pg_ensure(s) != VG_OK) return VG_AGAIN;
    if (!s->listening) {
        if (vg_pg_simple(s, "LISTEN " CHANNEL) != VG_OK) return VG_AGAIN;
        s->listening = true;
        snprintf(topic, len, "%s", VG_STORE_TOPIC_ALL);
        return VG_OK;
    }
    if (next_event(s, topic, len)) return VG_OK;
    struct pollfd p = {.fd = PQsocket(s->conn), .events = POLLIN};
    if (p.fd < 0) return VG_AGAIN;
    int ready = poll(&p, 1, timeout_ms);
    if (ready <= 0) return VG_NOTFOUND; /* a signal counts as a timeout: the caller loops */
    /* Readable: notifications, or the end of the connection (then libpq marks it bad). */
    if (!PQconsumeInput(s->conn) || PQstatus(s->conn) != CONNECTION_OK) {
        s->listening = false;
        return VG_AGAIN;
    }
    return next_event(s, topic, len) ? VG_OK : VG_NOTFOUND;
}
