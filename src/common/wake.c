/* wake.c - see wake.h. */
#include "common/wake.h"

#include <time.h>

void vg_wake_init(vg_wake *w, unsigned max_pending)
{
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->pending = 0;
    w->max_pending = max_pending ? max_pending : 1;
    atomic_store(&w->stopping, false);
}

void vg_wake_destroy(vg_wake *w)
{
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
}

void vg_wake_notify(vg_wake *w)
{
    pthread_mutex_lock(&w->lock);
    if (w->pending < w->max_pending) w->pending++;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

void vg_wake_wait(vg_wake *w, int timeout_ms)
{
    pthread_mutex_lock(&w->lock);
    if (w->pending == 0 && !atomic_load(&w->stopping)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += timeout_ms / 1000;
        ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    if (w->pending) w->pending--;
    pthread_mutex_unlock(&w->lock);
}

void vg_wake_stop(vg_wake *w)
{
    atomic_store(&w->stopping, true);
    pthread_mutex_lock(&w->lock);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}
