/*
 * batch.c - see batch.h.
 *
 * The queue is a singly linked list with a tail pointer under one mutex; the writer waits on a
 * condition variable while it is empty. The writer detaches at most VG_MAX_SUBMIT_BATCH jobs per
 * round into a local array of requests, so the lock is never held across the database.
 */
#include "store/batch.h"

#include "common/alloc.h"
#include "common/limits.h"
#include "common/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct vg_store_batch {
    vg_store *store;
    void (*committed)(void *ud);
    void *ud;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    vg_batch_job *head, *tail;
    bool stopping;
    vg_task_create_req reqs[VG_MAX_SUBMIT_BATCH]; /* the writer's */
};

/* Takes up to VG_MAX_SUBMIT_BATCH queued jobs, oldest first; waits while there are none. */
static size_t take(vg_store_batch *b, vg_batch_job **jobs)
{
    size_t n = 0;
    pthread_mutex_lock(&b->lock);
    while (!b->head && !b->stopping)
        pthread_cond_wait(&b->cond, &b->lock);
    while (b->head && n < VG_MAX_SUBMIT_BATCH) {
        jobs[n++] = b->head;
        b->head = b->head->next;
    }
    if (!b->head) b->tail = NULL;
    pthread_mutex_unlock(&b->lock);
    return n;
}

static void commit(vg_store_batch *b, vg_batch_job **jobs, size_t n)
{
    vg_task_create_req *reqs = b->reqs;
    for (size_t i = 0; i < n; i++)
        reqs[i] = jobs[i]->req;
    vg_status rc = vg_store_task_create_batch(b->store, reqs, n);
    if (rc != VG_OK) vg_error("submit batch of %zu task(s) not committed (%d)", n, rc);
    bool created = false;
    for (size_t i = 0; i < n; i++)
        created = created || reqs[i].rc == VG_OK;
    /* Wake the takers first: by the time a client hears 200 the dispatcher is on its way. */
    if (created && b->committed) b->committed(b->ud);
    for (size_t i = 0; i < n; i++) {
        jobs[i]->req.rc = reqs[i].rc;
        jobs[i]->done(jobs[i]); /* may free the job */
    }
}

static void *writer(void *arg)
{
    vg_store_batch *b = arg;
    vg_batch_job *jobs[VG_MAX_SUBMIT_BATCH];
    size_t n;
    while ((n = take(b, jobs)) > 0)
        commit(b, jobs, n);
    return NULL;
}

vg_store_batch *vg_store_batch_start(vg_store *s, void (*committed)(void *ud), void *ud)
{
    if (!s || !vg_store_batches_creates(s)) return NULL;
    vg_store_batch *b = vg_calloc(1, sizeof *b);
    b->store = s;
    b->committed = committed;
    b->ud = ud;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    if (pthread_create(&b->thread, NULL, writer, b)) {
        vg_error("cannot start the submit writer thread");
        pthread_cond_destroy(&b->cond);
        pthread_mutex_destroy(&b->lock);
        vg_store_close(s);
        free(b);
        return NULL;
    }
    return b;
}

void vg_store_batch_submit(vg_store_batch *b, vg_batch_job *j)
{
    j->next = NULL;
    pthread_mutex_lock(&b->lock);
    if (b->tail)
        b->tail->next = j;
    else
        b->head = j;
    b->tail = j;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

void vg_store_batch_stop(vg_store_batch *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    pthread_cond_destroy(&b->cond);
    pthread_mutex_destroy(&b->lock);
    vg_store_close(b->store);
    free(b);
}
