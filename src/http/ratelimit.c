/* ratelimit.c - see ratelimit.h. */
#include "http/ratelimit.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define SLOTS 4096 /* keys with a limit that can be tracked at once */

typedef struct {
    char key_id[48];
    double tokens;
    int64_t last_ms;
} bucket;

static bucket table[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* The key's bucket, or a free or stale slot taken over for it (linear probing). */
static bucket *find(const char *key_id, int64_t now_ms)
{
    uint32_t h = hash(key_id);
    bucket *oldest = NULL;
    for (uint32_t i = 0; i < 16; i++) {
        bucket *b = &table[(h + i) % SLOTS];
        if (!strcmp(b->key_id, key_id)) return b;
        if (!b->key_id[0] || !oldest || b->last_ms < oldest->last_ms) oldest = b;
        if (!b->key_id[0]) break;
    }
    /* A bucket idle for a minute is full again, so reusing it loses nothing. */
    if (oldest->key_id[0] && now_ms - oldest->last_ms < 60000) return NULL;
    snprintf(oldest->key_id, sizeof oldest->key_id, "%s", key_id);
    oldest->tokens = -1; /* marks "new": filled below */
    oldest->last_ms = now_ms;
    return oldest;
}

int vg_ratelimit_take(const char *key_id, int per_min, int64_t now_ms, int *retry_after_s)
{
    if (per_min <= 0) return 1;
    pthread_mutex_lock(&lock);
    bucket *b = find(key_id, now_ms);
    int ok = 1;
    if (b) {
        double rate = per_min / 60000.0; /* tokens per ms */
        if (b->tokens < 0) b->tokens = per_min;
        b->tokens += (double)(now_ms - b->last_ms) * rate;
        if (b->tokens > per_min) b->tokens = per_min;
        b->last_ms = now_ms;
        if (b->tokens >= 1) {
            b->tokens -= 1;
        } else {
            ok = 0;
            *retry_after_s = (int)((1 - b->tokens) / rate / 1000) + 1;
        }
    }
    pthread_mutex_unlock(&lock);
    return ok;
}
