/*
 * upstream_health.c - a read-only snapshot of the upstream loop's per-channel state for operators
 * (GET /admin/channels): the configured channel, its call and error counters, the cool-down and
 * the learned run time. The state itself is kept by upstream_state.c; this file only copies it
 * out under the loop's lock, never holding it across anything slow.
 */
#include "dispatch/upstream_int.h"

#include "common/clock.h"

#include <stdio.h>
#include <string.h>

void vg_upstream_health_get(vg_upstream *u, vg_upstream_health out[VG_MAX_CHANNELS], int *n)
{
    *n = 0;
    if (!u) return;
    int64_t now = vg_now_ms(); /* cool-downs are wall-clock ms, like next_poll_at */
    pthread_mutex_lock(&u->lock);
    const vg_channels *set = u->set;
    for (int i = 0; set && i < set->n && i < VG_MAX_CHANNELS; i++) {
        const vg_channel *ch = &set->ch[i];
        const vg_ups_chstate *st = &u->st[i];
        vg_upstream_health *h = &out[(*n)++];
        memset(h, 0, sizeof *h);
        snprintf(h->name, sizeof h->name, "%s", ch->name);
        h->type = ch->type == VG_CH_LOCAL ? "local" : "ark";
        h->priority = ch->priority;
        h->weight = ch->weight;
        h->max_active = ch->max_active;
        h->n_models = ch->n_models;
        h->requests = st->requests;
        h->errors = st->errors;
        h->faults = st->faults;
        h->cooldown_ms = st->cooldown_until > now ? st->cooldown_until - now : 0;
        h->expected_ms = (int64_t)st->expected_ms;
        h->learned = st->learned;
    }
    pthread_mutex_unlock(&u->lock);
}
