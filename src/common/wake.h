/*
 * wake.h - how idle worker threads wait for work: a notification count guarded by a mutex and a
 * condition variable, so a notify sent while every worker is busy is not lost, plus a stop flag.
 *
 * Workers loop "look for work; if none, vg_wake_wait()"; producers call vg_wake_notify() after
 * they commit work; vg_wake_stop() wakes every waiter for good. All functions are thread-safe.
 */
#ifndef VG_WAKE_H
#define VG_WAKE_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned pending;     /* notifications not yet consumed */
    unsigned max_pending; /* more than one per worker would only cause empty wake-ups */
    atomic_bool stopping;
} vg_wake;

void vg_wake_init(vg_wake *w, unsigned max_pending);
void vg_wake_destroy(vg_wake *w);
/** Records one notification and wakes one waiter. */
void vg_wake_notify(vg_wake *w);
/** Returns after a notification (consuming it), vg_wake_stop(), or timeout_ms. */
void vg_wake_wait(vg_wake *w, int timeout_ms);
/** Sets the stop flag and wakes every waiter. */
void vg_wake_stop(vg_wake *w);
static inline bool vg_wake_stopping(vg_wake *w)
{
    return atomic_load(&w->stopping);
}

#endif
