/*
 * ids.h - identifiers and secrets.
 *
 * Object ids are a prefix + 26 Crockford base32 characters: 48 bits of milliseconds (so ids sort by
 * creation time) then 80 random bits (so they cannot be guessed). API key secrets are "sk-" + 40
 * url-safe characters (240 random bits).
 */
#ifndef VG_IDS_H
#define VG_IDS_H
#include <stddef.h>

#define VG_ID_MAX         48 /* room for any prefix + 26 characters + NUL */
#define VG_KEY_SECRET_LEN 43 /* "sk-" + 40 */

/** Writes prefix (e.g. "task_") followed by a time-ordered random id into out (VG_ID_MAX bytes). */
void vg_id_new(const char *prefix, char out[VG_ID_MAX]);
/**
 * The same form for ids that only label (request ids): unique and time-ordered, but not
 * unguessable: the 80 low bits are a random start per thread, counted up. Cheap; per thread.
 */
void vg_id_new_label(const char *prefix, char out[VG_ID_MAX]);
/** Writes a new API key secret into out (VG_KEY_SECRET_LEN + 1 bytes). */
void vg_key_secret_new(char out[VG_KEY_SECRET_LEN + 1]);
/** 1 when s is prefix + 26 Crockford characters (a cheap syntax check before any lookup). */
int vg_id_valid(const char *s, const char *prefix);

#endif
