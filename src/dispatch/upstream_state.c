/*
 * upstream_state.c - the per-channel runtime state of the upstream loop and the timing built on
 * it (see upstream_int.h). This state only shapes timing (when to call, how often, how long to
 * back off); losing it in a crash costs nothing but a few early or late calls, which is why it
 * lives in memory only. Kept by channel name across SIGHUP reloads.
 */
#include "dispatch/upstream_int.h"

#include "common/clock.h"
#include "common/metrics.h"

#include <stdio.h>
#include <string.h>

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

uint32_t vg_ups_rand(vg_upstream *u) /* under u->lock */
{
    u->rng = u->rng * 1664525u + 1013904223u;
    return u->rng >> 4;
}

/* A jitter of ±pct % of v. */
static int64_t jitter(vg_upstream *u, int64_t v, int pct)
{
    pthread_mutex_lock(&u->lock);
    int64_t j = (int64_t)(vg_ups_rand(u) % (uint32_t)(2 * pct + 1)) - pct;
    pthread_mutex_unlock(&u->lock);
    return v * j / 100;
}

int64_t vg_ups_backoff(vg_upstream *u, int n, int64_t base, int64_t cap)
{
    int64_t d = base;
    for (int i = 0; i < n && d < cap; i++)
        d *= 2;
    d = clamp64(d, base, cap);
    return d + jitter(u, d, 20);
}

bool vg_ups_past_deadline(const vg_upstream *u, const vg_up_row *r, int64_t now_ms)
{
    return r->created_at + u->env.cfg->upstream_task_ttl_s < now_ms / 1000;
}

vg_upstream_endpoint vg_ups_endpoint(const vg_channel *c)
{
    return (vg_upstream_endpoint){.name = c->name,
                                  .base_url = c->base_url,
                                  .api_key = c->api_key,
                                  .timeout_ms = c->timeout_ms};
}

static vg_ups_chstate *state_of(vg_upstream *u, const char *name) /* under u->lock */
{
    for (int i = 0; i < u->set->n; i++)
        if (!strcmp(u->st[i].name, name)) return &u->st[i];
    return NULL;
}

void vg_ups_cooldown(vg_upstream *u, const char *name, int64_t until, bool fault)
{
    pthread_mutex_lock(&u->lock);
    vg_ups_chstate *c = state_of(u, name);
    if (c && until > c->cooldown_until) c->cooldown_until = until;
    if (c) c->faults = fault ? c->faults + 1 : 0;
    if (c) vg_metrics_channel_cooldown(name, c->cooldown_until);
    if (c && fault) c->errors++;
    pthread_mutex_unlock(&u->lock);
}

int vg_ups_faults(vg_upstream *u, const char *name)
{
    pthread_mutex_lock(&u->lock);
    vg_ups_chstate *c = state_of(u, name);
    int n = c ? c->faults : 0;
    pthread_mutex_unlock(&u->lock);
    return n;
}

static double expected_ms(vg_upstream *u, const char *name)
{
    pthread_mutex_lock(&u->lock);
    vg_ups_chstate *c = state_of(u, name);
    double e = c ? c->expected_ms : 60000;
    pthread_mutex_unlock(&u->lock);
    return e;
}

/* The first real sample replaces the configured guess outright (a guess of a minute against
 * 15 s tasks would otherwise take dozens of samples to wear off); later ones are averaged. */
void vg_ups_learn(vg_upstream *u, const char *name, int64_t sample_ms)
{
    pthread_mutex_lock(&u->lock);
    vg_ups_chstate *c = state_of(u, name);
    if (c && sample_ms > 0) {
        c->expected_ms =
            c->learned ? 0.8 * c->expected_ms + 0.2 * (double)sample_ms : (double)sample_ms;
        c->learned = true;
    }
    pthread_mutex_unlock(&u->lock);
}

/* The upstream's own times measure the run itself; when we noticed the success also counts our
 * polling lag, and learning that would stretch the next intervals, hence more lag: a spiral. */
