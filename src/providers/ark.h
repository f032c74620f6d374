/*
 * ark.h - the Ark content-generation task protocol (BytePlus ModelArk / Volcengine Ark, see
 * spec/upstream.md) as vidgate speaks it: the translation of a task into a create body, the
 * parsing of task objects (query and list replies), the classification of replies, and the
 * request URLs. Everything here is pure (no I/O, no globals) so the unit tests can pin it; the
 * HTTP calls themselves are the vg_provider_ark operations (provider.h, ark_provider.c), which
 * also shape a submit for Ark: asset:// inputs inlined (images and audio as data: URLs, videos as
 * presigned links), the execution limit clamped to Ark's range, the callback URL built.
 *
 * Translation (task → create body): model = the channel's upstream id; content[] = one text item
 * with the prompt, then every media item with its type and role (URLs as stored: https://, data:
 * inline, asset://); resolution, ratio, duration, seed, generate_audio, return_last_frame,
 * watermark and camera_fixed as top-level parameters (never as --flags in the text);
 * callback_url, execution_expires_after and safety_identifier (the per-attempt client token)
 * when given.
 */
#ifndef VG_PROVIDERS_ARK_H
#define VG_PROVIDERS_ARK_H
#include "providers/provider.h"

#include <jansson.h>

/* Ark's accepted range of execution_expires_after (seconds); the default is 172800. */
#define VG_ARK_EXPIRES_MIN_S 3600
#define VG_ARK_EXPIRES_MAX_S 259200

/* Where Ark posts a task's status changes: public_url + this + "<task>?token=<secret>" (the
 * route is api/upstream.c's). */
#define VG_ARK_CALLBACK_PREFIX "/internal/ark/callback/"

/* The create call's options beyond the task and its spec, as Ark names them. */
typedef struct {
    const char *upstream_model; /* model */
    const char *client_token;   /* safety_identifier; NULL = none */
    const char *callback_url;   /* NULL = none */
    int64_t expires_after_s;    /* execution_expires_after; 0 = Ark's default */
} vg_ark_create_opts;

/** The create body for t (whose stored spec is s, media URLs as they are to be sent). New
 *  reference. */
json_t *vg_ark_create_body(const vg_task *t, const vg_task_spec *s, const vg_ark_create_opts *o);

/**
 * The media type of an image or audio file from its first bytes (jpeg, png, webp, gif, bmp, tiff;
 * wav, mp3), for the data: URL an asset travels in; "application/octet-stream" when unknown.
 */
const char *vg_ark_sniff_mime(const unsigned char *data, size_t len);

/** Ark status text → vg_up_status (unknown text → VG_UP_UNKNOWN). */
vg_up_status vg_ark_status_parse(const char *s);

/**
 * Reads a task object (a query reply or a list item; the error may be named "error" or
 * "failure_reason"). 0, or -1 when it is not a task object (no id or no status). On success free
 * *out with vg_up_task_free().
 */
int vg_ark_task_parse(const json_t *obj, vg_up_task *out);

/**
 * Classifies a reply (or its absence). HTTP statuses follow one table: 2xx OK; 408, 429, 503
 * TRANSIENT (not accepted); 500, 502, 504 and other 5xx AMBIGUOUS (may have been accepted);
 * other 4xx REFUSED. Transport: NOT_SENT → TRANSIENT, LOST → AMBIGUOUS. Error codes that speak
 * of the account rather than the request (AuthenticationError, AccountOverdueError) are
 * TRANSIENT with err->channel_fault set: another channel may work. Fills code/message from
 * Ark's error envelope when there is one.
 */
void vg_ark_classify(const vg_http_resp *r, vg_up_error *err);

/** base + "/contents/generations/tasks" [+ "/" + escaped id] into out. -1 when it does not fit. */
int vg_ark_task_url(const char *base, const char *id, char *out, size_t cap);

/**
 * The list URL: page_num, page_size, one filter.task_ids per id, and filter.model when model is
 * not NULL. -1 when it does not fit.
 */
int vg_ark_list_url(const char *base, const char *const *ids, size_t n, const char *model,
                    int page_num, int page_size, char *out, size_t cap);

#endif
