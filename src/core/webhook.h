/*
 * webhook.h - Standard Webhooks, the form vidgate's deliveries take (the form the OpenAI API uses
 * for its own webhooks, so that the official SDKs' webhooks.unwrap() verifies them):
 *   - a secret is "whsec_" + base64 of 32 random bytes; the decoded bytes are the HMAC key;
 *   - the signed content is "<webhook-id>.<webhook-timestamp>.<body>" (the exact bytes sent);
 *   - webhook-signature is "v1,<base64 HMAC-SHA256>", one per valid secret, space-separated (a
 *     rotation keeps the old secret valid for a while, and a receiver accepts any match).
 * Also the retry schedule (exponential backoff with jitter) and the event type of a final status.
 *
 * Pure apart from vg_webhook_secret_new() (randomness); no allocation; thread-safe.
 */
#ifndef VG_CORE_WEBHOOK_H
#define VG_CORE_WEBHOOK_H
#include "core/task.h"

#include <stddef.h>
#include <stdint.h>

#define VG_WEBHOOK_SECRET_PREFIX "whsec_"
#define VG_WEBHOOK_SECRET_MAX    64 /* "whsec_" + 44 base64 characters + NUL, with room */
/* One "v1,<44 characters>" per secret, a space between two. */
#define VG_WEBHOOK_SIGNATURE_MAX 256

/** A new secret into out. */
void vg_webhook_secret_new(char out[VG_WEBHOOK_SECRET_MAX]);

/**
 * The webhook-signature header value for one delivery: one "v1,…" per secret of secrets[0..n)
 * (secrets without the whsec_ prefix are used as their own bytes, as the verifiers do), separated
 * by spaces. VG_OK, or VG_INVALID when a secret does not decode or out is too small.
 */
int vg_webhook_sign(const char *msg_id, int64_t timestamp, const char *body, size_t body_len,
                    const char *const *secrets, size_t n, char *out, size_t outlen);

/**
 * The wait before attempt `attempt` + 1 after `attempt` failed ones (attempt >= 1): base_ms ·
 * 2^(attempt−1), capped at VG_WEBHOOK_BACKOFF_MAX_MS, times a jitter factor in [1, 1.3) taken
 * from rnd (any 32 random bits): spreads the retries of many events that failed together, and
 * keeps every gap longer than the one before (until the cap) whatever the draws.
 */
int64_t vg_webhook_backoff_ms(int attempt, int64_t base_ms, uint32_t rnd);

/** "video.completed", "video.failed" or "video.cancelled"; NULL for a status that is not final. */
const char *vg_webhook_event_type(vg_task_status s);

#endif
