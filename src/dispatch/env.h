/*
 * env.h - what the process gives the dispatcher: built once by the program before any thread
 * starts, copied by vg_dispatch_start(), read-only afterwards. Strings are borrowed and must
 * outlive the dispatcher. Nothing here points back at the HTTP side: the dispatcher and the
 * providers below it know no handler state.
 */
#ifndef VG_DISPATCH_ENV_H
#define VG_DISPATCH_ENV_H
#include "common/config.h"
#include "net/content.h"
#include "net/fetch.h"
#include "store/store.h"

typedef struct {
    const vg_config *cfg;   /* retention, upstream tuning, data_dir, the config file (SIGHUP) */
    const char *secret;     /* hex HMAC key of presigned links */
    const char *public_url; /* base URL an upstream can reach, no trailing slash; "" when the
                               operator configured none (then no callbacks, no presigned links) */
    const char *files_dir;  /* DATA/files: one directory per finished task */
    const char *tmp_dir;    /* DATA/tmp: renders and downloads in progress */
    vg_content *content;    /* where results are published (files_dir is its local directory) */
    vg_fetch_opts fetch;    /* the operator's policy for user-supplied URLs */
    /** A new store connection (one per thread that uses the store); NULL on failure. */
    vg_store *(*open_store)(void *ud);
    void *store_ud;
} vg_dispatch_env;

#endif
