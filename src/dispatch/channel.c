/*
 * channel.c - see channel.h. A channel's scalar settings are one table (key, kind, range, where);
 * "models" and "result_hosts" are read by their own functions.
 */
#include "dispatch/channel.h"

#include "common/alloc.h"
#include "core/models.h"

#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { F_STR, F_INT, F_NUM } field_kind;

static const struct {
    const char *key;
    field_kind kind;
    size_t off, size;
    double lo, hi;
} g_fields[] = {
    {"name", F_STR, offsetof(vg_channel, name), sizeof(((vg_channel *)0)->name), 1, 63},
    {"base_url", F_STR, offsetof(vg_channel, base_url), sizeof(((vg_channel *)0)->base_url), 8,
     511},
    {"api_key_env", F_STR, offsetof(vg_channel, api_key_env),
     sizeof(((vg_channel *)0)->api_key_env), 1, 127},
    {"priority", F_INT, offsetof(vg_channel, priority), 0, -1000000, 1000000},
    {"weight", F_INT, offsetof(vg_channel, weight), 0, 1, 1000000},
    {"max_active", F_INT, offsetof(vg_channel, max_active), 0, 0, 10000000},
    {"expected_s", F_INT, offsetof(vg_channel, expected_s), 0, 1, 86400},
    {"timeout_ms", F_NUM, offsetof(vg_channel, timeout_ms), 0, 100, VG_UPSTREAM_TIMEOUT_MS},
    {"requests_per_s", F_NUM, offsetof(vg_channel, requests_per_s), 0, 0.01, 100000},
};
#define N_FIELDS (sizeof g_fields / sizeof g_fields[0])

static const struct {
    const char *name;
    vg_channel_type type;
    const vg_provider *provider;
} g_types[] = {
    {"local", VG_CH_LOCAL, &vg_provider_local},
    {"ark", VG_CH_ARK, &vg_provider_ark},
};

const vg_provider *vg_channel_type_provider(vg_channel_type type)
{
    for (size_t i = 0; i < sizeof g_types / sizeof g_types[0]; i++)
        if (g_types[i].type == type) return g_types[i].provider;
    return NULL;
}

bool vg_channels_all_local(const vg_channels *s)
{
    return !s->any_upstream && s->local >= 0 && s->ch[s->local].n_models == 0;
}

static int set_field(vg_channel *c, size_t i, const json_t *v, char *err, size_t errlen)
{
    char *dst = (char *)c + g_fields[i].off;
    const char *key = g_fields[i].key;
    if (g_fields[i].kind == F_STR) {
        const char *s = json_string_value(v);
        size_t n = s ? strlen(s) : 0;
        if (!s || n < g_fields[i].lo || n > g_fields[i].hi)
            return snprintf(err, errlen, "%s must be a string of %g to %g bytes", key,
                            g_fields[i].lo, g_fields[i].hi),
                   -1;
        memcpy(dst, s, n + 1);
        return 0;
    }
    double d = json_number_value(v);
    if (!json_is_number(v) || d < g_fields[i].lo || d > g_fields[i].hi ||
        (g_fields[i].kind == F_INT && !json_is_integer(v)))
        return snprintf(err, errlen, "%s must be a number from %g to %g", key, g_fields[i].lo,
                        g_fields[i].hi),
               -1;
    if (g_fields[i].kind == F_INT)
        *(int *)dst = (int)d;
    else if (!strcmp(key, "timeout_ms"))
        *(long *)dst = (long)d;
    else
        *(double *)dst = d;
    return 0;
}

static int read_models(vg_channel *c, const json_t *v, char *err, size_t errlen)
{
    if (!json_is_object(v) || json_object_size(v) > VG_MAX_CHANNEL_MODELS)
        return snprintf(err, errlen, "models must be an object of at most %d names",
                        VG_MAX_CHANNEL_MODELS),
               -1;
    const char *k;
    const json_t *id;
    json_object_foreach((json_t *)v, k, id)
    {
        const char *s = json_string_value(id); /* names are checked against the table after */
        if (!s || !*s || strlen(s) >= sizeof c->models[0].upstream || strlen(k) >= 64)
            return snprintf(err, errlen, "models.%s must be a non-empty model id", k), -1;
        snprintf(c->models[c->n_models].name, sizeof c->models[0].name, "%s", k);
        snprintf(c->models[c->n_models].upstream, sizeof c->models[0].upstream, "%s", s);
        c->n_models++;
    }
    return 0;
}

