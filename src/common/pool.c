/* pool.c - see pool.h. */
#include "common/pool.h"

#include "common/alloc.h"
#include "common/log.h"
#include "common/wake.h"

#include <pthread.h>
#include <stdlib.h>

struct vg_pool {
    vg_pool_def def;
    vg_wake wake; /* idle threads wait here; its stop flag ends them */
    int started;
    pthread_t *threads;
};

static void *thread_main(void *arg)
{
    vg_pool *p = arg;
    void *state = p->def.thread_start ? p->def.thread_start(p->def.ud) : p;
    if (!state) return NULL;
    while (!vg_wake_stopping(&p->wake)) {
        int wait_ms = p->def.step(p->def.ud, state);
        if (wait_ms > 0) vg_wake_wait(&p->wake, wait_ms);
    }
    if (p->def.thread_end) p->def.thread_end(p->def.ud, state);
    return NULL;
}

vg_pool *vg_pool_new(const vg_pool_def *def)
{
    vg_pool *p = vg_calloc(1, sizeof *p);
    p->def = *def;
    if (p->def.threads < 1) p->def.threads = 1;
    vg_wake_init(&p->wake, (unsigned)p->def.threads);
    p->threads = vg_calloc((size_t)p->def.threads, sizeof *p->threads);
    return p;
}

int vg_pool_start(vg_pool *p)
{
    while (p->started < p->def.threads) {
        if (pthread_create(&p->threads[p->started], NULL, thread_main, p)) {
            vg_error("%s: cannot start a thread", p->def.name);
            break;
        }
        p->started++;
    }
    return p->started;
}

void vg_pool_notify(vg_pool *p)
{
    vg_wake_notify(&p->wake);
}

bool vg_pool_stopping(vg_pool *p)
{
    return vg_wake_stopping(&p->wake);
}

void vg_pool_stop(vg_pool *p)
{
    if (!p) return;
    vg_wake_stop(&p->wake);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    vg_wake_destroy(&p->wake);
    free(p);
}
