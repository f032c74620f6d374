/*
 * ark_check.h - Ark's side of the create call: the validation a real Ark applies to
 * POST /contents/generations/tasks (spec/upstream.md), as strictly as the documents allow. The
 * simulator (tools/ark-sim.c) answers with it, and the unit tests use it to prove that every
 * body vidgate's translation (ark.h) produces is one Ark accepts.
 *
 * Rules: model is a known id (or an "ep-…" endpoint id) else 404
 * InvalidEndpointOrModel.NotFound; content[] items {type text|image_url|video_url|audio_url} with
 * their url object and role; image/audio URLs https://, data:<mime>;base64, or asset://, video
 * https:// or asset://; up to 9 images, 3 videos, 3 audios, 12 files, audio never alone; a single
 * image without a role is the first frame, several need roles; first/last frame mode and reference
 * mode never mixed, one first and one last frame at most, a last frame needs a first frame;
 * embedded images decode, are jpeg/png/webp/bmp/tiff/gif, < 30 MB, sides 300–6000 px, aspect
 * 0.4–2.5; resolution 480p|720p|1080p (no 1080p on -fast/-mini models), ratio of the list,
 * duration 4–15 or −1, seed −1..2³²−1, the four booleans, callback_url http(s),
 * execution_expires_after 3600–259200, safety_identifier 1–64 bytes; any other top-level key is
 * refused (stricter than Ark may be: it catches translation mistakes). Missing required fields →
 * 400 MissingParameter, bad values → 400 InvalidParameter, both naming the field in param.
 *
 * Pure and thread-safe; the result points into the checked JSON (keep it alive while used).
 */
#ifndef VG_PROVIDERS_ARK_CHECK_H
#define VG_PROVIDERS_ARK_CHECK_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* An Ark error reply: HTTP status and the {"error":{"code","message","param","type"}} envelope. */
typedef struct {
    int status; /* 0 = no error */
    char code[64];
    char message[256];
    char param[64];
} vg_ark_err;

/** The envelope "type" for an HTTP status (BadRequest, Unauthorized, …). */
const char *vg_ark_err_type(int status);
/** The error reply body (new reference). */
json_t *vg_ark_err_json(const vg_ark_err *e);
/** Records an error (the first one wins). Returns -1. */
int vg_ark_err_set(vg_ark_err *e, int status, const char *code, const char *param, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

typedef struct {
    const char *const *models; /* known model ids */
    int n_models;
} vg_ark_check_opts;

/* A valid create request, normalised (defaults applied). Strings point into the body. */
typedef struct {
    const char *model;
    const char *prompt; /* "" when there is no text item */
    const char *resolution;
    const char *ratio; /* may be "adaptive" */
    int duration;      /* -1 = the model decides */
    int64_t seed;      /* -1 = random */
    bool generate_audio, return_last_frame, watermark, camera_fixed;
    const char *callback_url;      /* NULL when absent */
    int64_t expires_after_s;       /* default 172800 */
    const char *safety_identifier; /* NULL when absent */
    int first_w, first_h;          /* an embedded first frame's size, 0 when none */
    bool has_first_frame;
    bool has_ref_video;
} vg_ark_create;

/** Validates body; 0 with *out filled, or -1 with *err set. */
int vg_ark_check_create(const json_t *body, const vg_ark_check_opts *o, vg_ark_create *out,
                        vg_ark_err *err);

#endif