static int read_hosts(vg_channel *c, const json_t *v, char *err, size_t errlen)
{
    size_t i;
    const json_t *h;
    if (!json_is_array(v) || json_array_size(v) > 4)
        return snprintf(err, errlen, "result_hosts must be an array of at most 4 hosts"), -1;
    json_array_foreach(v, i, h)
    {
        const char *s = json_string_value(h);
        if (!s || !*s || strlen(s) >= sizeof c->result_hosts[0])
            return snprintf(err, errlen, "result_hosts[%zu] must be a host name", i), -1;
        snprintf(c->result_hosts[c->n_result_hosts++], sizeof c->result_hosts[0], "%s", s);
    }
    return 0;
}

static int read_type(vg_channel *c, const json_t *v, char *err, size_t errlen)
{
    const char *t = json_string_value(v);
    for (size_t i = 0; t && i < sizeof g_types / sizeof g_types[0]; i++)
        if (!strcmp(g_types[i].name, t)) {
            c->type = g_types[i].type;
            c->provider = g_types[i].provider;
            return 0;
        }
    return snprintf(err, errlen, "type must be \"local\" or \"ark\""), -1;
}

static int read_key(vg_channel *c, const char *key, const json_t *v, char *err, size_t errlen)
{
    if (!strcmp(key, "type")) return read_type(c, v, err, errlen);
    if (!strcmp(key, "models")) return read_models(c, v, err, errlen);
    if (!strcmp(key, "result_hosts")) return read_hosts(c, v, err, errlen);
    for (size_t i = 0; i < N_FIELDS; i++)
        if (!strcmp(g_fields[i].key, key)) return set_field(c, i, v, err, errlen);
    return snprintf(err, errlen, "unknown setting \"%s\"", key), -1;
}

/* Checks what a type requires and reads the key from the environment. */
static int complete(vg_channel *c, char *err, size_t errlen)
{
    if (!c->name[0]) return snprintf(err, errlen, "name is required"), -1;
    if (!c->provider) return snprintf(err, errlen, "type is required"), -1;
    if (c->type == VG_CH_LOCAL) return 0;
    size_t n = strlen(c->base_url);
    while (n && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    if (strncmp(c->base_url, "https://", 8) && strncmp(c->base_url, "http://", 7))
        return snprintf(err, errlen, "base_url must be an http(s) URL"), -1;
    if (!c->api_key_env[0]) return snprintf(err, errlen, "api_key_env is required"), -1;
    if (!c->n_models) return snprintf(err, errlen, "models is required"), -1;
    const char *key = getenv(c->api_key_env);
    if (!key || !*key || strlen(key) >= sizeof c->api_key)
        return snprintf(err, errlen, "the environment variable %s (api_key_env) is not set",
                        c->api_key_env),
               -1;
    snprintf(c->api_key, sizeof c->api_key, "%s", key);
    return 0;
}

static int read_channel(vg_channel *c, const json_t *obj, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->weight = 1;
    c->timeout_ms = VG_UPSTREAM_TIMEOUT_MS;
    c->requests_per_s = 10;
    c->expected_s = 60;
    if (!json_is_object(obj)) return snprintf(err, errlen, "must be an object"), -1;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v) if (read_key(c, k, v, err, errlen)) return -1;
    return complete(c, err, errlen);
}

static void add_default_local(vg_channels *s)
{
    vg_channel *c = &s->ch[s->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "local");
    c->type = VG_CH_LOCAL;
    c->provider = vg_channel_type_provider(VG_CH_LOCAL);
    c->weight = 1;
    c->expected_s = 10;
}

/* Every model a channel names must be in the model table the set is built for. */
static int check_models(const vg_channels *s, const vg_models_table *models, char *err,
                        size_t errlen)
{
    for (int i = 0; i < s->n; i++)
        for (int j = 0; j < s->ch[i].n_models; j++)
            if (!vg_models_table_find(models, s->ch[i].models[j].name))
                return snprintf(err, errlen,
                                "channels[%d]: models: %s is not a model of the model table", i,
                                s->ch[i].models[j].name),
                       -1;
    return 0;
}

vg_channels *vg_channels_build(const json_t *arr, char *err, size_t errlen)
{
    return vg_channels_build_for(arr, NULL, err, errlen);
}

