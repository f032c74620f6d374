/*
 * keycache.h - a small per-thread cache of authenticated keys, so a status poll does not re-read
 * its key from the store on every request.
 *
 * An entry is used for at most VG_KEYCACHE_TTL_MS, and never after vg_keycache_invalidate(), which
 * every change to a key (revoke, update, credit, debit) calls: within this process a change takes
 * effect on the next request. With several processes sharing a store, the other processes hear
 * of the change from the store's events (http/events.h) and invalidate too; the TTL bounds how
 * long a lost event can leave a revoked key accepted. While a process cannot hear events (its
 * listener lost the database) the cache is suspended: every request reads its key from the
 * store. Entries are keyed by the secret's SHA-256, never by the secret.
 *
 * Threads: entries are per thread; invalidate and suspend may be called from any thread (an
 * atomic generation and flag).
 */
#ifndef VG_HTTP_KEYCACHE_H
#define VG_HTTP_KEYCACHE_H
#include "store/store.h"

#include <stdbool.h>

#define VG_KEYCACHE_TTL_MS 1000

/** 1 and a deep copy in *out (free with vg_key_free) on a fresh hit; 0 otherwise. */
int vg_keycache_get(const char *hash, int64_t now_ms, vg_key *out);
/** The current generation: read it before reading a key from the store, and pass it to put. */
unsigned long vg_keycache_generation(void);
/** Remembers k (copied) for this thread, as read when the cache was at `generation`: a key
 * invalidated after that read (its change committed meanwhile) is not cached as fresh. */
void vg_keycache_put(const vg_key *k, int64_t now_ms, unsigned long generation);
/** Forgets every entry of every thread. */
void vg_keycache_invalidate(void);
/** While on, every lookup misses (and invalidates what was cached, at both edges). */
void vg_keycache_suspend(bool on);
/** Releases this thread's entries (call before the thread exits). */
void vg_keycache_thread_exit(void);

#endif
