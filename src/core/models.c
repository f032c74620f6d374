/*
 * models.c - the model, size and price tables (spec §2, §7); see models.h.
 *
 * Everything here is data: the models live in an immutable table that vg_models_install() swaps
 * whole (start-up, reload), and the sizes, resolutions and ratios are constant tables. Token and price
 * arithmetic is integer-only (128-bit for the product) so a price is exact to the micro-unit.
 */
#include "core/models.h"

#include "common/clock.h"
#include "common/limits.h"
#include "core/money.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USD(x)     ((int64_t)((x)*1000000.0 + 0.5)) /* compile-time prices; exact for 1 dp */
#define RES_BIT(r) (1u << (r))
#define RES_ALL    (RES_BIT(VG_RES_480P) | RES_BIT(VG_RES_720P) | RES_BIT(VG_RES_1080P))
#define RES_SD_HD  (RES_BIT(VG_RES_480P) | RES_BIT(VG_RES_720P))

/* The built-in table (the spec's defaults). Prices are [resolution][has_reference_video];
 * unsupported resolutions carry 0. */
static const vg_models_table g_builtin = {
    3,
    {
        {"doubao-seedance-2-0",
         RES_ALL,
         4,
         15,
         {{USD(7.0), USD(4.3)}, {USD(7.0), USD(4.3)}, {USD(7.7), USD(4.7)}},
         "best quality"},
        {"doubao-seedance-2-0-fast",
         RES_SD_HD,
         4,
         15,
         {{USD(5.6), USD(3.3)}, {USD(5.6), USD(3.3)}, {0, 0}},
         "faster, cheaper"},
        {"doubao-seedance-2-0-mini",
         RES_SD_HD,
         4,
         15,
         {{USD(3.5), USD(2.1)}, {USD(3.5), USD(2.1)}, {0, 0}},
         "cheapest previews"},
    },
    0,
    NULL,
};

/* The table readers see. Swapped whole by vg_models_install(); never written in place. */
static _Atomic(const vg_models_table *) g_current = &g_builtin;
/* Replaced tables, newest first, kept VG_MODELS_GRACE_S so pointers readers still hold stay
 * valid; the lock serialises installs (readers never take it). */
static pthread_mutex_t g_install_lock = PTHREAD_MUTEX_INITIALIZER;
static vg_models_table *g_retired;

static const vg_models_table *current(void)
{
    return atomic_load_explicit(&g_current, memory_order_acquire);
}

static const char *const g_res_names[VG_RES_COUNT] = {"480p", "720p", "1080p"};

/* Ratio names with their nominal shape, used to find the closest one to an image. */
static const struct {
    const char *name;
    int w, h;
} g_ratios[VG_RATIO_COUNT] = {
    {"16:9", 16, 9}, {"4:3", 4, 3},   {"1:1", 1, 1},      {"3:4", 3, 4},
    {"9:16", 9, 16}, {"21:9", 21, 9}, {"adaptive", 0, 0},
};

/* Output width×height per resolution and concrete ratio (spec §2 table). */
static const struct {
    int w, h;
} g_sizes[VG_RES_COUNT][VG_RATIO_ADAPTIVE] = {
    {{864, 496}, {752, 560}, {640, 640}, {560, 752}, {496, 864}, {992, 432}},
    {{1280, 720}, {1112, 834}, {960, 960}, {834, 1112}, {720, 1280}, {1470, 630}},
    {{1920, 1080}, {1664, 1248}, {1440, 1440}, {1248, 1664}, {1080, 1920}, {2206, 946}},
};

/* Pixel strings outside the table that clients send anyway (OpenAI's sora sizes, spec §4). */
static const struct {
    const char *wxh;
    vg_resolution res;
    vg_ratio ratio;
} g_size_aliases[] = {
    {"1792x1024", VG_RES_1080P, VG_RATIO_16_9},
    {"1024x1792", VG_RES_1080P, VG_RATIO_9_16},
};

const vg_model *vg_models_table_find(const vg_models_table *t, const char *name)
{
    if (!name) return NULL;
    if (!t) t = current();
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->m[i].name, name) == 0) return &t->m[i];
    return NULL;
}

const vg_model *vg_model_find(const char *name)
{
    return vg_models_table_find(NULL, name);
}

int vg_model_count(void)
{
    return current()->n;
}

const vg_model *vg_model_at(int i)
{
    const vg_models_table *t = current();
    return i >= 0 && i < t->n ? &t->m[i] : NULL;
}

