/*
 * ratelimit.h - per-key request rate limit: a token bucket per key id holding up to `per_min`
 * requests, refilled continuously at per_min / 60 per second.
 *
 * Shared by every event loop: one mutex guards a fixed-size hash table (the critical section is
 * a probe and a little arithmetic). The buckets live in this process only, so the router uses
 * them only when the store keeps no shared ones (SQLite: one node); on PostgreSQL every node takes
 * from the key's bucket in the database (store.h: rate_take), same arithmetic.
 */
#ifndef VG_HTTP_RATELIMIT_H
#define VG_HTTP_RATELIMIT_H
#include <stdint.h>

/** Takes one request from key_id's bucket. 1 = allowed; 0 = over the limit, with the seconds
 *  until a request is allowed again in *retry_after_s. per_min <= 0 always allows. */
int vg_ratelimit_take(const char *key_id, int per_min, int64_t now_ms, int *retry_after_s);

#endif
