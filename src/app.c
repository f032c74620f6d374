/*
 * app.c - reloading the configuration while the server runs (SIGHUP and POST /admin/reload).
 *
 * A reload loads a whole new configuration exactly as start-up does (defaults, the file, the
 * environment, the command line), then validates everything reloadable before touching anything:
 * the model table is built over the built-in one, the channels are built and checked against that
 * table, the log settings are parsed and the access log file opened. Any error keeps the old
 * configuration and says why. Only then is each part handed over: the model table is installed
 * (an atomic swap; core/models.h), the channel set swapped (the dispatcher), the retention stored,
 * the log settings applied. Options that need a restart (listen, data, threads, …) are reported
 * as such and stay as they were.
 *
 * Reloads are serialised by a mutex: the SIGHUP thread and the event loops serving
 * POST /admin/reload may ask at once. The last applied configuration (as JSON) is what the next
 * reload compares against, so the log names what changed since then.
 */
#include "app.h"

#include "common/log.h"
#include "core/models.h"
#include "dispatch/channel.h"
#include "dispatch/dispatcher.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The options a reload applies; every other option needs a restart. */
static const char *const reloadable[] = {"models",    "channels",   "retention_s",
                                         "log_level", "log_format", "access_log"};

static bool is_reloadable(const char *name)
{
    for (size_t i = 0; i < sizeof reloadable / sizeof reloadable[0]; i++)
        if (!strcmp(reloadable[i], name)) return true;
    return false;
}

/* The log settings of c, validated (and the access log file opened) without applying them. */
static int check_log(const vg_config *c, vg_log_level *level, vg_log_format *format, char *err,
                     size_t errlen)
{
    if (vg_log_level_parse(c->log_level, level))
        return snprintf(err, errlen, "log_level must be debug, info, warn or error"), -1;
    if (vg_log_format_parse(c->log_format, format))
        return snprintf(err, errlen, "log_format must be text or json"), -1;
    return 0;
}

int vg_app_apply_log(const vg_config *c, char *err, size_t errlen)
{
    vg_log_level level;
    vg_log_format format;
    if (check_log(c, &level, &format, err, errlen)) return -1;
    if (vg_log_set_access(c->access_log))
        return snprintf(err, errlen, "access_log: cannot open %s: %s", c->access_log,
                        strerror(errno)),
               -1;
    vg_log_set_level(level);
    vg_log_set_format(format);
    return 0;
}

/* Names of the models added, removed and changed between two tables' JSON, into report. */
static void diff_models(const json_t *before, const json_t *after, json_t *report)
{
    json_t *added = json_array(), *removed = json_array(), *changed = json_array();
    size_t i, j;
    const json_t *a, *b;
    json_array_foreach(after, i, a)
    {
        const char *id = json_string_value(json_object_get(a, "id"));
        const json_t *match = NULL;
        json_array_foreach(
            before, j, b) if (!strcmp(json_string_value(json_object_get(b, "id")), id)) match = b;
        if (!match)
            json_array_append_new(added, json_string(id));
        else if (!json_equal((json_t *)match, (json_t *)a))
            json_array_append_new(changed, json_string(id));
    }
    json_array_foreach(before, j, b)
    {
        const char *id = json_string_value(json_object_get(b, "id"));
        bool kept = false;
        json_array_foreach(after, i, a) kept |=
            !strcmp(json_string_value(json_object_get(a, "id")), id);
        if (!kept) json_array_append_new(removed, json_string(id));
    }
    json_object_set_new(
        report, "models",
        json_pack("{s:o, s:o, s:o}", "added", added, "removed", removed, "changed", changed));
}

/* Appends "name" (and for scalars "old → new") to a log text. */
static void describe(char *out, size_t outlen, const char *name, const json_t *old,
                     const json_t *new)
{
    size_t n = strlen(out);
    if (n >= outlen - 1) return;
    char *o = json_is_object(old) || json_is_array(old) || !old
                  ? NULL
                  : json_dumps(old, JSON_ENCODE_ANY | JSON_COMPACT);
    char *w = json_is_object(new) || json_is_array(new) || !new
                  ? NULL
                  : json_dumps(new, JSON_ENCODE_ANY | JSON_COMPACT);
    if (o && w)
        snprintf(out + n, outlen - n, "%s%s %s -> %s", n ? ", " : "", name, o, w);
    else
        snprintf(out + n, outlen - n, "%s%s", n ? ", " : "", name);
    free(o);
    free(w);
}

