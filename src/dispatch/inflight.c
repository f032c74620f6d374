/* inflight.c - see inflight.h. Separate chaining over a fixed bucket array (FNV-1a). */
#include "dispatch/inflight.h"

#include "common/alloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 4096

typedef struct entry {
    struct entry *next;
    char id[48];
} entry;

struct vg_inflight {
    pthread_mutex_t lock;
    entry *bucket[BUCKETS];
};

static unsigned bucket_of(const char *id)
{
    unsigned h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % BUCKETS;
}

vg_inflight *vg_inflight_new(void)
{
    vg_inflight *f = vg_calloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

void vg_inflight_free(vg_inflight *f)
{
    if (!f) return;
    for (int b = 0; b < BUCKETS; b++)
        while (f->bucket[b]) {
            entry *e = f->bucket[b];
            f->bucket[b] = e->next;
            free(e);
        }
    pthread_mutex_destroy(&f->lock);
    free(f);
}

bool vg_inflight_has(vg_inflight *f, const char *id)
{
    bool found = false;
    pthread_mutex_lock(&f->lock);
    for (entry *e = f->bucket[bucket_of(id)]; e && !found; e = e->next)
        found = !strcmp(e->id, id);
    pthread_mutex_unlock(&f->lock);
    return found;
}

void vg_inflight_add(vg_inflight *f, const char *id)
{
    entry *e = vg_calloc(1, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    unsigned b = bucket_of(id);
    pthread_mutex_lock(&f->lock);
    e->next = f->bucket[b];
    f->bucket[b] = e;
    pthread_mutex_unlock(&f->lock);
}

void vg_inflight_remove(vg_inflight *f, const char *id)
{
    pthread_mutex_lock(&f->lock);
    for (entry **p = &f->bucket[bucket_of(id)]; *p; p = &(*p)->next)
        if (!strcmp((*p)->id, id)) {
            entry *e = *p;
            *p = e->next;
            free(e);
            break;
        }
    pthread_mutex_unlock(&f->lock);
}
