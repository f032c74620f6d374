/*
 * callbacks.c - the callback thread: POSTs queued callbacks (the task object) to their
 * callback_url, oldest first, once each; loopback/private destinations only with
 * --callback-allow-private. The queue is under g_sim.lock; the lock is released while sending.
 */
#include "tools/ark-sim/sim.h"

#include "net/http_client.h"

#include <stdlib.h>
#include <time.h>

void *sim_callbacks_main(void *arg)
{
    (void)arg;
    vg_http_client *hc = vg_http_client_new();
    pthread_mutex_lock(&g_sim.lock);
    while (!g_sim_stop) {
        cb_item *it = g_sim.cb_head;
        if (!it) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&g_sim.cb_wake, &g_sim.lock, &ts);
            continue;
        }
        g_sim.cb_head = it->next;
        if (!g_sim.cb_head) g_sim.cb_tail = NULL;
        pthread_mutex_unlock(&g_sim.lock);
        vg_http_req rq = {.method = "POST",
                          .url = it->url,
                          .body = it->body,
                          .timeout_ms = 5000,
                          .public_only = !g_sim.o.callback_private};
        vg_http_resp rs;
        int rc = vg_http_do(hc, &rq, &rs);
        bool ok = rc == VG_OK && rs.status >= 200 && rs.status < 300;
        vg_http_resp_free(&rs);
        free(it->url);
        free(it->body);
        free(it);
        pthread_mutex_lock(&g_sim.lock);
        if (ok)
            g_sim.callbacks_sent++;
        else
            g_sim.callbacks_failed++;
    }
    pthread_mutex_unlock(&g_sim.lock);
    vg_http_client_free(hc);
    return NULL;
}
