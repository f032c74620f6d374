/* routes.c - the whole route table, one surface after another. */
#include "api/handlers.h"

#include "common/alloc.h"

#include <string.h>

typedef struct {
    const vg_route *routes;
    const size_t *n;
} surface;

const vg_route *vg_api_routes(size_t *n)
{
    const surface surfaces[] = {
        {vg_routes_health, &vg_routes_health_n},     {vg_routes_tasks, &vg_routes_tasks_n},
        {vg_routes_content, &vg_routes_content_n},   {vg_routes_keys, &vg_routes_keys_n},
        {vg_routes_admin, &vg_routes_admin_n},       {vg_routes_videos, &vg_routes_videos_n},
        {vg_routes_models, &vg_routes_models_n},     {vg_routes_assets, &vg_routes_assets_n},
        {vg_routes_upstream, &vg_routes_upstream_n}, {vg_routes_webhooks, &vg_routes_webhooks_n},
        {vg_routes_metrics, &vg_routes_metrics_n},   {vg_routes_channels, &vg_routes_channels_n},
        {vg_routes_console, &vg_routes_console_n},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof surfaces / sizeof surfaces[0]; i++)
        total += *surfaces[i].n;
    vg_route *all = vg_calloc(total, sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < sizeof surfaces / sizeof surfaces[0]; i++) {
        memcpy(all + k, surfaces[i].routes, *surfaces[i].n * sizeof *all);
        k += *surfaces[i].n;
    }
    *n = total;
    return all;
}
