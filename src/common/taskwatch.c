/*
 * taskwatch.c - see taskwatch.h.
 *
 * A chained hash table of (id, subscriber) entries under one mutex. Its size is the number of
 * (loop, task) pairs with a parked waiter, so a fixed bucket count is enough; the table is only
 * touched when a loop parks its first waiter of a task, drops its last, or a change is committed.
 */
#include "common/taskwatch.h"

#include "common/alloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define BUCKETS 4096

typedef struct entry {
    struct entry *next;
    const vg_taskwatch_sub *sub;
    char id[VG_TASKWATCH_ID_MAX + 1];
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *table[BUCKETS];
static atomic_long n_entries;

static entry **bucket(const char *id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return &table[h % BUCKETS];
}

vg_status vg_taskwatch_add(const vg_taskwatch_sub *sub, const char *task_id)
{
    if (strlen(task_id) > VG_TASKWATCH_ID_MAX) return VG_ERR;
    pthread_mutex_lock(&lock);
    entry **b = bucket(task_id);
    entry *e = *b;
    while (e && !(e->sub == sub && !strcmp(e->id, task_id)))
        e = e->next;
    if (!e) {
        e = vg_calloc(1, sizeof *e);
        e->sub = sub;
        strcpy(e->id, task_id);
        e->next = *b;
        *b = e;
        atomic_fetch_add(&n_entries, 1);
    }
    pthread_mutex_unlock(&lock);
    return VG_OK;
}

void vg_taskwatch_remove(const vg_taskwatch_sub *sub, const char *task_id)
{
    pthread_mutex_lock(&lock);
    for (entry **p = bucket(task_id); *p; p = &(*p)->next) {
        entry *e = *p;
        if (e->sub == sub && !strcmp(e->id, task_id)) {
            *p = e->next;
            free(e);
            atomic_fetch_sub(&n_entries, 1);
            break;
        }
    }
    pthread_mutex_unlock(&lock);
}

void vg_taskwatch_remove_all(const vg_taskwatch_sub *sub)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < BUCKETS; i++) {
        entry **p = &table[i];
        while (*p) {
            entry *e = *p;
            if (e->sub != sub) {
                p = &e->next;
                continue;
            }
            *p = e->next;
            free(e);
            atomic_fetch_sub(&n_entries, 1);
        }
    }
    pthread_mutex_unlock(&lock);
}

void vg_taskwatch_notify(const char *task_id)
{
    if (!task_id || atomic_load(&n_entries) == 0) return;
    pthread_mutex_lock(&lock);
    for (entry *e = *bucket(task_id); e; e = e->next)
        if (!strcmp(e->id, task_id)) e->sub->changed(e->sub->ud, task_id);
    pthread_mutex_unlock(&lock);
}

long vg_taskwatch_count(void)
{
    return atomic_load(&n_entries);
}
