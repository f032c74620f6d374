/*
 * events.h - what the nodes of one shared store tell each other: key changes and reloads.
 *
 * A thread listens to the store's events (store.h: listen_wait) on a connection of its own:
 *   - VG_STORE_TOPIC_KEYS (published by the store with every key change, at its commit): every
 *     cached key is dropped (http/keycache.h), so a revoked key is refused on the next request.
 *   - "reload <origin>" (published by vg_events_publish_reload() after a node applied a reload):
 *     this node runs its own reload (env.reload) from its own configuration file. A node ignores
 *     its own announcements, and a reload run for an event is not announced again: no loops.
 *   - losing the database: the key cache is suspended (every request reads its key from the
 *     store, so nothing is authenticated from a cache that can no longer hear of changes, and
 *     while the store is down requests answer 503); the thread reconnects with a growing pause
 *     (VG_EVENTS_BACKOFF_MIN_MS … _MAX_MS). Back, it subscribes again and, since what was
 *     published meanwhile is lost, acts as if everything changed: the cache resumes empty and
 *     the node reloads.
 *
 * A store without events (SQLite: one node) starts nothing: vg_events_start() gives NULL, and
 * every function here accepts NULL.
 *
 * Threads: the listener calls env.reload on its own thread (vg_app_reload is thread-safe);
 * vg_events_publish_reload() may be called from any thread (its connection is under a mutex).
 */
#ifndef VG_HTTP_EVENTS_H
#define VG_HTTP_EVENTS_H
#include "store/store.h"

#include <stddef.h>

typedef struct vg_events vg_events;

typedef struct {
    vg_store *(*open_store)(void *ud); /* a new connection, NULL on failure (already logged) */
    void *store_ud;
    void (*reload)(void *ud); /* this node's reload, not announced */
    void *reload_ud;
} vg_events_env;

/**
 * Subscribes (before returning, when the database answers) and starts the listener. VG_OK with
 * *out NULL when the store has no events; VG_ERR with the reason in err.
 */
vg_status vg_events_start(const vg_events_env *env, vg_events **out, char *err, size_t errlen);
/** Tells the other nodes that this one applied a reload (failures are logged, not returned). */
void vg_events_publish_reload(vg_events *ev);
/** Stops the listener and frees ev. */
void vg_events_stop(vg_events *ev);

#endif