int vg_app_reload(vg_app *app, json_t **report, char *err, size_t errlen)
{
    *report = NULL;
    int rc = -1;
    vg_config next;
    vg_models_table *table = NULL;
    vg_channels *set = NULL;
    json_t *now = NULL, *models_before = NULL, *models_after = NULL;
    pthread_mutex_lock(&app->reload_lock);
    if (vg_config_load(&next, app->argc, app->argv, err, errlen)) goto out;
    vg_log_level level;
    vg_log_format format;
    char why[400];
    if (vg_models_build(next.models, &table, why, sizeof why)) {
        snprintf(err, errlen, "models: %s", why);
        goto out;
    }
    if (!(set = vg_channels_build_for(next.channels, table, why, sizeof why))) {
        snprintf(err, errlen, "channels: %s", why);
        goto out;
    }
    if (check_log(&next, &level, &format, err, errlen)) goto out;
    if (next.retention_s < 1) {
        snprintf(err, errlen, "retention_s must be at least 1");
        goto out;
    }
    /* Everything is valid: compare, then hand each part over. */
    now = vg_config_to_json(&next);
    json_t *changed = json_array(), *restart = json_array();
    *report = json_pack("{s:s, s:o, s:o}", "object", "reload", "changed", changed,
                        "restart_required", restart);
    char changes[1024] = "", pending[512] = "";
    const char *k;
    json_t *v;
    json_object_foreach(now, k, v)
    {
        json_t *old = json_object_get(app->applied, k);
        if (old && json_equal(old, v)) continue;
        bool live = is_reloadable(k);
        json_array_append_new(live ? changed : restart, json_string(k));
        if (live)
            describe(changes, sizeof changes, k, old, v);
        else
            describe(pending, sizeof pending, k, NULL, NULL);
    }
    json_object_foreach(app->applied, k, v) /* a structure removed from the file */
        if (!json_object_get(now, k) && is_reloadable(k))
    {
        json_array_append_new(changed, json_string(k));
        describe(changes, sizeof changes, k, NULL, NULL);
    }
    models_before = vg_models_to_json(next.currency);
    models_after = vg_models_table_to_json(table, next.currency);
    diff_models(models_before, models_after, *report);
    /* The access log file is (re)opened on every reload, so log rotation needs only SIGHUP. */
    if (vg_log_set_access(next.access_log)) {
        snprintf(err, errlen, "access_log: cannot open %s: %s", next.access_log, strerror(errno));
        json_decref(*report);
        *report = NULL;
        goto out;
    }
    vg_models_install(table);
    table = NULL;
    int n_channels = set->n;
    vg_dispatch_reload_channels(app->dispatch, set);
    set = NULL;
    vg_config_set_retention_s(app->live_cfg, next.retention_s);
    vg_log_set_level(level);
    vg_log_set_format(format);
    /* What needs a restart stays as it was, so later reloads keep naming it. */
    json_object_foreach(now, k, v) if (is_reloadable(k)) json_object_set(app->applied, k, v);
    for (size_t i = 0; i < sizeof reloadable / sizeof reloadable[0]; i++)
        if (!json_object_get(now, reloadable[i])) json_object_del(app->applied, reloadable[i]);
    vg_info("reload: %s%s", changes[0] ? "changed " : "nothing changed", changes);
    char models[1024] = "";
    static const char *const kinds[] = {"added", "removed", "changed"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *names = json_object_get(json_object_get(*report, "models"), kinds[i]), *n;
        size_t j, len;
        json_array_foreach(names, j, n)
        {
            len = strlen(models);
            if (j)
                snprintf(models + len, sizeof models - len, ", %s", json_string_value(n));
            else
                snprintf(models + len, sizeof models - len, "%s%s %s", len ? "; " : "", kinds[i],
                         json_string_value(n));
        }
    }
    if (models[0]) vg_info("reload: models: %s", models);
    vg_info("reload: %d channel(s) loaded", n_channels);
    if (pending[0])
        vg_warn("reload: %s changed in the configuration but take(s) effect only after a restart",
                pending);
    rc = 0;
out:
    if (rc) vg_warn("reload refused, the old configuration is kept: %s", err);
    free(table);
    vg_channels_unref(set);
    json_decref(now);
    json_decref(models_before);
    json_decref(models_after);
    vg_config_free(&next);
    pthread_mutex_unlock(&app->reload_lock);
    return rc;
}
