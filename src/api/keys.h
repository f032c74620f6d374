/*
 * keys.h - API keys: creation (used by the admin route and by start-up for the admin key) and the
 * key object as clients see it.
 */
#ifndef VG_API_KEYS_H
#define VG_API_KEYS_H
#include "common/ids.h"
#include "store/store.h"

#include <jansson.h>

/**
 * Creates a key with a fresh secret (or `secret` when non-NULL, e.g. VIDGATE_ADMIN_KEY), credited
 * with credit_micro. k carries name and options in; id, hash and created_at are filled here.
 * The secret is written to secret_out (never stored). Returns a store status.
 */
int vg_keys_create(vg_store *s, vg_key *k, int64_t credit_micro, const char *secret,
                   char secret_out[128]);

/**
 * Whether key_id may still be served, e.g. by a presigned link it owns: VG_OK when it exists, is
 * not revoked and has not expired at `now` (unix s), VG_NOTFOUND when not, VG_ERR when the store
 * failed. One primary-key lookup.
 */
vg_status vg_keys_live(vg_store *s, const char *key_id, int64_t now);

/** The key object (new reference); admin adds role/status fields an owner does not need. */
json_t *vg_key_json(const vg_key *k, bool admin_view);

#endif
