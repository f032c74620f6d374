/*
 * task.c - task statuses, the state machine, and the task spec's storage form; see task.h.
 *
 * The state machine is one table, g_ops: each operation of the store that changes (or depends on)
 * a task's status names the statuses it runs from and the one it leaves. Everything else is
 * derived from it: vg_task_from(to), vg_task_transition_ok(), and the "expected from" set of every
 * conditional update in every store backend (a status bit set bound into the statement). A move
 * no operation makes is impossible, and there is no second copy to drift.
 *
 * Storage form of a spec (what vg_task_spec_to_json() writes into tasks.params):
 *   {"model","prompt","seconds","resolution":"720p","ratio":"adaptive","seed",
 *    "generate_audio","return_last_frame","watermark","camera_fixed","callback_url"?,
 *    "media":[{"type":"image","role":"first_frame","url":"…"}]}
 */
#include "core/task.h"

#include "common/alloc.h"
#include "common/limits.h"
#include "core/asset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BIT(s) VG_TASK_BIT(s)

static const struct {
    const char *name;   /* stored */
    const char *public; /* shown to clients */
} g_status[VG_TASK_STATUS_COUNT] = {
    [VG_TASK_QUEUED] = {"queued", "queued"},
    [VG_TASK_DISPATCHING] = {"dispatching", "queued"},
    [VG_TASK_RUNNING] = {"running", "running"},
    [VG_TASK_FINALIZING] = {"finalizing", "running"},
    [VG_TASK_COMPLETED] = {"completed", "completed"},
    [VG_TASK_FAILED] = {"failed", "failed"},
    [VG_TASK_CANCELLED] = {"cancelled", "cancelled"},
};

#define STAYS (-1)

static const struct {
    const char *name;
    vg_task_status_set from;
    int to; /* vg_task_status or STAYS */
} g_ops[VG_TASK_OP_COUNT] = {
    [VG_TASK_OP_CLAIM] = {"claim", BIT(VG_TASK_QUEUED), VG_TASK_RUNNING},
    [VG_TASK_OP_PROGRESS] = {"progress", BIT(VG_TASK_RUNNING), STAYS},
    /* A local render lost in a crash (or stopped at shutdown) starts over. */
    [VG_TASK_OP_REQUEUE] = {"requeue", BIT(VG_TASK_RUNNING), VG_TASK_QUEUED},
    [VG_TASK_OP_ROUTE] = {"route", BIT(VG_TASK_QUEUED), STAYS},
    [VG_TASK_OP_SUBMIT] = {"submit", BIT(VG_TASK_QUEUED), VG_TASK_DISPATCHING},
    /* The provider said "try later" before accepting the task. */
    [VG_TASK_OP_RETRY] = {"retry", BIT(VG_TASK_DISPATCHING), VG_TASK_QUEUED},
    [VG_TASK_OP_ACCEPT] = {"accept", BIT(VG_TASK_DISPATCHING), VG_TASK_RUNNING},
    [VG_TASK_OP_DOWNLOAD] = {"download", BIT(VG_TASK_RUNNING), VG_TASK_FINALIZING},
    /* Local renders complete from running, upstream ones after their download. */
    [VG_TASK_OP_COMPLETE] = {"complete", BIT(VG_TASK_RUNNING) | BIT(VG_TASK_FINALIZING),
                             VG_TASK_COMPLETED},
    [VG_TASK_OP_FAIL] = {"fail", VG_TASK_SET_ACTIVE, VG_TASK_FAILED},
    /* Once running, the work is paid for: a cancel would have to undo it upstream. */
    [VG_TASK_OP_CANCEL] = {"cancel", BIT(VG_TASK_QUEUED) | BIT(VG_TASK_DISPATCHING),
                           VG_TASK_CANCELLED},
    [VG_TASK_OP_FORGET] = {"forget", VG_TASK_SET_FINAL, STAYS},
};

static const char *const g_media_types[] = {
    [VG_MEDIA_IMAGE] = "image", [VG_MEDIA_VIDEO] = "video", [VG_MEDIA_AUDIO] = "audio"};