int64_t vg_ups_run_sample(const vg_up_row *r, const vg_up_task *t, int64_t now)
{
    if (t->created_at > 0 && t->updated_at >= t->created_at)
        return (t->updated_at - t->created_at) * 1000; /* whole seconds: ±1 s, even on average */
    return r->accepted_at_ms ? now - r->accepted_at_ms : 0;
}

static bool learned(vg_upstream *u, const char *name)
{
    pthread_mutex_lock(&u->lock);
    vg_ups_chstate *c = state_of(u, name);
    bool l = c && c->learned;
    pthread_mutex_unlock(&u->lock);
    return l;
}

static double bucket_cap(const vg_channel *ch)
{
    return ch->requests_per_s * 2 < 1 ? 1 : ch->requests_per_s * 2;
}

/* The request budget: a token bucket per channel (rate requests_per_s, burst twice that). */
bool vg_ups_take(vg_upstream *u, const vg_channel *ch, bool force)
{
    pthread_mutex_lock(&u->lock);
    vg_ups_chstate *c = state_of(u, ch->name);
    bool ok = true;
    if (c) {
        int64_t now = vg_mono_ms();
        c->tokens += (double)(now - c->refilled_at) * ch->requests_per_s / 1000.0;
        if (c->tokens > bucket_cap(ch)) c->tokens = bucket_cap(ch);
        c->refilled_at = now;
        ok = force || c->tokens >= 1;
        if (ok) c->tokens -= 1; /* forced calls (fallback GETs) may run into debt */
        if (ok) c->requests++;
    }
    pthread_mutex_unlock(&u->lock);
    return ok;
}

/* When to poll a task next: half the time left to its expected finish, within the configured
 * bounds; past the expected finish the interval grows slowly again. Until the channel has seen a
 * task finish, every cycle (the guess may be far off, and a poll of a due batch is cheap). No
 * jitter: the scheduler polls by cycles (upstream_sched.c), which spreads nothing anyway. */
int64_t vg_ups_next_poll(vg_upstream *u, const vg_channel *ch, const vg_up_row *r, int64_t now)
{
    const vg_config *cfg = u->env.cfg;
    if (!learned(u, ch->name)) return now + cfg->upstream_poll_min_ms;
    int64_t start = r->accepted_at_ms > 0 ? r->accepted_at_ms : now;
    int64_t eta = start + (int64_t)expected_ms(u, ch->name);
    int64_t iv = eta > now ? (eta - now) / 2 : cfg->upstream_poll_min_ms + (now - eta) / 4;
    return now + clamp64(iv, cfg->upstream_poll_min_ms, cfg->upstream_poll_max_ms);
}

/* A progress figure for a running upstream task (Ark reports none): elapsed / expected. */
int vg_ups_progress(vg_upstream *u, const vg_channel *ch, const vg_up_row *r, int64_t now)
{
    if (!r->accepted_at_ms) return -1;
    double p = 5.0 + 90.0 * (double)(now - r->accepted_at_ms) / expected_ms(u, ch->name);
    return p > 95 ? 95 : (int)p;
}

/* Rebuilds the per-channel runtime state for a new set, keeping what it knew by name. */
void vg_ups_adopt_set(vg_upstream *u, vg_channels *set) /* under u->lock */
{
    vg_ups_chstate fresh[VG_MAX_CHANNELS];
    memset(fresh, 0, sizeof fresh);
    for (int i = 0; i < set->n; i++) {
        const vg_channel *c = &set->ch[i];
        vg_ups_chstate *old = u->set ? state_of(u, c->name) : NULL;
        if (old) {
            fresh[i] = *old;
        } else {
            snprintf(fresh[i].name, sizeof fresh[i].name, "%s", c->name);
            fresh[i].expected_ms = (double)c->expected_s * 1000;
            fresh[i].tokens = bucket_cap(c);
            fresh[i].refilled_at = vg_mono_ms();
        }
    }
    memcpy(u->st, fresh, sizeof fresh);
    vg_channels *old = u->set;
    u->set = set;
    vg_channels_unref(old);
}
