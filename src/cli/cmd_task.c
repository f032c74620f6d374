/*
 * cmd_task.c - the commands on existing tasks: status, wait, download, list, cancel
 * (spec §3 task routes and §5 content).
 */
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/format.h"
#include "cli/http.h"
#include "cli/interrupt.h"
#include "cli/wait.h"
#include "common/alloc.h"
#include "common/limits.h"

/* status and cancel take only --json. */
static const vg_cli_opt json_only_opts[] = {
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the server's JSON instead of text"}, {0}};

/* GET or DELETE one task, then print it as JSON or through show(). */
static vg_cli_status task_request(vg_cli_ctx *ctx, const vg_cli_args *args, const char *method,
                                  void (*show)(const json_t *task))
{
    char *path = vg_cli_id_path("/v1/video/generations/", args->pos[0], "");
    vg_cli_request req = {.method = method, .path = path};
    json_t *task;
    vg_cli_status st = vg_cli_http_json(ctx, &req, &task);
    free(path);
    if (st != VG_CLI_OK) return st;
    if (vg_cli_args_has(args, "json"))
        vg_cli_print_json(task);
    else
        show(task);
    json_decref(task);
    return VG_CLI_OK;
}

/* ---- status ---- */

static void show_summary(const json_t *task)
{
    vg_cli_print_task(stdout, task);
}

static vg_cli_status run_status(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    return task_request(ctx, args, "GET", show_summary);
}

const vg_cli_command vg_cli_cmd_status = {
    .name = "status",
    .synopsis = "ID [--json]",
    .summary = "show a task",
    .min_pos = 1,
    .max_pos = 1,
    .opts = json_only_opts,
    .auth = VG_CLI_AUTH_USER,
    .run = run_status,
};

/* ---- wait ---- */

static const vg_cli_opt wait_opts[] = {
    {"timeout", 0, VG_CLI_OPT_VALUE, "S", "give up after S seconds (exit 5)"},
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the server's JSON instead of text"},
    {0},
};

static vg_cli_status run_wait(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    long long timeout_s = 0;
    int present;
    vg_cli_status st = vg_cli_args_int(ctx, args, "timeout", 1, 86400 * 7, &timeout_s, &present);
    if (st != VG_CLI_OK) return st;
    vg_cli_wait_opts wopts = {.timeout_ms = timeout_s * 1000};
    json_t *task;
    st = vg_cli_wait_task(ctx, args->pos[0], &wopts, &task);
    if (task && (st == VG_CLI_OK || st == VG_CLI_TASK_FAILED)) {
        if (vg_cli_args_has(args, "json"))
            vg_cli_print_json(task);
        else
            vg_cli_print_task(stdout, task);
    }
    json_decref(task);
    return st;
}

const vg_cli_command vg_cli_cmd_wait = {
    .name = "wait",
    .synopsis = "ID [--timeout S] [--json]",
    .summary = "wait until a task finishes, showing its progress",
    .min_pos = 1,
    .max_pos = 1,
    .opts = wait_opts,
    .auth = VG_CLI_AUTH_USER,
    .run = run_wait,
};

/* ---- download ---- */

/* Default file names: "<id>.mp4", "<id>.thumbnail.webp", "<id>.last_frame.png". */
static const struct {
    const char *variant, *suffix, *default_ext;
} variants[] = {
    {"video", "", ".mp4"},
    {"thumbnail", ".thumbnail", ".webp"},
    {"last_frame", ".last_frame", ".png"},
};

static const vg_cli_opt download_opts[] = {
    {"output", 'o', VG_CLI_OPT_VALUE, "FILE", "where to save it (default <id>.mp4 and similar)"},
    {"variant", 0, VG_CLI_OPT_VALUE, "V", "video (default), thumbnail or last_frame"},
    {0},
};

static vg_cli_status find_variant(vg_cli_ctx *ctx, const char *name, size_t *out)
{
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        if (strcmp(name, variants[i].variant) == 0) {
            *out = i;
            return VG_CLI_OK;
        }
    return vg_cli_fail(ctx, VG_CLI_USAGE, "--variant must be video, thumbnail or last_frame");
}

static vg_cli_status run_download(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    const char *id = args->pos[0];
    const char *name = vg_cli_args_get(args, "variant");
    size_t v = 0;
    vg_cli_status st = find_variant(ctx, name ? name : "video", &v);
    if (st != VG_CLI_OK) return st;
    char *suffix = vg_asprintf("/content?variant=%s", variants[v].variant);
    char *path = vg_cli_id_path("/v1/videos/", id, suffix);
    char *stem = vg_asprintf("%s%s", id, variants[v].suffix);
    vg_cli_download dl = {.dest = vg_cli_args_get(args, "output"),
                          .stem = stem,
                          .default_ext = variants[v].default_ext};
    char *saved = NULL;
    vg_cli_interrupt_arm();
    st = vg_cli_http_download(ctx, path, &dl, &saved);
    vg_cli_interrupt_disarm();
    if (st == VG_CLI_OK) printf("%s\n", saved);
    free(saved);
    free(stem);
    free(path);
    free(suffix);
    return st;
}

const vg_cli_command vg_cli_cmd_download = {
    .name = "download",
    .synopsis = "ID [-o FILE] [--variant video|thumbnail|last_frame]",
    .summary = "download a finished task's video, thumbnail or last frame",
    .min_pos = 1,
    .max_pos = 1,
    .opts = download_opts,
    .auth = VG_CLI_AUTH_USER,
    .run = run_download,
};

/* ---- list ---- */

static const vg_cli_opt list_opts[] = {
    {"status", 0, VG_CLI_OPT_VALUE, "S", "only tasks in this status"},
    {"limit", 0, VG_CLI_OPT_VALUE, "N", "at most N tasks (server default; max 100)"},
    {"after", 0, VG_CLI_OPT_VALUE, "ID", "the page after this task id (from a previous list)"},
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the server's JSON instead of text"},
    {0},
};

/* "?status=..&limit=..&after=.." from whichever options were given. */
static char *list_query(const vg_cli_args *args)
{
    static const char *const params[] = {"status", "limit", "after"};
    char *q = vg_strdup("");
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
        const char *v = vg_cli_args_get(args, params[i]);
        if (!v) continue;
        char *esc = vg_cli_escape(v);
        char *next = vg_asprintf("%s%c%s=%s", q, *q ? '&' : '?', params[i], esc);
        free(esc);
        free(q);
        q = next;
    }
    return q;
}

