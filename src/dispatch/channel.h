/*
 * channel.h - channels: the places a task can run. A channel is the local engine or one upstream
 * account (type "ark": a base URL, a key, a map from our model names to its model ids), with a
 * priority, a weight and a cap on active tasks. The configuration file lists them:
 *
 *   "channels": [
 *     {"name": "local", "type": "local"},
 *     {"name": "ark-intl", "type": "ark", "base_url":
 * "https://ark.ap-southeast.bytepluses.com/api/v3", "api_key_env": "ARK_API_KEY", "models":
 * {"doubao-seedance-2-0": "dreamina-seedance-2-0-260128"}, "priority": 10, "weight": 1,
 * "max_active": 100}
 *   ]
 *
 * Optional per channel: "timeout_ms" (one upstream call, default 30000), "requests_per_s" (the
 * request budget toward that account, default 10, burst twice that), "expected_s" (a first guess
 * of a task's run time before any has finished, default 60), "result_hosts" (hosts besides the
 * base URL's whose result URLs are trusted, see vg_channel_trusts_url). A local channel's "models"
 * is optional (absent = every model); at most one local channel exists (it is this process's
 * engine). Without "channels", the set is one local channel named "local".
 *
 * Keys: api_key_env names an environment variable; its value is read when the set is built and
 * never printed. A set is immutable and reference-counted: SIGHUP builds a new one and swaps it
 * in (vg_upstream_reload), while work in flight keeps the set it started with.
 *
 * Picking: the channels that serve the model, are not cooling down and are under max_active;
 * the highest priority wins; among equal priorities the weight decides (weighted random); a
 * channel the task should avoid (it just refused it) is taken only when no other qualifies.
 */
#ifndef VG_DISPATCH_CHANNEL_H
#define VG_DISPATCH_CHANNEL_H
#include "common/limits.h"
#include "core/models.h"
#include "providers/provider.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { VG_CH_LOCAL, VG_CH_ARK } vg_channel_type;

typedef struct {
    char name[64];
    vg_channel_type type;
    const vg_provider *provider;
    char base_url[512]; /* no trailing slash */
    char api_key_env[128];
    char api_key[512]; /* the secret; never printed */
    struct {
        char name[64];      /* our public model name */
        char upstream[128]; /* the channel's id for it */
    } models[VG_MAX_CHANNEL_MODELS];
    int n_models; /* 0 on a local channel = every model */
    int priority, weight, max_active;
    long timeout_ms;
    double requests_per_s;
    int expected_s;
    char result_hosts[4][256];
    int n_result_hosts;
} vg_channel;

typedef struct {
    atomic_int refs;
    int n;
    vg_channel ch[VG_MAX_CHANNELS];
    int local; /* index of the local channel, -1 when none */
    bool any_upstream;
} vg_channels;

/**
 * Builds a set from the "channels" array (NULL = the default: one local channel). Reads each
 * api_key_env from the environment. NULL with a reason in err when the array is invalid (unknown
 * type, duplicate name, missing base_url/api_key_env/models, unset key variable, unknown model…).
 * The new set has one reference.
 */
vg_channels *vg_channels_build(const json_t *arr, char *err, size_t errlen);
/** The same, with the models checked against `models` (NULL = the current table): a reload
 *  validates channels against the model table it is about to install. */
vg_channels *vg_channels_build_for(const json_t *arr, const vg_models_table *models, char *err,
                                   size_t errlen);
vg_channels *vg_channels_ref(vg_channels *s);
void vg_channels_unref(vg_channels *s);

/** The provider the channel table gives a type (local → the engine, ark → Ark). */
const vg_provider *vg_channel_type_provider(vg_channel_type type);

/** Whether every task can only go to the local engine: no upstream channel, and a local
 *  channel that serves every model. */
bool vg_channels_all_local(const vg_channels *s);

/** The channel named name, or NULL. */
const vg_channel *vg_channels_find(const vg_channels *s, const char *name);
/** The channel's id for our model name, or NULL when it does not serve it. A local channel
 *  serves every model unless it lists some (and then returns the name itself). */
const char *vg_channel_model(const vg_channel *c, const char *model);

/**
 * Picks a channel index for a model (see the header note). active[i] and cooldown_until[i]
 * describe channel i (ms). rnd is a random number for the weighted choice. Returns -1 when none
 * qualifies now; *served tells whether any channel serves the model at all.
 */
int vg_channel_pick(const vg_channels *s, const char *model, const int64_t *active,
                    const int64_t *cooldown_until, int64_t now_ms, const char *avoid, uint32_t rnd,
                    bool *served);

/**
 * Whether a result URL of this channel may be fetched as trusted (loopback/private destinations
 * and plain http allowed): its host is the base URL's host or one of result_hosts. Other URLs are
 * fetched under the ordinary SSRF policy (fetch.h), like any user-supplied URL.
 */
bool vg_channel_trusts_url(const vg_channel *c, const char *url);

/** The set as JSON for logs and --print-config: names, types, models, limits; no keys. */
json_t *vg_channels_to_json(const vg_channels *s);

#endif
