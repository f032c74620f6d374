/*
 * assets.h - the CLI side of the Assets API (spec §6), shared by `vidgate assets …`
 * (cmd_assets.c) and `vidgate generate --via-asset`.
 *
 * Asset actions answer in the Volcengine envelope; an error's ResponseMetadata.Error{Code,
 * Message} is recorded like any other API error (exit 3). Polling an asset sleeps through
 * interrupt.h, so Ctrl-C stops a wait cleanly (exit 130); the asset keeps processing.
 */
#ifndef VG_CLI_ASSETS_H
#define VG_CLI_ASSETS_H
#include <jansson.h>
#include <stdint.h>

#include "cli/ctx.h"

/**
 * POSTs body (not consumed) to /v1/seedance/asset/<action>. On VG_CLI_OK *result is the envelope's
 * Result (new reference); otherwise the error is recorded (VG_CLI_API or VG_CLI_NETWORK).
 */
vg_cli_status vg_cli_asset_call(vg_cli_ctx *ctx, const char *action, const json_t *body,
                                json_t **result);

/**
 * Polls GetAsset until the asset leaves Processing. VG_CLI_OK when Active; VG_CLI_TASK_FAILED
 * (its Error recorded) when Failed; VG_CLI_TIMEOUT after timeout_ms (0 = no limit);
 * VG_CLI_INTERRUPTED. *out (may be NULL) receives the last asset object seen.
 */
vg_cli_status vg_cli_asset_wait(vg_cli_ctx *ctx, const char *id, int64_t timeout_ms, json_t **out);

/** Uploads a local image file as an Image asset and waits until it is Active; *id malloc'd. */
vg_cli_status vg_cli_asset_upload_image(vg_cli_ctx *ctx, const char *path, char **id);

#endif
