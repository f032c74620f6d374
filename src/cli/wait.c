/* wait.c - see wait.h. */
#include "cli/wait.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/format.h"
#include "cli/http.h"
#include "cli/interrupt.h"
#include "cli/progress.h"
#include "common/clock.h"

int vg_cli_status_is_final(const char *status)
{
    static const char *const finals[] = {"completed", "failed", "cancelled", "expired"};
    for (size_t i = 0; status && i < sizeof finals / sizeof finals[0]; i++)
        if (strcmp(status, finals[i]) == 0) return 1;
    return 0;
}

/*
 * One poll: a long-poll of up to wait_s seconds for a change from the state of etag (NULL: any
 * change). On VG_CLI_OK either *task is the current object and etag holds its ETag (""
 * when the server sent none), or *task is NULL and *delay_ms says how long the server asked us to
 * back off.
 */
static vg_cli_status poll_once(vg_cli_ctx *ctx, const char *base, int wait_s, char etag[128],
                               json_t **task, int64_t *delay_ms)
{
    *task = NULL;
    *delay_ms = VG_CLI_POLL_INTERVAL_MS;
    char path[512];
    snprintf(path, sizeof path, "%s?wait=%d", base, wait_s);
    vg_cli_request req = {.method = "GET", .path = path, .if_none_match = etag[0] ? etag : NULL};
    vg_cli_response resp;
    vg_cli_status st = vg_cli_http_send(ctx, &req, &resp);
    if (st == VG_CLI_OK && (resp.status == 429 || resp.status == 503)) {
        long s = resp.retry_after_s;
        if (s > VG_CLI_MAX_RETRY_AFTER_S) s = VG_CLI_MAX_RETRY_AFTER_S;
        if (s > 0) *delay_ms = s * 1000;
    } else if (st == VG_CLI_OK && (st = vg_cli_http_check(ctx, &resp)) == VG_CLI_OK) {
        *task = json_loadb(resp.body, resp.len, 0, NULL);
        memcpy(etag, resp.etag, 128);
        if (!json_is_object(*task)) {
            json_decref(*task);
            *task = NULL;
            st = vg_cli_fail(ctx, VG_CLI_API, "the server sent invalid JSON for %s", path);
        }
    }
    vg_cli_response_free(&resp);
    return st;
}

/* Turns a final task into the command's status, recording why it did not complete. */
static vg_cli_status final_status(vg_cli_ctx *ctx, const char *id, const json_t *task)
{
    const char *status = json_string_value(json_object_get(task, "status"));
    if (strcmp(status, "completed") == 0) return VG_CLI_OK;
    const json_t *err = json_object_get(task, "error");
    char code[128], msg[512];
    vg_cli_json_text(err, "code", code, sizeof code);
    vg_cli_json_text(err, "message", msg, sizeof msg);
    return vg_cli_fail(ctx, VG_CLI_TASK_FAILED, "task %s %s (%s%s%s)", id, status,
                       *code ? code : "no error code", *msg ? ": " : "", msg);
}

/* The longest wait of one request: under every proxy's idle limit, and the server's 60 s. */
#define LONGPOLL_S 25

/* Long-polls: each GET asks the server to hold it until the task differs from the ETag last seen
 * (or LONGPOLL_S passed), so a change shows at once and an idle task costs one request per
 * LONGPOLL_S. A server that answers at once with nothing new (no ETag, or the same one long
 * before the wait was up: one without long-poll) is polled every VG_CLI_POLL_INTERVAL_MS. */
static vg_cli_status poll_loop(vg_cli_ctx *ctx, const char *id, const vg_cli_wait_opts *opts,
                               vg_cli_progress *prog, json_t **last)
{
    char *path = vg_cli_id_path("/v1/video/generations/", id, "");
    int64_t start = vg_mono_ms();
    char etag[128] = "";
    vg_cli_status st;
    for (;;) {
        json_t *task;
        int64_t delay, sent = vg_mono_ms();
        int wait_s = etag[0] ? LONGPOLL_S : 0; /* the first answer shows the task as it is */
        if (opts->timeout_ms > 0) {
            int64_t left_s = (start + opts->timeout_ms - sent + 999) / 1000;
            if (left_s < wait_s) wait_s = left_s > 0 ? (int)left_s : 0;
        }
        char seen[128];
        memcpy(seen, etag, sizeof seen);
        if ((st = poll_once(ctx, path, wait_s, etag, &task, &delay)) != VG_CLI_OK) break;
        if (task) {
            json_decref(*last);
            *last = task;
            const char *status = json_string_value(json_object_get(task, "status"));
            long progress = (long)json_integer_value(json_object_get(task, "progress"));
            vg_cli_progress_update(prog, status ? status : "?", progress, vg_mono_ms() - start);
            if (vg_cli_status_is_final(status)) break;
            bool held = etag[0] && (strcmp(etag, seen) != 0 ||
                                    vg_mono_ms() - sent >= (int64_t)wait_s * 1000 / 2);
            if (held) delay = 0;
        }
        int64_t now = vg_mono_ms();
        if (opts->timeout_ms > 0) {
            int64_t left = start + opts->timeout_ms - now;
            if (left <= 0) {
                st = VG_CLI_TIMEOUT;
                break;
            }
            if (delay > left) delay = left;
        }
        if (delay > 0 && (st = vg_cli_sleep_ms(delay)) != VG_CLI_OK) break;
        if (delay == 0 && vg_cli_interrupted()) {
            st = VG_CLI_INTERRUPTED;
            break;
        }
    }
    free(path);
    return st;
}

vg_cli_status vg_cli_wait_task(vg_cli_ctx *ctx, const char *id, const vg_cli_wait_opts *opts,
                               json_t **out_task)
{
    *out_task = NULL;
    vg_cli_progress prog;
    vg_cli_progress_init(&prog, stderr, id, ctx->quiet);
    vg_cli_interrupt_arm();
    vg_cli_status st = poll_loop(ctx, id, opts, &prog, out_task);
    vg_cli_interrupt_disarm();
    int done = st == VG_CLI_OK && *out_task;
    vg_cli_progress_end(&prog, done);
    if (done) return final_status(ctx, id, *out_task);
    if (st == VG_CLI_TIMEOUT)
        return vg_cli_fail(ctx, st,
                           "gave up after %lld s; task %s continues on the server "
                           "(vidgate wait %s)",
                           (long long)(opts->timeout_ms / 1000), id, id);
    if (st == VG_CLI_INTERRUPTED)
        return vg_cli_fail(ctx, st,
                           "interrupted; task %s continues on the server (vidgate wait %s to "
                           "resume, vidgate cancel %s to stop it)",
                           id, id, id);
    return st;
}
