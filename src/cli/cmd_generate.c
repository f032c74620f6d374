/*
 * cmd_generate.c - `vidgate generate`: submit a task (POST /v1/video/generations), wait for it
 * and download the video.
 *
 * The request body follows spec §3: scalar options go to the top level (model, prompt, seconds)
 * or metadata (resolution, ratio, seed, flags). Images: one or more --image alone become images[]
 * (one = first frame, more = references); --last-frame switches to metadata.content with explicit
 * first_frame / last_frame roles, the only form that can say "last frame". --via-asset uploads
 * local image files as assets (waiting until Active) and sends asset:// references, always in
 * metadata.content (images[] takes no asset:// URLs).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/assets.h"
#include "cli/command.h"
#include "cli/format.h"
#include "cli/http.h"
#include "cli/interrupt.h"
#include "cli/media.h"
#include "cli/wait.h"
#include "common/alloc.h"
#include "common/limits.h"

#define DEFAULT_MODEL "doubao-seedance-2-0-fast"

static const vg_cli_opt opts[] = {
    {"prompt", 0, VG_CLI_OPT_VALUE, "TEXT", "what the video shows (required)"},
    {"model", 0, VG_CLI_OPT_VALUE, "M", "model (default " DEFAULT_MODEL ")"},
    {"seconds", 0, VG_CLI_OPT_VALUE, "N", "duration in seconds (server default 5)"},
    {"resolution", 0, VG_CLI_OPT_VALUE, "R", "480p, 720p or 1080p (server default 720p)"},
    {"ratio", 0, VG_CLI_OPT_VALUE, "Q", "16:9, 4:3, 1:1, 3:4, 9:16, 21:9 or adaptive"},
    {"seed", 0, VG_CLI_OPT_VALUE, "N", "random seed, -1 for a random one"},
    {"image", 0, VG_CLI_OPT_LIST, "FILE_OR_URL",
     "first frame; repeat for reference images (local files are sent inline)"},
    {"last-frame", 0, VG_CLI_OPT_VALUE, "FILE_OR_URL", "last frame (with at most one --image)"},
    {"via-asset", 0, VG_CLI_OPT_FLAG, NULL,
     "upload local image files as assets first and send asset:// references"},
    {"return-last-frame", 0, VG_CLI_OPT_FLAG, NULL, "also produce the last frame as an image"},
    {"camera-fixed", 0, VG_CLI_OPT_FLAG, NULL, "keep the camera still"},
    {"output", 'o', VG_CLI_OPT_VALUE, "FILE", "where to save the video (default <task_id>.mp4)"},
    {"no-wait", 0, VG_CLI_OPT_FLAG, NULL, "print the task id and return at once"},
    {"timeout", 0, VG_CLI_OPT_VALUE, "S", "stop waiting after S seconds (exit 5)"},
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the final task as JSON instead of text"},
    {"idempotency-key", 0, VG_CLI_OPT_VALUE, "K", "resubmitting with the same K creates no copy"},
    {0},
};

static json_t *image_item(const char *url, const char *role)
{
    return json_pack("{s:s, s:{s:s}, s:s}", "type", "image_url", "image_url", "url", url, "role",
                     role);
}

/* The URL of one image argument: a local file becomes a data: URL, or with --via-asset an
 * uploaded asset (waited for until Active) named by asset://. */
static vg_cli_status image_url(vg_cli_ctx *ctx, const char *arg, int via_asset, char **url)
{
    if (!via_asset || strstr(arg, "://") || !strncmp(arg, "data:", 5))
        return vg_cli_media_url(ctx, arg, url);
    char *id = NULL;
    vg_cli_status st = vg_cli_asset_upload_image(ctx, arg, &id);
    if (st == VG_CLI_OK) *url = vg_asprintf("asset://%s", id);
    free(id);
    return st;
}

/* Appends the media URL of one argument to arr, as a content item when role is set. */
static vg_cli_status add_image(vg_cli_ctx *ctx, json_t *arr, const char *arg, const char *role,
                               int via_asset)
{
    char *url;
    vg_cli_status st = image_url(ctx, arg, via_asset, &url);
    if (st != VG_CLI_OK) return st;
    json_array_append_new(arr, role ? image_item(url, role) : json_string(url));
    free(url);
    return VG_CLI_OK;
}

