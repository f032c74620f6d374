/* keycache.c - see keycache.h. */
#include "http/keycache.h"

#include "common/alloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 256

typedef struct {
    vg_key key;
    int64_t stored_ms;
    unsigned long generation;
    int used;
} slot;

static atomic_ulong generation = 1;
static atomic_bool suspended;
static _Thread_local slot slots[SLOTS];

static unsigned index_of(const char *hash)
{
    unsigned v = 0;
    for (int i = 0; i < 4 && hash[i]; i++)
        v = v * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return v % SLOTS;
}

static void copy_key(vg_key *dst, const vg_key *src)
{
    *dst = *src;
    dst->allowed_models = vg_strdup(src->allowed_models);
    dst->webhook_url = vg_strdup(src->webhook_url);
}

int vg_keycache_get(const char *hash, int64_t now_ms, vg_key *out)
{
    slot *s = &slots[index_of(hash)];
    if (atomic_load(&suspended) || !s->used || s->generation != atomic_load(&generation) ||
        now_ms - s->stored_ms > VG_KEYCACHE_TTL_MS || strcmp(s->key.hash, hash) != 0)
        return 0;
    copy_key(out, &s->key);
    return 1;
}

unsigned long vg_keycache_generation(void)
{
    return atomic_load(&generation);
}

void vg_keycache_put(const vg_key *k, int64_t now_ms, unsigned long gen)
{
    slot *s = &slots[index_of(k->hash)];
    if (s->used) vg_key_free(&s->key);
    copy_key(&s->key, k);
    s->stored_ms = now_ms;
    s->generation = gen; /* an older one than the current makes the entry dead at once */
    s->used = 1;
}

void vg_keycache_invalidate(void)
{
    atomic_fetch_add(&generation, 1);
}

void vg_keycache_suspend(bool on)
{
    atomic_store(&suspended, on);
    atomic_fetch_add(&generation, 1); /* what was cached before or during it is not used again */
}

void vg_keycache_thread_exit(void)
{
    for (int i = 0; i < SLOTS; i++) {
        if (slots[i].used) vg_key_free(&slots[i].key);
        slots[i].used = 0;
    }
}