int vg_resolution_parse(const char *s)
{
    for (int r = 0; s && r < VG_RES_COUNT; r++)
        if (strcmp(g_res_names[r], s) == 0) return r;
    return -1;
}

const char *vg_resolution_name(vg_resolution r)
{
    return (unsigned)r < VG_RES_COUNT ? g_res_names[r] : "unknown";
}

int vg_ratio_parse(const char *s)
{
    for (int q = 0; s && q < VG_RATIO_COUNT; q++)
        if (strcmp(g_ratios[q].name, s) == 0) return q;
    return -1;
}

const char *vg_ratio_name(vg_ratio q)
{
    return (unsigned)q < VG_RATIO_COUNT ? g_ratios[q].name : "unknown";
}

void vg_output_size(vg_resolution r, vg_ratio q, int *w, int *h)
{
    /* ADAPTIVE without a first frame means 16:9 (spec §2); callers should resolve it first. */
    if ((unsigned)q >= VG_RATIO_ADAPTIVE) q = VG_RATIO_16_9;
    if ((unsigned)r >= VG_RES_COUNT) r = VG_RES_720P;
    *w = g_sizes[r][q].w;
    *h = g_sizes[r][q].h;
}

int vg_size_from_pixels(const char *wxh, vg_resolution *r, vg_ratio *q)
{
    if (!wxh) return -1;
    /* Compare the whole string with the table's spelling: "01280x720" or "1280X720 " are not sizes.
     */
    char buf[32];
    for (int ri = 0; ri < VG_RES_COUNT; ri++) {
        for (int qi = 0; qi < VG_RATIO_ADAPTIVE; qi++) {
            snprintf(buf, sizeof buf, "%dx%d", g_sizes[ri][qi].w, g_sizes[ri][qi].h);
            if (strcmp(buf, wxh) != 0) continue;
            *r = (vg_resolution)ri;
            *q = (vg_ratio)qi;
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof g_size_aliases / sizeof g_size_aliases[0]; i++) {
        if (strcmp(g_size_aliases[i].wxh, wxh) != 0) continue;
        *r = g_size_aliases[i].res;
        *q = g_size_aliases[i].ratio;
        return 0;
    }
    return -1;
}

vg_ratio vg_ratio_closest(int w, int h)
{
    if (w <= 0 || h <= 0) return VG_RATIO_16_9;
    /* Distance in log space treats 2:1 and 1:2 as equally far from 1:1. */
    double want = log((double)w / h), best_d = INFINITY;
    vg_ratio best = VG_RATIO_16_9;
    for (int q = 0; q < VG_RATIO_ADAPTIVE; q++) {
        double d = fabs(log((double)g_ratios[q].w / g_ratios[q].h) - want);
        if (d < best_d) {
            best_d = d;
            best = (vg_ratio)q;
        }
    }
    return best;
}

int64_t vg_max_area(vg_resolution r)
{
    if ((unsigned)r >= VG_RES_COUNT) return 0;
    int64_t best = 0;
    for (int q = 0; q < VG_RATIO_ADAPTIVE; q++) {
        int64_t a = (int64_t)g_sizes[r][q].w * g_sizes[r][q].h;
        if (a > best) best = a;
    }
    return best;
}

int64_t vg_tokens(int w, int h, int seconds)
{
    if (w <= 0 || h <= 0 || seconds <= 0) return 0;
    return (int64_t)w * h * ((int64_t)VG_FPS * seconds + 1) / 1024;
}

int64_t vg_price_micro(const vg_model *m, vg_resolution r, bool has_ref_video, int64_t tokens)
{
    if (!m || (unsigned)r >= VG_RES_COUNT || tokens <= 0) return 0;
    int64_t price = m->price_per_mtok[r][has_ref_video ? 1 : 0];
    if (price <= 0) return 0;
    __int128 num = (__int128)tokens * price;
    __int128 cost = (num + 999999) / 1000000; /* ceil; both factors are positive */
    return cost > INT64_MAX ? INT64_MAX : (int64_t)cost;
}

/* ---- configuration ---------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int load_resolutions(const json_t *arr, vg_model *m, char *err, size_t errlen)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return fail(err, errlen, "model %s: resolutions must be a non-empty array", m->name);
    m->resolutions = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        int r = vg_resolution_parse(json_string_value(v));
        if (r < 0) return fail(err, errlen, "model %s: unknown resolution in resolutions", m->name);
        m->resolutions |= RES_BIT(r);
    }
    return 0;
}

static int load_seconds(const json_t *o, const char *key, int *out, const vg_model *m, char *err,
                        size_t errlen)
{
    const json_t *v = json_object_get(o, key);
    if (!v) return 0; /* keep the inherited value */
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 600)
        return fail(err, errlen, "model %s: %s must be an integer from 1 to 600", m->name, key);
    *out = (int)json_integer_value(v);
    return 0;
}