vg_channels *vg_channels_build_for(const json_t *arr, const vg_models_table *models, char *err,
                                   size_t errlen)
{
    vg_channels *s = vg_calloc(1, sizeof *s);
    atomic_init(&s->refs, 1);
    s->local = -1;
    if (!arr) add_default_local(s);
    if (arr && (!json_is_array(arr) || json_array_size(arr) == 0 ||
                json_array_size(arr) > VG_MAX_CHANNELS)) {
        snprintf(err, errlen, "channels must be an array of 1 to %d channels", VG_MAX_CHANNELS);
        goto fail;
    }
    size_t i;
    const json_t *obj;
    json_array_foreach(arr, i, obj)
    {
        char why[256] = "";
        vg_channel *c = &s->ch[s->n];
        if (read_channel(c, obj, why, sizeof why)) {
            snprintf(err, errlen, "channels[%zu]: %s", i, why);
            goto fail;
        }
        if (vg_channels_find(s, c->name)) {
            snprintf(err, errlen, "channels[%zu]: the name %s is used twice", i, c->name);
            goto fail;
        }
        if (c->type == VG_CH_LOCAL && s->local >= 0) {
            snprintf(err, errlen, "channels[%zu]: only one local channel may exist", i);
            goto fail;
        }
        if (c->type == VG_CH_LOCAL) s->local = s->n;
        if (c->type != VG_CH_LOCAL) s->any_upstream = true;
        s->n++;
    }
    if (!arr) s->local = 0;
    if (check_models(s, models, err, errlen)) goto fail;
    return s;
fail:
    free(s);
    return NULL;
}

vg_channels *vg_channels_ref(vg_channels *s)
{
    if (s) atomic_fetch_add(&s->refs, 1);
    return s;
}

void vg_channels_unref(vg_channels *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        memset(s->ch, 0, sizeof s->ch); /* the keys */
        free(s);
    }
}

const vg_channel *vg_channels_find(const vg_channels *s, const char *name)
{
    for (int i = 0; s && name && i < s->n; i++)
        if (!strcmp(s->ch[i].name, name)) return &s->ch[i];
    return NULL;
}

const char *vg_channel_model(const vg_channel *c, const char *model)
{
    if (c->type == VG_CH_LOCAL && c->n_models == 0) return model;
    for (int i = 0; i < c->n_models; i++)
        if (!strcmp(c->models[i].name, model))
            return c->type == VG_CH_LOCAL ? model : c->models[i].upstream;
    return NULL;
}

int vg_channel_pick(const vg_channels *s, const char *model, const int64_t *active,
                    const int64_t *cooldown_until, int64_t now_ms, const char *avoid, uint32_t rnd,
                    bool *served)
{
    *served = false;
    int best = -1, avoided = -1;
    int64_t weight_sum = 0;
    for (int i = 0; i < s->n; i++) {
        const vg_channel *c = &s->ch[i];
        if (!vg_channel_model(c, model)) continue;
        *served = true;
        if (cooldown_until[i] > now_ms) continue;
        if (c->max_active > 0 && active[i] >= c->max_active) continue;
        if (avoid && *avoid && !strcmp(avoid, c->name)) {
            avoided = i;
            continue;
        }
        if (best >= 0 && c->priority < s->ch[best].priority) continue;
        if (best < 0 || c->priority > s->ch[best].priority) {
            best = i;
            weight_sum = c->weight;
            continue;
        }
        /* Equal priority: keep each candidate with probability weight / running sum, which
         * picks every one in proportion to its weight (one pass, one random number). */
        weight_sum += c->weight;
        if ((int64_t)(rnd % (uint32_t)weight_sum) < c->weight) best = i;
        rnd = rnd * 1664525u + 1013904223u;
    }
    return best >= 0 ? best : avoided;
}

static bool host_of(const char *url, char *out, size_t cap)
{
    CURLU *u = curl_url();
    char *host = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && strlen(host) < cap;
    if (ok) snprintf(out, cap, "%s", host);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

bool vg_channel_trusts_url(const vg_channel *c, const char *url)
{
    char host[256], base[256];
    if (!host_of(url, host, sizeof host)) return false;
    if (host_of(c->base_url, base, sizeof base) && !strcasecmp(host, base)) return true;
    for (int i = 0; i < c->n_result_hosts; i++)
        if (!strcasecmp(host, c->result_hosts[i])) return true;
    return false;
}

json_t *vg_channels_to_json(const vg_channels *s)
{
    json_t *arr = json_array();
    for (int i = 0; i < s->n; i++) {
        const vg_channel *c = &s->ch[i];
        json_t *models = json_object();
        for (int k = 0; k < c->n_models; k++)
            json_object_set_new(models, c->models[k].name, json_string(c->models[k].upstream));
        json_t *j = json_pack("{s:s, s:s, s:i, s:i, s:i, s:o}", "name", c->name, "type",
                              c->provider->name, "priority", c->priority, "weight", c->weight,
                              "max_active", c->max_active, "models", models);
        if (c->type != VG_CH_LOCAL) {
            json_object_set_new(j, "base_url", json_string(c->base_url));
            json_object_set_new(j, "api_key_env", json_string(c->api_key_env));
        }
        json_array_append_new(arr, j);
    }
    return arr;
}
