/*
 * spec.h - turns a submit request body into a validated vg_task_spec (spec §3 field table), or a
 * vg_err naming the offending field with its dotted path (e.g. "metadata.content[1].role").
 *
 * Pure: no I/O, no allocation that outlives the call except the spec's own fields (which the caller
 * releases with vg_task_spec_free(), also after a failure). Thread-safe.
 *
 * Leniency, on purpose: unknown top-level keys and unknown keys inside "metadata" are ignored
 * (never forwarded), and a JSON null counts as an absent field. Known fields of the wrong type are
 * refused with 400 invalid_parameter naming the field. data: URLs are decoded to check them (not
 * kept decoded); asset:// URLs are checked for syntax only - whether the asset exists and is Active
 * is the caller's job (400 asset_not_found / asset_not_ready).
 */
#ifndef VG_SPEC_H
#define VG_SPEC_H
#include "core/error.h"
#include "core/task.h"
#include "core/urlpolicy.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct {
    vg_url_policy urls;        /* which web URLs media may name (the operator's fetch policy) */
    const char *default_model; /* used when "model" is absent (OpenAI route); NULL = required */
    /* An image URL starting with this names a file part of the request, kept aside as raw bytes
     * (api/videos.c; NULL: none): accepted where a data: image is, its bytes judged by the
     * caller. The prefix holds a random token of the request, so a client cannot write one. */
    const char *upload_prefix;
} vg_spec_opts;

/**
 * Validates a native submit body (POST /v1/video/generations; the OpenAI JSON body uses the same
 * fields plus "input_reference"). Returns VG_OK, or VG_INVALID / VG_NOTFOUND with err filled:
 * 400 missing_parameter / invalid_parameter / invalid_resolution / unsupported_resolution /
 * invalid_ratio / invalid_duration / invalid_image, 404 model_not_found.
 */
int vg_spec_parse(const json_t *body, const vg_spec_opts *opts, vg_task_spec *out, vg_err *err);

#endif