/* Reads {"480p":"7.0",…} into column col of the price table; keys absent keep their value. */
static int load_prices(const json_t *o, const char *key, int col, vg_model *m, char *err,
                       size_t errlen)
{
    const json_t *prices = json_object_get(o, key);
    if (!prices) return 0;
    if (!json_is_object(prices))
        return fail(err, errlen, "model %s: %s must be an object", m->name, key);
    const char *rname;
    const json_t *v;
    json_object_foreach((json_t *)prices, rname, v)
    {
        int r = vg_resolution_parse(rname);
        int64_t micro;
        if (r < 0)
            return fail(err, errlen, "model %s: %s has unknown resolution %s", m->name, key, rname);
        if (vg_money_from_json(v, &micro) < 0 || micro < 0)
            return fail(err, errlen, "model %s: %s.%s is not a price", m->name, key, rname);
        m->price_per_mtok[r][col] = micro;
    }
    return 0;
}

/*
 * Every supported resolution needs a price (an explicit 0 makes it free); a missing video-input
 * price falls back to the full one, the safe side for holds.
 */
static int check_prices(vg_model *m, const bool had[VG_RES_COUNT], char *err, size_t errlen)
{
    for (int r = 0; r < VG_RES_COUNT; r++) {
        if (!(m->resolutions & RES_BIT(r))) continue;
        if (m->price_per_mtok[r][0] <= 0 && !had[r])
            return fail(err, errlen, "model %s: no price for %s", m->name, g_res_names[r]);
        if (m->price_per_mtok[r][1] <= 0) m->price_per_mtok[r][1] = m->price_per_mtok[r][0];
    }
    return 0;
}

/*
 * One entry: a model of a name already in the table starts from that model (so a config may change
 * only its prices); a new one (base NULL) starts blank with the default 4–15 s.
 */
static int load_model(const json_t *o, const vg_model *base, const char *name, vg_model *m,
                      char *err, size_t errlen)
{
    if (base)
        *m = *base;
    else {
        memset(m, 0, sizeof *m);
        snprintf(m->name, sizeof m->name, "%s", name);
        m->min_seconds = 4;
        m->max_seconds = 15;
    }
    const json_t *res = json_object_get(o, "resolutions");
    if ((res || !base) && load_resolutions(res, m, err, errlen) < 0) return -1;
    if (load_seconds(o, "min_seconds", &m->min_seconds, m, err, errlen) < 0 ||
        load_seconds(o, "max_seconds", &m->max_seconds, m, err, errlen) < 0)
        return -1;
    if (m->min_seconds > m->max_seconds)
        return fail(err, errlen, "model %s: min_seconds exceeds max_seconds", m->name);
    bool had[VG_RES_COUNT] = {false};
    const json_t *prices = json_object_get(o, "prices");
    for (int r = 0; r < VG_RES_COUNT; r++)
        had[r] = json_object_get(prices, g_res_names[r]) != NULL;
    if (load_prices(o, "prices", 0, m, err, errlen) < 0 ||
        load_prices(o, "prices_video_input", 1, m, err, errlen) < 0)
        return -1;
    const char *desc = json_string_value(json_object_get(o, "description"));
    if (desc) snprintf(m->description, sizeof m->description, "%s", desc);
    return check_prices(m, had, err, errlen);
}

/* The entry's name, checked; NULL after a message in err. */
static const char *entry_name(const json_t *o, char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(o, "name"));
    if (!json_is_object(o) || !name || !*name || strlen(name) > VG_MAX_MODEL_NAME_BYTES) {
        fail(err, errlen, "each model needs a \"name\" of 1 to %d bytes", VG_MAX_MODEL_NAME_BYTES);
        return NULL;
    }
    return name;
}

