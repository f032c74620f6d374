/* asset_json.c - see asset_json.h. */
#include "api/asset_json.h"

#include "common/limits.h"
#include "core/presign.h"

#include <stdio.h>
#include <time.h>

json_t *vg_asset_envelope(const char *request_id, const char *action, json_t *result,
                          const char *code, const char *message)
{
    json_t *meta = json_pack("{s:s, s:s, s:s, s:s}", "RequestId", request_id, "Action", action,
                             "Version", VG_ASSET_API_VERSION, "Service", VG_ASSET_API_SERVICE);
    if (code) {
        json_decref(result);
        json_object_set_new(
            meta, "Error",
            json_pack("{s:s, s:s}", "Code", code, "Message", message ? message : ""));
        return json_pack("{s:o}", "ResponseMetadata", meta);
    }
    return json_pack("{s:o, s:o}", "ResponseMetadata", meta, "Result",
                     result ? result : json_object());
}

void vg_rfc3339(int64_t unix_s, char out[32])
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void vg_asset_content_url(const vg_api_env *env, const char *id, int64_t now, char *out,
                          size_t outlen)
{
    /* Rounded up to the next hour: the same URL for an hour, so clients and caches can reuse it. */
    int64_t expires = (now / 3600 + 1) * 3600 + VG_ASSET_URL_TTL_S;
    vg_presign_url(env->secret, env->public_url, "assets", id, "content", expires, out, outlen);
}

static void add_times(json_t *j, int64_t created, int64_t updated)
{
    char c[32], u[32];
    vg_rfc3339(created, c);
    vg_rfc3339(updated, u);
    json_object_set_new(j, "CreateTime", json_string(c));
    json_object_set_new(j, "UpdateTime", json_string(u));
}

json_t *vg_asset_json(const vg_api_env *env, const vg_asset *a, int64_t now)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "Id", a->id, "Name", a->name, "GroupId",
                          a->group_id, "AssetType", vg_asset_type_name(a->type), "Status",
                          vg_asset_status_name(a->status));
    if (a->status == VG_ASSET_ACTIVE) {
        char url[1024];
        vg_asset_content_url(env, a->id, now, url, sizeof url);
        json_object_set_new(j, "URL", json_string(url));
    }
    if (a->status == VG_ASSET_FAILED)
        json_object_set_new(
            j, "Error",
            json_pack("{s:s, s:s}", "Code", a->error_code, "Message", a->error_message));
    add_times(j, a->created_at, a->updated_at);
    return j;
}

json_t *vg_asset_group_json(const vg_asset_group *g)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "Id", g->id, "Name", g->name, "Description",
                          g->description, "GroupType", g->group_type);
    add_times(j, g->created_at, g->updated_at);
    return j;
}
