/*
 * models.h - the model table (spec §2, §7): which models exist, which resolutions and durations
 * they take, the output size for each resolution and ratio, the token formula and the price table.
 *
 * The table ships with the spec's defaults; the configuration's "models" entries are applied over
 * them (vg_models_build: an entry overrides only the model it names, adds a new one, or with
 * "enabled": false removes one). A table is immutable once built; vg_models_install() swaps the
 * current one atomically (start-up, and reloads while handlers on every event loop read prices),
 * so any thread reads without locks. A replaced table is freed only VG_MODELS_GRACE_S after the
 * swap: a vg_model pointer is valid for the request or job at hand, never to be kept longer.
 */
#ifndef VG_MODELS_H
#define VG_MODELS_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { VG_RES_480P, VG_RES_720P, VG_RES_1080P, VG_RES_COUNT } vg_resolution;
typedef enum {
    VG_RATIO_16_9,
    VG_RATIO_4_3,
    VG_RATIO_1_1,
    VG_RATIO_3_4,
    VG_RATIO_9_16,
    VG_RATIO_21_9,
    VG_RATIO_ADAPTIVE,
    VG_RATIO_COUNT
} vg_ratio;

#define VG_FPS 24

#define VG_MAX_MODELS 32

typedef struct {
    char name[64];
    unsigned resolutions; /* bit (1 << vg_resolution) per supported resolution */
    int min_seconds, max_seconds;
    /* Prices in micro-units of the currency per 1M tokens, [resolution][has_reference_video]. */
    int64_t price_per_mtok[VG_RES_COUNT][2];
    char description[96];
} vg_model;

/** A whole model table: n models in table order (the first is the default). */
typedef struct vg_models_table {
    int n;
    vg_model m[VG_MAX_MODELS];
    int64_t retired_ms;                   /* when it was replaced (monotonic); internal */
    struct vg_models_table *next_retired; /* internal */
} vg_models_table;

/** Looks a model up by its public name in the current table; NULL when unknown. */
const vg_model *vg_model_find(const char *name);
/** Number of models and the i-th model (table order; the first is the default). */
int vg_model_count(void);
const vg_model *vg_model_at(int i);

/** Parse/format resolutions ("480p") and ratios ("16:9", "adaptive"). Parse returns -1 if unknown.
 */
int vg_resolution_parse(const char *s);
const char *vg_resolution_name(vg_resolution r);
int vg_ratio_parse(const char *s);
const char *vg_ratio_name(vg_ratio r);

/** Output size for a resolution and a concrete ratio (not ADAPTIVE), from the spec's table. */
void vg_output_size(vg_resolution r, vg_ratio q, int *w, int *h);
/** Maps an exact "WxH" string of the table to resolution + ratio; -1 when it is not in the table.
 */
int vg_size_from_pixels(const char *wxh, vg_resolution *r, vg_ratio *q);
/** The concrete ratio whose shape is closest to w:h (for ADAPTIVE with a first frame). */
vg_ratio vg_ratio_closest(int w, int h);
/** The largest output area of a resolution over all ratios (for holds when the ratio is adaptive).
 */
int64_t vg_max_area(vg_resolution r);

/** tokens = W·H·(24·S+1)/1024, rounded down (spec §2). */
int64_t vg_tokens(int w, int h, int seconds);
/** cost = ceil(tokens × price_per_mtok / 10^6) in micro-units (spec §7). */
int64_t vg_price_micro(const vg_model *m, vg_resolution r, bool has_ref_video, int64_t tokens);

/** Looks a model up in t (NULL = the current table). */
const vg_model *vg_models_table_find(const vg_models_table *t, const char *name);

/**
 * Builds a table: the built-in models with the entries of `models` applied in order (NULL = the
 * built-in table). Entries: {"name", "resolutions", "min_seconds", "max_seconds", "prices",
 * "prices_video_input", "description", "enabled"}; fields absent keep the model's values. 0 with
 * *out (owned by the caller until installed; free() it otherwise), or -1 with a reason in err.
 */
int vg_models_build(const json_t *models, vg_models_table **out, char *err, size_t errlen);
/** Makes t the current table (takes ownership). Thread-safe. */
void vg_models_install(vg_models_table *t);
/** t (NULL = current) as JSON, like vg_models_to_json(); new reference. */
json_t *vg_models_table_to_json(const vg_models_table *t, const char *currency);

/**
 * Builds and installs a table from a JSON array of {"name","resolutions":[…],"min_seconds","max_seconds",
 * "prices":{"480p":"7.0",…},"prices_video_input":{…}} objects (vg_models_build). Returns 0, or
 * -1 with a reason in err (the current table unchanged).
 */
int vg_models_load_json(const json_t *models, char *err, size_t errlen);
/** The table as JSON (for GET /v1/models), prices labelled with currency; new reference. */
json_t *vg_models_to_json(const char *currency);

#endif