static vg_cli_status add_media(vg_cli_ctx *ctx, const vg_cli_args *args, json_t *body,
                               json_t *metadata)
{
    size_t nimages = vg_cli_args_count(args, "image");
    const char *last = vg_cli_args_get(args, "last-frame");
    if (nimages > VG_MAX_IMAGES)
        return vg_cli_fail(ctx, VG_CLI_USAGE, "at most %d --image", VG_MAX_IMAGES);
    if (last && nimages > 1)
        return vg_cli_fail(ctx, VG_CLI_USAGE,
                           "--last-frame goes with at most one --image (the first frame)");
    vg_cli_status st = VG_CLI_OK;
    int via = vg_cli_args_has(args, "via-asset");
    if (last) {
        json_t *content = json_array();
        json_object_set_new(metadata, "content", content);
        if (nimages)
            st = add_image(ctx, content, vg_cli_args_nth(args, "image", 0), "first_frame", via);
        if (st == VG_CLI_OK) st = add_image(ctx, content, last, "last_frame", via);
    } else if (nimages && via) {
        /* images[] takes no asset:// references: metadata.content says the same with roles. */
        json_t *content = json_array();
        json_object_set_new(metadata, "content", content);
        const char *role = nimages == 1 ? "first_frame" : "reference_image";
        for (size_t i = 0; i < nimages && st == VG_CLI_OK; i++)
            st = add_image(ctx, content, vg_cli_args_nth(args, "image", i), role, via);
    } else if (nimages) {
        json_t *images = json_array();
        json_object_set_new(body, "images", images);
        for (size_t i = 0; i < nimages && st == VG_CLI_OK; i++)
            st = add_image(ctx, images, vg_cli_args_nth(args, "image", i), NULL, via);
    }
    return st;
}

/* Integer options are checked for shape only; the server's model table owns the ranges. */
static vg_cli_status add_numbers(vg_cli_ctx *ctx, const vg_cli_args *args, json_t *body,
                                 json_t *metadata)
{
    long long v;
    int present;
    vg_cli_status st = vg_cli_args_int(ctx, args, "seconds", 1, 86400, &v, &present);
    if (st != VG_CLI_OK) return st;
    if (present) json_object_set_new(body, "seconds", json_integer(v));
    st = vg_cli_args_int(ctx, args, "seed", -1, 4294967295LL, &v, &present);
    if (st != VG_CLI_OK) return st;
    if (present) json_object_set_new(metadata, "seed", json_integer(v));
    return VG_CLI_OK;
}

static void add_metadata_strings(const vg_cli_args *args, json_t *metadata)
{
    static const char *const strings[] = {"resolution", "ratio"};
    static const struct {
        const char *opt, *field;
    } flags[] = {{"return-last-frame", "return_last_frame"}, {"camera-fixed", "camera_fixed"}};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        const char *v = vg_cli_args_get(args, strings[i]);
        if (v) json_object_set_new(metadata, strings[i], json_string(v));
    }
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (vg_cli_args_has(args, flags[i].opt))
            json_object_set_new(metadata, flags[i].field, json_true());
}

static vg_cli_status check_size(vg_cli_ctx *ctx, const json_t *body)
{
    size_t n = json_dumpb(body, NULL, 0, JSON_COMPACT);
    if (n > VG_MAX_JSON_BODY_BYTES)
        return vg_cli_fail(ctx, VG_CLI_USAGE,
                           "the request would be %zu KiB, over the server's %u KiB limit; pass "
                           "big images as https:// URLs",
                           n >> 10, VG_MAX_JSON_BODY_BYTES >> 10);
    return VG_CLI_OK;
}

static vg_cli_status build_body(vg_cli_ctx *ctx, const vg_cli_args *args, json_t **out)
{
    const char *prompt;
    vg_cli_status st = vg_cli_args_require(ctx, args, "prompt", &prompt);
    if (st != VG_CLI_OK) return st;
    const char *model = vg_cli_args_get(args, "model");
    json_t *body =
        json_pack("{s:s, s:s}", "model", model ? model : DEFAULT_MODEL, "prompt", prompt);
    if (!body) return vg_cli_fail(ctx, VG_CLI_USAGE, "--prompt and --model must be UTF-8 text");
    json_t *metadata = json_object();
    add_metadata_strings(args, metadata);
    st = add_numbers(ctx, args, body, metadata);
    if (st == VG_CLI_OK) st = add_media(ctx, args, body, metadata);
    if (json_object_size(metadata)) json_object_set(body, "metadata", metadata);
    json_decref(metadata);
    if (st == VG_CLI_OK) st = check_size(ctx, body);
    if (st != VG_CLI_OK) {
        json_decref(body);
        return st;
    }
    *out = body;
    return VG_CLI_OK;
}

static vg_cli_status submit(vg_cli_ctx *ctx, const vg_cli_args *args, json_t **task,
                            const char **id)
{
    json_t *body;
    vg_cli_status st = build_body(ctx, args, &body);
    if (st != VG_CLI_OK) return st;
    vg_cli_request req = {.method = "POST",
                          .path = "/v1/video/generations",
                          .body = body,
                          .idempotency_key = vg_cli_args_get(args, "idempotency-key")};
    st = vg_cli_http_json(ctx, &req, task);
    json_decref(body);
    if (st != VG_CLI_OK) return st;
    *id = json_string_value(json_object_get(*task, "id"));
    if (!*id || !**id) return vg_cli_fail(ctx, VG_CLI_API, "the server's reply has no task id");
    return VG_CLI_OK;
}

