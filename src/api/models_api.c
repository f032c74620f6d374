/*
 * models_api.c - GET /v1/models and GET /v1/models/{id} (spec §2): the model table in OpenAI's
 * list format, {"object":"list","data":[{"id","object":"model",…, resolutions, seconds,
 * pricing}]}. Any valid key may read it; the table is read-only after start-up, so no locking.
 */
#include "api/env.h"
#include "api/handlers.h"

#include "core/models.h"

#include <string.h>

static int list_models(vg_ctx *c)
{
    return vg_reply_json(c, 200,
                         json_pack("{s:s, s:o}", "object", "list", "data",
                                   vg_models_to_json(((const vg_api_env *)c->app)->currency)));
}

/* One model by id; the same object as in the list, so clients can use either. */
static int get_model(vg_ctx *c)
{
    json_t *all = vg_models_to_json(((const vg_api_env *)c->app)->currency), *found = NULL, *m;
    size_t i;
    json_array_foreach(all, i, m)
    {
        if (!strcmp(json_string_value(json_object_get(m, "id")), c->params[0])) found = m;
    }
    if (found)
        vg_reply_json(c, 200, json_incref(found));
    else
        vg_reply_error(c, 404, "model_not_found", "model", "model '%.64s' does not exist",
                       c->params[0]);
    json_decref(all);
    return 0;
}

const vg_route vg_routes_models[] = {
    {"GET", "/v1/models", VG_AUTH_KEY, list_models},
    {"GET", "/v1/models/{id}", VG_AUTH_KEY, get_model},
};
const size_t vg_routes_models_n = sizeof vg_routes_models / sizeof vg_routes_models[0];