static const char *const g_media_roles[] = {
    [VG_ROLE_FIRST_FRAME] = "first_frame",         [VG_ROLE_LAST_FRAME] = "last_frame",
    [VG_ROLE_REFERENCE_IMAGE] = "reference_image", [VG_ROLE_REFERENCE_VIDEO] = "reference_video",
    [VG_ROLE_REFERENCE_AUDIO] = "reference_audio",
};
#define N_TYPES (int)(sizeof g_media_types / sizeof g_media_types[0])
#define N_ROLES (int)(sizeof g_media_roles / sizeof g_media_roles[0])

const char *vg_task_status_name(vg_task_status s)
{
    return (unsigned)s < VG_TASK_STATUS_COUNT ? g_status[s].name : "unknown";
}

const char *vg_task_status_public(vg_task_status s)
{
    return (unsigned)s < VG_TASK_STATUS_COUNT ? g_status[s].public : "unknown";
}

int vg_task_status_parse(const char *s)
{
    for (int i = 0; s && i < VG_TASK_STATUS_COUNT; i++)
        if (strcmp(g_status[i].name, s) == 0) return i;
    return -1;
}

bool vg_task_status_final(vg_task_status s)
{
    return (unsigned)s < VG_TASK_STATUS_COUNT && (VG_TASK_SET_FINAL & BIT(s)) != 0;
}

vg_task_status_set vg_task_op_from(vg_task_op op)
{
    return (unsigned)op < VG_TASK_OP_COUNT ? g_ops[op].from : 0;
}

int vg_task_op_to(vg_task_op op)
{
    return (unsigned)op < VG_TASK_OP_COUNT ? g_ops[op].to : STAYS;
}

const char *vg_task_op_name(vg_task_op op)
{
    return (unsigned)op < VG_TASK_OP_COUNT ? g_ops[op].name : "unknown";
}

vg_task_status_set vg_task_from(vg_task_status to)
{
    vg_task_status_set set = 0;
    for (int i = 0; i < VG_TASK_OP_COUNT; i++)
        if (g_ops[i].to == (int)to) set |= g_ops[i].from;
    return set;
}

bool vg_task_transition_ok(vg_task_status from, vg_task_status to)
{
    if ((unsigned)from >= VG_TASK_STATUS_COUNT || (unsigned)to >= VG_TASK_STATUS_COUNT)
        return false;
    return (vg_task_from(to) & BIT(from)) != 0;
}

void vg_task_spec_free(vg_task_spec *s)
{
    if (!s) return;
    free(s->prompt);
    free(s->callback_url);
    for (int i = 0; i < s->n_media && i < VG_MAX_MEDIA_ITEMS; i++)
        free(s->media[i].url);
    s->prompt = s->callback_url = NULL;
    s->n_media = 0;
}

void vg_task_free(vg_task *t)
{
    if (!t) return;
    free(t->params);
    t->params = NULL;
}

bool vg_task_spec_has_role(const vg_task_spec *s, vg_media_role role)
{
    for (int i = 0; s && i < s->n_media; i++)
        if (s->media[i].role == role) return true;
    return false;
}

int vg_task_params_asset_hashes(const char *params, char (*out)[65])
{
    json_t *j = params ? json_loads(params, 0, NULL) : NULL;
    const json_t *media = json_object_get(j, "media"), *it;
    size_t i;
    int n = 0;
    json_array_foreach(media, i, it)
    {
        char id[VG_ASSET_ID_MAX], sha[65];
        const char *url = json_string_value(json_object_get(it, "url"));
        if (n >= VG_MAX_MEDIA_ITEMS || vg_asset_ref_parse(url, id, sha) < 0 || !sha[0]) continue;
        bool seen = false;
        for (int k = 0; k < n && !seen; k++)
            seen = strcmp(out[k], sha) == 0;
        if (!seen) memcpy(out[n++], sha, sizeof out[0]);
    }
    json_decref(j);
    return n;
}

static int lookup(const char *const *names, int n, const char *s)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

static json_t *media_json(const vg_task_spec *s)
{
    json_t *arr = json_array();
    for (int i = 0; i < s->n_media; i++) {
        const vg_media *m = &s->media[i];
        json_t *it = json_pack("{s:s, s:s, s:s}", "type", g_media_types[m->type], "role",
                               g_media_roles[m->role], "url", m->url);
        if (it && m->param[0]) json_object_set_new(it, "param", json_string(m->param));
        json_array_append_new(arr, it);
    }
    return arr;
}

