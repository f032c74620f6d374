/* events.c - see events.h. */
#include "http/events.h"

#include "common/alloc.h"
#include "common/ids.h"
#include "common/limits.h"
#include "common/log.h"
#include "http/keycache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct vg_events {
    vg_events_env env;
    vg_store *listener; /* the thread's own */
    pthread_t thread;
    atomic_bool stop;
    bool lost;              /* (thread) the database went away; the key cache is suspended */
    char origin[VG_ID_MAX]; /* this process, in its reload announcements */
    pthread_mutex_t publish_lock;
    vg_store *publisher; /* opened at the first announcement; under publish_lock */
};

/* Sleeps ms in short slices, so that a stop is seen promptly. */
static void pause_ms(vg_events *ev, int ms)
{
    for (int left = ms; left > 0 && !atomic_load(&ev->stop); left -= 50) {
        struct timespec t = {0, (left < 50 ? left : 50) * 1000000L};
        nanosleep(&t, NULL);
    }
}

static void on_topic(vg_events *ev, const char *topic)
{
    static const char reload[] = VG_STORE_TOPIC_RELOAD " ";
    if (!strcmp(topic, VG_STORE_TOPIC_KEYS)) {
        vg_keycache_invalidate();
    } else if (!strncmp(topic, reload, sizeof reload - 1)) {
        if (strcmp(topic + sizeof reload - 1, ev->origin) != 0) ev->env.reload(ev->env.reload_ud);
    } else if (!strcmp(topic, VG_STORE_TOPIC_ALL)) {
        /* Subscribed again after losing the database: what was published meanwhile is lost. */
        vg_keycache_suspend(false);
        ev->lost = false;
        vg_info("events: the database is back; cached keys dropped, configuration reloaded");
        ev->env.reload(ev->env.reload_ud);
    }
}

static void *listen_loop(void *ud)
{
    vg_events *ev = ud;
    int backoff = VG_EVENTS_BACKOFF_MIN_MS;
    char topic[VG_EVENTS_TOPIC_BYTES];
    while (!atomic_load(&ev->stop)) {
        vg_status rc = vg_store_listen_wait(ev->listener, VG_EVENTS_WAIT_MS, topic, sizeof topic);
        if (rc == VG_OK) {
            backoff = VG_EVENTS_BACKOFF_MIN_MS;
            on_topic(ev, topic);
            continue;
        }
        if (rc == VG_NOTFOUND) continue;
        if (!ev->lost) {
            ev->lost = true;
            vg_keycache_suspend(true);
            vg_warn("events: lost the database; keys are read from the store until it is back");
        }
        pause_ms(ev, backoff);
        backoff = backoff * 2 < VG_EVENTS_BACKOFF_MAX_MS ? backoff * 2 : VG_EVENTS_BACKOFF_MAX_MS;
    }
    return NULL;
}

vg_status vg_events_start(const vg_events_env *env, vg_events **out, char *err, size_t errlen)
{
    *out = NULL;
    vg_store *s = env->open_store(env->store_ud);
    if (!s) return snprintf(err, errlen, "events: cannot open the store"), VG_ERR;
    char topic[VG_EVENTS_TOPIC_BYTES];
    vg_status rc = vg_store_listen_wait(s, 0, topic, sizeof topic);
    if (rc == VG_INVALID) { /* one node: nobody to hear from */
        vg_store_close(s);
        return VG_OK;
    }
    vg_events *ev = vg_calloc(1, sizeof *ev);
    ev->env = *env;
    ev->listener = s;
    vg_id_new("node_", ev->origin);
    pthread_mutex_init(&ev->publish_lock, NULL);
    /* Subscribed now (VG_OK, "*": nothing to catch up on at start), or not yet: then the cache
     * waits for the subscription, as after a loss. */
    if (rc != VG_OK) {
        ev->lost = true;
        vg_keycache_suspend(true);
    }
    if (pthread_create(&ev->thread, NULL, listen_loop, ev)) {
        snprintf(err, errlen, "events: cannot start the listener thread");
        vg_store_close(s);
        pthread_mutex_destroy(&ev->publish_lock);
        free(ev);
        return VG_ERR;
    }
    *out = ev;
    return VG_OK;
}

void vg_events_publish_reload(vg_events *ev)
{
    if (!ev) return;
    char topic[VG_EVENTS_TOPIC_BYTES];
    snprintf(topic, sizeof topic, "%s %s", VG_STORE_TOPIC_RELOAD, ev->origin);
    pthread_mutex_lock(&ev->publish_lock);
    if (!ev->publisher) ev->publisher = ev->env.open_store(ev->env.store_ud);
    vg_status rc = ev->publisher ? vg_store_notify(ev->publisher, topic) : VG_AGAIN;
    pthread_mutex_unlock(&ev->publish_lock);
    if (rc != VG_OK)
        vg_warn("events: the reload could not be announced to the other nodes (the database is "
                "unreachable): nodes that kept it reload only when told (SIGHUP)");
}

void vg_events_stop(vg_events *ev)
{
    if (!ev) return;
    atomic_store(&ev->stop, true);
    pthread_join(ev->thread, NULL);
    vg_store_close(ev->listener);
    vg_store_close(ev->publisher);
    pthread_mutex_destroy(&ev->publish_lock);
    free(ev);
}
