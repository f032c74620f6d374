/*
 * webhooks.h - the webhook delivery workers: a pool of threads that send the events of the outbox
 * (store.h: the final transitions write them) to their receivers, signed the Standard Webhooks way
 * (core/webhook.h), at least once.
 *
 * Each worker has its own store connection and libcurl handle and claims one due delivery at a
 * time under a lease, so a slow or dead receiver holds one worker for at most the attempt's
 * timeout (VG_WEBHOOK_TIMEOUT_MS) and never delays the deliveries the other workers claim.
 * An attempt that does not end in a 2xx is retried with exponential backoff and jitter
 * (vg_webhook_backoff_ms from backoff_ms) until VG_WEBHOOK_RETRY_WINDOW_S after the final status,
 * then marked failed; a destination the URL policy refuses fails at once.
 *
 * The body: built once, on the first attempt, from the committed task (the object is the API's,
 * supplied by the top through task_object, since the API sits above this module), stored with
 * the delivery, and repeated byte for byte by every retry and redelivery; only webhook-timestamp
 * and the signatures are made afresh for each attempt.
 *
 * Start-up releases this node's delivery leases (an attempt in flight died with the process):
 * those deliveries are sent again at once, with the same webhook-id.
 *
 * Thread-safety: vg_webhooks_notify() from any thread; start and stop by the owner.
 */
#ifndef VG_DISPATCH_WEBHOOKS_H
#define VG_DISPATCH_WEBHOOKS_H
#include "net/fetch.h"
#include "store/store.h"

#include <jansson.h>

typedef struct {
    int workers;         /* delivery threads (1..VG_WEBHOOK_MAX_WORKERS) */
    int64_t backoff_ms;  /* the first retry's wait; each later one doubles it */
    vg_fetch_opts fetch; /* the operator's policy for user-supplied URLs (timeout set here) */
    /** A new store connection (one per worker); NULL on failure. */
    vg_store *(*open_store)(void *ud);
    void *store_ud;
    /** The task object an event carries as data (new reference). Thread-safe. */
    json_t *(*task_object)(void *ud, const vg_task *t);
    void *object_ud;
} vg_webhooks_env;

typedef struct vg_webhooks vg_webhooks;

/** Releases this node's leases and starts the workers; NULL with a reason in err. */
vg_webhooks *vg_webhooks_start(const vg_webhooks_env *env, char *err, size_t errlen);
/** Work may be due (a final status was committed, a redelivery asked for). Cheap. */
void vg_webhooks_notify(vg_webhooks *w);
/** Stops the workers (an attempt in progress finishes) and frees w. NULL is a no-op. */
void vg_webhooks_stop(vg_webhooks *w);

#endif