json_t *vg_task_spec_to_json(const vg_task_spec *s)
{
    json_t *j = json_pack("{s:s, s:s, s:i, s:s, s:s, s:I, s:b, s:b, s:b, s:b, s:o}", "model",
                          s->model, "prompt", s->prompt ? s->prompt : "", "seconds", s->seconds,
                          "resolution", vg_resolution_name(s->resolution), "ratio",
                          vg_ratio_name(s->ratio), "seed", (json_int_t)s->seed, "generate_audio",
                          s->generate_audio, "return_last_frame", s->return_last_frame, "watermark",
                          s->watermark, "camera_fixed", s->camera_fixed, "media", media_json(s));
    if (j && s->callback_url) json_object_set_new(j, "callback_url", json_string(s->callback_url));
    return j;
}

static int media_from_json(const json_t *arr, vg_task_spec *out)
{
    if (!arr) return 0;
    if (!json_is_array(arr) || json_array_size(arr) > VG_MAX_MEDIA_ITEMS) return -1;
    size_t i;
    const json_t *it;
    json_array_foreach(arr, i, it)
    {
        int type = lookup(g_media_types, N_TYPES, json_string_value(json_object_get(it, "type")));
        int role = lookup(g_media_roles, N_ROLES, json_string_value(json_object_get(it, "role")));
        const char *url = json_string_value(json_object_get(it, "url"));
        if (type < 0 || role < 0 || !url) return -1;
        vg_media *m = &out->media[out->n_media++];
        *m = (vg_media){
            .type = (vg_media_type)type, .role = (vg_media_role)role, .url = vg_strdup(url)};
        const char *param = json_string_value(json_object_get(it, "param"));
        if (param && strlen(param) < sizeof m->param) memcpy(m->param, param, strlen(param) + 1);
    }
    return 0;
}

/* An optional boolean: absent keeps *dst; present must be true or false. */
static int opt_bool(const json_t *j, const char *key, bool *dst)
{
    const json_t *v = json_object_get(j, key);
    if (!v) return 0;
    if (!json_is_boolean(v)) return -1;
    *dst = json_is_true(v);
    return 0;
}

static int scalars_from_json(const json_t *j, vg_task_spec *out)
{
    const char *model = json_string_value(json_object_get(j, "model"));
    const char *prompt = json_string_value(json_object_get(j, "prompt"));
    const json_t *secs = json_object_get(j, "seconds"), *seed = json_object_get(j, "seed");
    int res = vg_resolution_parse(json_string_value(json_object_get(j, "resolution")));
    int ratio = vg_ratio_parse(json_string_value(json_object_get(j, "ratio")));
    if (!model || strlen(model) >= sizeof out->model || !prompt || !json_is_integer(secs) ||
        res < 0 || ratio < 0 || (seed && !json_is_integer(seed)))
        return -1;
    snprintf(out->model, sizeof out->model, "%s", model);
    out->prompt = vg_strdup(prompt);
    out->seconds = (int)json_integer_value(secs);
    out->resolution = (vg_resolution)res;
    out->ratio = (vg_ratio)ratio;
    if (seed) out->seed = json_integer_value(seed);
    const json_t *cb = json_object_get(j, "callback_url");
    if (cb && !json_is_null(cb) && !json_is_string(cb)) return -1;
    if (json_is_string(cb)) out->callback_url = vg_strdup(json_string_value(cb));
    return 0;
}

int vg_task_spec_from_json(const json_t *j, vg_task_spec *out)
{
    memset(out, 0, sizeof *out);
    out->seed = -1;
    if (!json_is_object(j) || scalars_from_json(j, out) < 0 ||
        opt_bool(j, "generate_audio", &out->generate_audio) < 0 ||
        opt_bool(j, "return_last_frame", &out->return_last_frame) < 0 ||
        opt_bool(j, "watermark", &out->watermark) < 0 ||
        opt_bool(j, "camera_fixed", &out->camera_fixed) < 0 ||
        media_from_json(json_object_get(j, "media"), out) < 0) {
        vg_task_spec_free(out);
        return -1;
    }
    return 0;
}