/* Whether the video can be saved, checked before anything is submitted (and charged): with -o,
 * the name is not a directory and its ".part" file (what the download writes first) can be
 * created; without, the current directory takes a new file. Probe files are removed at once. */
static vg_cli_status check_output(vg_cli_ctx *ctx, const char *dest)
{
    struct stat sb;
    if (dest && stat(dest, &sb) == 0 && S_ISDIR(sb.st_mode))
        return vg_cli_fail(ctx, VG_CLI_LOCAL_IO,
                           "-o %s is a directory: give a file name; nothing was submitted", dest);
    /* One process makes one probe at a time, so its pid names it uniquely. */
    char *probe =
        dest ? vg_asprintf("%s.part", dest) : vg_asprintf(".vidgate-probe-%ld", (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    vg_cli_status st = VG_CLI_OK;
    if (fd >= 0) {
        close(fd);
        unlink(probe);
    } else if (errno != EEXIST) { /* an existing file there shows the directory takes files;
                                   * a leftover .part is overwritten by the download */
        st = vg_cli_fail(ctx, VG_CLI_LOCAL_IO, "cannot write %s: %s; nothing was submitted",
                         dest ? dest : "a file in the current directory", strerror(errno));
    }
    free(probe);
    return st;
}

static vg_cli_status download_video(vg_cli_ctx *ctx, const vg_cli_args *args, const char *id,
                                    char **saved)
{
    char *path = vg_cli_id_path("/v1/videos/", id, "/content");
    vg_cli_download dl = {
        .dest = vg_cli_args_get(args, "output"), .stem = id, .default_ext = ".mp4"};
    vg_cli_status st = vg_cli_http_download(ctx, path, &dl, saved);
    free(path);
    if (st == VG_CLI_INTERRUPTED)
        vg_cli_fail(ctx, st, "interrupted; download it later with vidgate download %s", id);
    if (st == VG_CLI_LOCAL_IO) { /* the task is done and paid for: say how to still get it */
        size_t n = strlen(ctx->err);
        snprintf(ctx->err + n, sizeof ctx->err - n,
                 "\nvidgate: task %s completed; download its video with: vidgate download %s -o "
                 "FILE",
                 id, id);
    }
    return st;
}

static vg_cli_status wait_and_fetch(vg_cli_ctx *ctx, const vg_cli_args *args, const char *id,
                                    int json)
{
    long long timeout_s = 0;
    int present;
    vg_cli_status st = vg_cli_args_int(ctx, args, "timeout", 1, 86400 * 7, &timeout_s, &present);
    if (st != VG_CLI_OK) return st;
    vg_cli_wait_opts wopts = {.timeout_ms = timeout_s * 1000};
    json_t *final = NULL;
    char *saved = NULL;
    st = vg_cli_wait_task(ctx, id, &wopts, &final);
    if (st == VG_CLI_OK) st = download_video(ctx, args, id, &saved);
    /* A failed task is still an answer: --json shows it, the recorded error explains it. */
    if (json && final && (st == VG_CLI_OK || st == VG_CLI_TASK_FAILED))
        vg_cli_print_json(final);
    else if (st == VG_CLI_OK)
        printf("%s\n", saved);
    free(saved);
    json_decref(final);
    return st;
}

static vg_cli_status run(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    json_t *task = NULL;
    const char *id = NULL;
    int json = vg_cli_args_has(args, "json");
    vg_cli_status st = VG_CLI_OK;
    if (!vg_cli_args_has(args, "no-wait")) st = check_output(ctx, vg_cli_args_get(args, "output"));
    if (st == VG_CLI_OK) st = submit(ctx, args, &task, &id);
    if (st == VG_CLI_OK && vg_cli_args_has(args, "no-wait")) {
        if (json)
            vg_cli_print_json(task);
        else
            printf("%s\n", id);
    } else if (st == VG_CLI_OK) {
        /* Armed across wait and download, so Ctrl-C between them is caught too. */
        vg_cli_interrupt_arm();
        st = wait_and_fetch(ctx, args, id, json);
        vg_cli_interrupt_disarm();
    }
    json_decref(task);
    return st;
}

const vg_cli_command vg_cli_cmd_generate = {
    .name = "generate",
    .synopsis = "--prompt TEXT [options]",
    .summary = "submit a video task, wait for it and download the video",
    .min_pos = 0,
    .max_pos = 0,
    .opts = opts,
    .auth = VG_CLI_AUTH_USER,
    .run = run,
};
