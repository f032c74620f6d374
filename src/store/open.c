/*
 * open.c - vg_store_open(): the table of store backends, and the node name leases are held under.
 *
 * A backend is one row here (its name, as the `store` option spells it, and its opener) plus its
 * own files under src/store/: nothing above the store knows which one runs.
 */
#include "store/store.h"

#include "store/backends.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct {
    const char *name;
    vg_status (*open)(const vg_store_options *o, const char *node, vg_store **out, char *err,
                      size_t errlen);
} g_backends[] = {
    {"sqlite", vg_store_open_sqlite},
};

void vg_store_default_node(char *out, size_t outlen)
{
    char host[256] = "";
    if (gethostname(host, sizeof host) != 0 || !host[0]) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(out, outlen, "%s", host);
}

vg_status vg_store_open(const vg_store_options *o, vg_store **out, char *err, size_t errlen)
{
    const char *backend = o->backend && o->backend[0] ? o->backend : "sqlite";
    char node[128];
    *out = NULL;
    if (o->node && o->node[0])
        snprintf(node, sizeof node, "%s", o->node);
    else
        vg_store_default_node(node, sizeof node);
    for (size_t i = 0; i < sizeof g_backends / sizeof g_backends[0]; i++)
        if (strcmp(g_backends[i].name, backend) == 0)
            return g_backends[i].open(o, node, out, err, errlen);
    snprintf(err, errlen, "unknown store backend \"%s\"", backend);
    return VG_INVALID;
}
