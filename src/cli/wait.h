/*
 * wait.h - waits for a task to reach a final status, showing progress (progress.h).
 *
 * Long-polls (GET …?wait=N with the last ETag in If-None-Match: the server answers when the task
 * changes); against a server that answers at once without a change, one GET per
 * VG_CLI_POLL_INTERVAL_MS. A 429 or 503 answer is not an error here but a request to
 * slow down, honoured through its Retry-After (capped at VG_CLI_MAX_RETRY_AFTER_S). Ctrl-C is
 * armed for the duration (interrupt.h). Timeouts, interruptions and failed tasks are recorded in
 * ctx with advice on how to resume; the task itself is never touched.
 */
#ifndef VG_CLI_WAIT_H
#define VG_CLI_WAIT_H
#include <jansson.h>
#include <stdint.h>

#include "cli/ctx.h"

typedef struct {
    int64_t timeout_ms; /* 0 = wait for ever */
} vg_cli_wait_opts;

/**
 * Waits for task id. Returns VG_CLI_OK when it completed, VG_CLI_TASK_FAILED when it failed or
 * was cancelled (its error recorded), or VG_CLI_TIMEOUT / VG_CLI_INTERRUPTED / VG_CLI_API /
 * VG_CLI_NETWORK. *out_task is the last task object seen (NULL if none; json_decref() it).
 */
vg_cli_status vg_cli_wait_task(vg_cli_ctx *ctx, const char *id, const vg_cli_wait_opts *opts,
                               json_t **out_task);

/** 1 for a status no task leaves: completed, failed, cancelled, expired. */
int vg_cli_status_is_final(const char *status);

#endif