/* Applies one entry to t: disables, overrides or appends a model. */
static int apply_entry(vg_models_table *t, const json_t *o, char *err, size_t errlen)
{
    const char *name = entry_name(o, err, errlen);
    if (!name) return -1;
    const json_t *enabled = json_object_get(o, "enabled");
    if (enabled && !json_is_boolean(enabled))
        return fail(err, errlen, "model %s: enabled must be true or false", name);
    int at = 0;
    while (at < t->n && strcmp(t->m[at].name, name))
        at++;
    if (json_is_false(enabled)) {
        if (at == t->n)
            return fail(err, errlen, "model %s: not in the table, cannot disable", name);
        memmove(&t->m[at], &t->m[at + 1], sizeof t->m[0] * (size_t)(t->n - at - 1));
        t->n--;
        return 0;
    }
    if (at == t->n && t->n == VG_MAX_MODELS)
        return fail(err, errlen, "at most %d models", VG_MAX_MODELS);
    vg_model m;
    if (load_model(o, at < t->n ? &t->m[at] : NULL, name, &m, err, errlen) < 0) return -1;
    t->m[at] = m;
    if (at == t->n) t->n++;
    return 0;
}

int vg_models_build(const json_t *models, vg_models_table **out, char *err, size_t errlen)
{
    *out = NULL;
    if (models && (!json_is_array(models) || json_array_size(models) == 0))
        return fail(err, errlen, "models must be a non-empty array");
    if (models && json_array_size(models) > 2 * VG_MAX_MODELS)
        return fail(err, errlen, "at most %d model entries", 2 * VG_MAX_MODELS);
    vg_models_table *t = malloc(sizeof *t);
    if (!t) return fail(err, errlen, "out of memory");
    *t = g_builtin;
    size_t i, j;
    const json_t *o, *p;
    json_array_foreach(models, i, o)
    {
        const char *name = entry_name(o, err, errlen);
        for (j = 0; name && j < i; j++) {
            p = json_array_get(models, j);
            if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0) break;
        }
        if (!name || (j < i && fail(err, errlen, "model %s is listed twice", name)) ||
            apply_entry(t, o, err, errlen) < 0) {
            free(t);
            return -1;
        }
    }
    if (t->n == 0) {
        free(t);
        return fail(err, errlen, "every model is disabled");
    }
    *out = t;
    return 0;
}

void vg_models_install(vg_models_table *t)
{
    int64_t now = vg_mono_ms();
    pthread_mutex_lock(&g_install_lock);
    const vg_models_table *old = atomic_exchange_explicit(&g_current, t, memory_order_acq_rel);
    /* Tables replaced more than a grace period ago have no readers left: every reader holds a
     * model only for the request or job at hand. */
    vg_models_table **pp = &g_retired;
    while (*pp && now - (*pp)->retired_ms < VG_MODELS_GRACE_S * 1000)
        pp = &(*pp)->next_retired;
    for (vg_models_table *r = *pp, *next; r; r = next) {
        next = r->next_retired;
        free(r);
    }
    *pp = NULL;
    if (old != &g_builtin) {
        vg_models_table *o = (vg_models_table *)old; /* ours: allocated by vg_models_build */
        o->retired_ms = now;
        o->next_retired = g_retired;
        g_retired = o;
    }
    pthread_mutex_unlock(&g_install_lock);
}

int vg_models_load_json(const json_t *models, char *err, size_t errlen)
{
    vg_models_table *t;
    if (vg_models_build(models, &t, err, errlen)) return -1;
    vg_models_install(t);
    return 0;
}

static json_t *prices_json(const vg_model *m, int col)
{
    json_t *o = json_object();
    char buf[VG_MONEY_STR_MAX];
    for (int r = 0; r < VG_RES_COUNT; r++) {
        if (!(m->resolutions & RES_BIT(r))) continue;
        vg_money_format(m->price_per_mtok[r][col], buf);
        json_object_set_new(o, g_res_names[r], json_string(buf));
    }
    return o;
}

static json_t *model_json(const vg_model *m, const char *currency)
{
    json_t *res = json_array();
    for (int r = 0; r < VG_RES_COUNT; r++)
        if (m->resolutions & RES_BIT(r)) json_array_append_new(res, json_string(g_res_names[r]));
    return json_pack("{s:s, s:s, s:i, s:s, s:o, s:{s:i, s:i}, s:{s:s, s:o, s:o}}", "id", m->name,
                     "object", "model", "created", 0, "owned_by", "vidgate", "resolutions", res,
                     "seconds", "min", m->min_seconds, "max", m->max_seconds, "pricing", "currency",
                     currency, "per_million_tokens", prices_json(m, 0),
                     "per_million_tokens_video_input", prices_json(m, 1));
}

json_t *vg_models_table_to_json(const vg_models_table *t, const char *currency)
{
    if (!t) t = current();
    json_t *arr = json_array();
    for (int i = 0; i < t->n; i++)
        json_array_append_new(arr, model_json(&t->m[i], currency));
    return arr;
}

json_t *vg_models_to_json(const char *currency)
{
    return vg_models_table_to_json(NULL, currency);
}