static vg_cli_status run_list(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    long long limit;
    int present;
    vg_cli_status st = vg_cli_args_int(ctx, args, "limit", 1, VG_MAX_LIST_LIMIT, &limit, &present);
    if (st != VG_CLI_OK) return st;
    char *query = list_query(args);
    char *path = vg_asprintf("/v1/video/generations%s", query);
    vg_cli_request req = {.method = "GET", .path = path};
    json_t *list;
    st = vg_cli_http_json(ctx, &req, &list);
    free(path);
    free(query);
    if (st != VG_CLI_OK) return st;
    if (vg_cli_args_has(args, "json")) {
        vg_cli_print_json(list);
    } else {
        vg_cli_print_task_table(stdout, list);
        const char *last = json_string_value(json_object_get(list, "last_id"));
        /* A hint, not data: stderr keeps stdout a clean table. */
        if (json_is_true(json_object_get(list, "has_more")) && last)
            fprintf(stderr, "more: vidgate list --after %s\n", last);
    }
    json_decref(list);
    return VG_CLI_OK;
}

const vg_cli_command vg_cli_cmd_list = {
    .name = "list",
    .synopsis = "[--status S] [--limit N] [--after ID] [--json]",
    .summary = "list your tasks, newest first",
    .min_pos = 0,
    .max_pos = 0,
    .opts = list_opts,
    .auth = VG_CLI_AUTH_USER,
    .run = run_list,
};

/* ---- cancel ---- */

static void show_status_line(const json_t *task)
{
    char id[96], status[32];
    printf("%s %s\n", vg_cli_json_text(task, "id", id, sizeof id),
           vg_cli_json_text(task, "status", status, sizeof status));
}

static vg_cli_status run_cancel(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    return task_request(ctx, args, "DELETE", show_status_line);
}

const vg_cli_command vg_cli_cmd_cancel = {
    .name = "cancel",
    .synopsis = "ID [--json]",
    .summary = "cancel a queued task (a finished one: delete its files)",
    .min_pos = 1,
    .max_pos = 1,
    .opts = json_only_opts,
    .auth = VG_CLI_AUTH_USER,
    .run = run_cancel,
};
