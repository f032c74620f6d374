/*
 * asset_json.h - assets and asset groups as clients see them (spec §6), in the Volcengine reply
 * envelope {"ResponseMetadata":{RequestId, Action, Version, Service}, "Result":{…}}, with
 * ResponseMetadata.Error{Code, Message} and no Result on error. Times are RFC 3339 UTC. An Active
 * asset's URL is a presigned link of this server ("/assets/{id}/content?expires=&sig=", kind
 * "assets"), valid for at least VG_ASSET_URL_TTL_S and stable within an hour. Each json_t function
 * returns a new reference; pure apart from reading the clock through `now`.
 */
#ifndef VG_API_ASSET_JSON_H
#define VG_API_ASSET_JSON_H
#include "api/env.h"
#include "core/asset.h"

#include <jansson.h>
#include <stdint.h>

#define VG_ASSET_API_VERSION "2024-01-01"
#define VG_ASSET_API_SERVICE "ark"

/**
 * The envelope for action. With code == NULL: ResponseMetadata + "Result": result (consumed; NULL
 * gives {}). With code: ResponseMetadata.Error = {Code: code, Message: message}, no Result (result
 * must be NULL).
 */
json_t *vg_asset_envelope(const char *request_id, const char *action, json_t *result,
                          const char *code, const char *message);
/** Id, Name, GroupId, AssetType, Status, URL (Active), Error (Failed), CreateTime, UpdateTime. */
json_t *vg_asset_json(const vg_api_env *env, const vg_asset *a, int64_t now);
/** Id, Name, Description, GroupType, CreateTime, UpdateTime. */
json_t *vg_asset_group_json(const vg_asset_group *g);
/** "2026-11-24T11:30:00Z" for unix seconds. */
void vg_rfc3339(int64_t unix_s, char out[32]);
/** The presigned content URL of asset id as of now. */
void vg_asset_content_url(const vg_api_env *env, const char *id, int64_t now, char *out,
                          size_t outlen);

#endif
