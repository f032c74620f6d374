/*
 * open.c - vg_store_open(): the table of store backends, and the node name leases are held under
 * (and which names are certainly dead).
 *
 * A backend is one row here (its name, as the `store` option spells it, and its opener) plus its
 * own files under src/store/: nothing above the store knows which one runs. Without a `store`
 * name the `database` option decides: a PostgreSQL URL or key=value string picks "postgresql",
 * anything else (a path, or nothing) "sqlite".
 */
#include "store/store.h"

#include "store/backends.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static const struct {
    const char *name;
    vg_status (*open)(const vg_store_options *o, const char *node, vg_store **out, char *err,
                      size_t errlen);
} g_backends[] = {
    {"sqlite", vg_store_open_sqlite},
    {"postgresql", vg_store_open_pg},
};

bool vg_store_database_is_pg(const char *database)
{
    if (!database || !database[0]) return false;
    return strncmp(database, "postgresql://", 13) == 0 ||
           strncmp(database, "postgres://", 11) == 0 || strchr(database, '=') != NULL;
}

static void host_name(char host[256])
{
    if (gethostname(host, 256) != 0 || !host[0]) snprintf(host, 256, "localhost");
    host[255] = '\0';
}

/* With the pid, a restarted process is a new node: its previous life's leases are recognised as
 * dead by vg_store_owner_dead() instead of by name. */
void vg_store_default_node(char *out, size_t outlen)
{
    char host[256] = "";
    host_name(host);
    snprintf(out, outlen, "%s:%ld", host, (long)getpid());
}

bool vg_store_owner_dead(const char *owner)
{
    char host[256] = "";
    host_name(host);
    size_t hl = strlen(host);
    if (strncmp(owner, host, hl) != 0 || owner[hl] != ':') return false;
    const char *p = owner + hl + 1;
    char *end = NULL;
    errno = 0;
    long pid = strtol(p, &end, 10);
    if (errno || end == p || *end || pid <= 0 || (pid_t)pid != pid || pid == (long)getpid())
        return false;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

vg_status vg_store_open(const vg_store_options *o, vg_store **out, char *err, size_t errlen)
{
    bool pg = vg_store_database_is_pg(o->database);
    const char *backend = o->backend && o->backend[0] ? o->backend : pg ? "postgresql" : "sqlite";
    char node[128];
    *out = NULL;
    if (o->node && o->node[0])
        snprintf(node, sizeof node, "%s", o->node);
    else
        vg_store_default_node(node, sizeof node);
    if (pg && strcmp(backend, "postgresql") != 0) {
        snprintf(err, errlen, "store backend \"%s\" cannot open a PostgreSQL database", backend);
        return VG_INVALID;
    }
    for (size_t i = 0; i < sizeof g_backends / sizeof g_backends[0]; i++)
        if (strcmp(g_backends[i].name, backend) == 0)
            return g_backends[i].open(o, node, out, err, errlen);
    snprintf(err, errlen, "unknown store backend \"%s\"", backend);
    return VG_INVALID;
}
