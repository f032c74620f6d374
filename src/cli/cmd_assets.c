/*
 * cmd_assets.c - `vidgate assets …`: group-create, upload, list, get, delete (spec §6), and the
 * helpers of assets.h that `generate --via-asset` uses.
 *
 * upload: a http(s):// argument is sent as URL (the server fetches it); anything else is a local
 * file sent inline as base64 Data, capped so the request fits the server's 40 MiB body limit. The
 * AssetType defaults to what the file's magic bytes suggest (the server decides anyway), else
 * Image; the Name to the file's (or URL's) last path segment. With --wait the command returns
 * once the asset is Active (exit 0) or Failed (exit 1, its Error shown).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/assets.h"
#include "cli/command.h"
#include "cli/format.h"
#include "cli/http.h"
#include "cli/interrupt.h"
#include "cli/media.h"
#include "common/alloc.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/limits.h"

#define ACTION_PREFIX  "/v1/seedance/asset/"
#define WAIT_POLL_MS   500
#define LIST_MAX_PAGES 1000
/* Room left in the body for the JSON around Data. */
#define DATA_MAX_BYTES ((size_t)(VG_MAX_MULTIPART_BODY_BYTES - 64 * 1024) / 4 * 3)

/* ---- the envelope ------------------------------------------------------------------------- */

/* Records ResponseMetadata.Error (or what there is) of a refused call. */
static vg_cli_status envelope_error(vg_cli_ctx *ctx, const char *action, long status,
                                    const json_t *root)
{
    const json_t *err = json_object_get(json_object_get(root, "ResponseMetadata"), "Error");
    char code[128], msg[512];
    vg_cli_json_text(err, "Code", code, sizeof code);
    vg_cli_json_text(err, "Message", msg, sizeof msg);
    if (!*msg && !*code) return vg_cli_fail(ctx, VG_CLI_API, "%s: HTTP %ld", action, status);
    return vg_cli_fail(ctx, VG_CLI_API, "%s (HTTP %ld, %s)", *msg ? msg : code, status,
                       *code ? code : "no code");
}

vg_cli_status vg_cli_asset_call(vg_cli_ctx *ctx, const char *action, const json_t *body,
                                json_t **result)
{
    char path[128];
    snprintf(path, sizeof path, ACTION_PREFIX "%s", action);
    vg_cli_request req = {.method = "POST", .path = path, .body = body};
    vg_cli_response resp;
    *result = NULL;
    vg_cli_status st = vg_cli_http_send(ctx, &req, &resp);
    if (st != VG_CLI_OK) return st;
    json_t *root = json_loadb(resp.body, resp.len, 0, NULL);
    const json_t *res = json_object_get(root, "Result");
    if (resp.status == 200 && json_is_object(res))
        *result = json_incref((json_t *)res);
    else if (json_object_get(root, "ResponseMetadata"))
        st = envelope_error(ctx, action, resp.status, root);
    else
        st = vg_cli_http_check(ctx, &resp); /* the §1 envelope of the router (401, 429…) */
    if (st == VG_CLI_OK && !*result)
        st = vg_cli_fail(ctx, VG_CLI_API, "the server sent an unexpected reply to %s", action);
    json_decref(root);
    vg_cli_response_free(&resp);
    return st;
}

/* Calls an action whose body is just {"Id": id}. */
static vg_cli_status call_id(vg_cli_ctx *ctx, const char *action, const char *id, json_t **result)
{
    json_t *body = json_pack("{s:s}", "Id", id);
    vg_cli_status st = vg_cli_asset_call(ctx, action, body, result);
    json_decref(body);
    return st;
}

/* ---- waiting ------------------------------------------------------------------------------ */

static vg_cli_status final_asset(vg_cli_ctx *ctx, const char *id, const json_t *asset)
{
    const char *status = json_string_value(json_object_get(asset, "Status"));
    if (status && !strcmp(status, "Active")) return VG_CLI_OK;
    const json_t *err = json_object_get(asset, "Error");
    char code[128], msg[512];
    vg_cli_json_text(err, "Code", code, sizeof code);
    vg_cli_json_text(err, "Message", msg, sizeof msg);
    return vg_cli_fail(ctx, VG_CLI_TASK_FAILED, "asset %s failed (%s%s%s)", id,
                       *code ? code : "no error code", *msg ? ": " : "", msg);
}

static vg_cli_status poll_asset(vg_cli_ctx *ctx, const char *id, int64_t timeout_ms, json_t **last)
{
    int64_t start = vg_mono_ms();
    for (;;) {
        json_t *asset;
        vg_cli_status st = call_id(ctx, "GetAsset", id, &asset);
        if (st != VG_CLI_OK) return st;
        json_decref(*last);
        *last = asset;
        const char *status = json_string_value(json_object_get(asset, "Status"));
        if (!status || strcmp(status, "Processing") != 0) return final_asset(ctx, id, asset);
        if (timeout_ms > 0 && vg_mono_ms() - start >= timeout_ms)
            return vg_cli_fail(ctx, VG_CLI_TIMEOUT, "gave up; asset %s is still Processing", id);
        if ((st = vg_cli_sleep_ms(WAIT_POLL_MS)) != VG_CLI_OK)
            return vg_cli_fail(ctx, st, "interrupted; asset %s keeps processing on the server", id);
    }
}

vg_cli_status vg_cli_asset_wait(vg_cli_ctx *ctx, const char *id, int64_t timeout_ms, json_t **out)
{
    json_t *last = NULL;
    vg_cli_interrupt_arm();
    vg_cli_status st = poll_asset(ctx, id, timeout_ms, &last);
    vg_cli_interrupt_disarm();
    if (out)
        *out = last;
    else
        json_decref(last);
    return st;
}

/* ---- upload ------------------------------------------------------------------------------- */

static int is_url(const char *arg)
{
    return !strncasecmp(arg, "https://", 8) || !strncasecmp(arg, "http://", 7);
}

/* What the first bytes suggest; the server probes the content and has the last word. */
static const char *sniff_type(const unsigned char *d, size_t n)
{
    static const struct {
        size_t off, len;
        const char *magic, *type;
    } sigs[] = {
        {4, 4, "ftyp", "Video"},     {8, 4, "WAVE", "Audio"},     {0, 3, "ID3", "Audio"},
        {0, 2, "\xff\xfb", "Audio"}, {0, 2, "\xff\xf3", "Audio"}, {0, 2, "\xff\xf2", "Audio"},
    };
    if (vg_cli_media_sniff(d, n)) return "Image";
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (n >= sigs[i].off + sigs[i].len && !memcmp(d + sigs[i].off, sigs[i].magic, sigs[i].len))
            return sigs[i].type;
    return "Image";
}

/* The last path segment of a file name or URL, cut to the API's 64 characters. */
static char *default_name(const char *arg)
{
    size_t end = is_url(arg) ? strcspn(arg, "?#") : strlen(arg);
    while (end > 0 && arg[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && arg[start - 1] != '/')
        start--;
    size_t len = 0, chars = 0;
    while (start + len < end && chars < VG_ASSET_NAME_MAX_CHARS) {
        len++;
        while (start + len < end && ((unsigned char)arg[start + len] & 0xC0) == 0x80)
            len++;
        chars++;
    }
    return len ? vg_strndup(arg + start, len) : vg_strdup("asset");
}

static vg_cli_status read_file(vg_cli_ctx *ctx, const char *path, unsigned char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return vg_cli_fail(ctx, VG_CLI_USAGE, "cannot read %s: %s", path, strerror(errno));
    unsigned char *buf = vg_malloc(DATA_MAX_BYTES + 1);
    size_t n = fread(buf, 1, DATA_MAX_BYTES + 1, f);
    int failed = ferror(f);
    fclose(f);
    vg_cli_status st = VG_CLI_OK;
    if (failed)
        st = vg_cli_fail(ctx, VG_CLI_USAGE, "cannot read %s", path);
    else if (n > DATA_MAX_BYTES)
        st = vg_cli_fail(ctx, VG_CLI_USAGE, "%s is too big to upload (over %zu MiB); pass a URL",
                         path, DATA_MAX_BYTES >> 20);
    if (st != VG_CLI_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *len = n;
    return VG_CLI_OK;
}

/* Adds URL, or Data and (unless given) an AssetType from the file's bytes. */
static vg_cli_status add_source(vg_cli_ctx *ctx, const char *arg, const char *type, json_t *body)
{
    if (is_url(arg)) {
        json_object_set_new(body, "URL", json_string(arg));
        json_object_set_new(body, "AssetType", json_string(type ? type : "Image"));
        return VG_CLI_OK;
    }
    unsigned char *data = NULL;
    size_t len = 0;
    vg_cli_status st = read_file(ctx, arg, &data, &len);
    if (st != VG_CLI_OK) return st;
    char *b64 = vg_base64_encode(data, len);
    json_object_set_new(body, "Data", json_string(b64));
    json_object_set_new(body, "AssetType", json_string(type ? type : sniff_type(data, len)));
    free(b64);
    free(data);
    return VG_CLI_OK;
}

/* Sends CreateAsset; *id is the new asset's id (malloc'd). */
static vg_cli_status create(vg_cli_ctx *ctx, const char *arg, const char *name, const char *type,
                            const char *group, char **id)
{
    char *dflt = name ? NULL : default_name(arg);
    json_t *body = json_pack("{s:s}", "Name", name ? name : dflt);
    free(dflt);
    if (!body) return vg_cli_fail(ctx, VG_CLI_USAGE, "--name must be UTF-8 text");
    if (group) json_object_set_new(body, "GroupId", json_string(group));
    vg_cli_status st = add_source(ctx, arg, type, body);
    json_t *res = NULL;
    if (st == VG_CLI_OK) st = vg_cli_asset_call(ctx, "CreateAsset", body, &res);
    json_decref(body);
    const char *got = json_string_value(json_object_get(res, "Id"));
    if (st == VG_CLI_OK && !got) st = vg_cli_fail(ctx, VG_CLI_API, "the reply has no asset Id");
    if (st == VG_CLI_OK) *id = vg_strdup(got);
    json_decref(res);
    return st;
}

vg_cli_status vg_cli_asset_upload_image(vg_cli_ctx *ctx, const char *path, char **id)
{
    *id = NULL;
    vg_cli_status st = create(ctx, path, NULL, "Image", NULL, id);
    if (st == VG_CLI_OK) st = vg_cli_asset_wait(ctx, *id, 0, NULL);
    if (st != VG_CLI_OK && *id) {
        free(*id);
        *id = NULL;
    }
    return st;
}

static const vg_cli_opt upload_opts[] = {
    {"group", 0, VG_CLI_OPT_VALUE, "G", "asset group id (default: the key's default group)"},
    {"name", 0, VG_CLI_OPT_VALUE, "N", "asset name (default: the file name)"},
    {"type", 0, VG_CLI_OPT_VALUE, "T", "Image, Video or Audio (default: from the file's bytes)"},
    {"wait", 0, VG_CLI_OPT_FLAG, NULL, "wait until the asset is Active (exit 1 if it fails)"},
    {"timeout", 0, VG_CLI_OPT_VALUE, "S", "with --wait: give up after S seconds (exit 5)"},
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the asset as JSON"},
    {0},
};

static vg_cli_status run_upload(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    long long timeout_s = 0;
    int present;
    vg_cli_status st = vg_cli_args_int(ctx, args, "timeout", 1, 86400, &timeout_s, &present);
    char *id = NULL;
    if (st == VG_CLI_OK)
        st = create(ctx, args->pos[0], vg_cli_args_get(args, "name"), vg_cli_args_get(args, "type"),
                    vg_cli_args_get(args, "group"), &id);
    if (st != VG_CLI_OK) return st;
    json_t *asset = NULL;
    if (vg_cli_args_has(args, "wait")) st = vg_cli_asset_wait(ctx, id, timeout_s * 1000, &asset);
    if (vg_cli_args_has(args, "json") && (st == VG_CLI_OK || st == VG_CLI_TASK_FAILED)) {
        if (!asset) asset = json_pack("{s:s, s:s}", "Id", id, "Status", "Processing");
        vg_cli_print_json(asset);
    } else if (st == VG_CLI_OK) {
        printf("%s\n", id);
    }
    json_decref(asset);
    free(id);
    return st;
}

/* ---- group-create, list, get, delete -------------------------------------------------------- */

static const vg_cli_opt group_opts[] = {
    {"name", 0, VG_CLI_OPT_VALUE, "N", "group name (required, at most 64 characters)"},
    {"description", 0, VG_CLI_OPT_VALUE, "D", "description (at most 300 characters)"},
    {0},
};

static vg_cli_status run_group_create(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    const char *name, *desc = vg_cli_args_get(args, "description");
    vg_cli_status st = vg_cli_args_require(ctx, args, "name", &name);
    if (st != VG_CLI_OK) return st;
    json_t *body = json_pack("{s:s}", "Name", name), *res = NULL;
    if (!body) return vg_cli_fail(ctx, VG_CLI_USAGE, "--name must be UTF-8 text");
    if (desc) json_object_set_new(body, "Description", json_string(desc));
    st = vg_cli_asset_call(ctx, "CreateAssetGroup", body, &res);
    if (st == VG_CLI_OK) printf("%s\n", json_string_value(json_object_get(res, "Id")));
    json_decref(res);
    json_decref(body);
    return st;
}

static void print_asset_row(const json_t *a)
{
    char id[64], status[16], type[16], name[VG_ASSET_NAME_MAX_CHARS * 4 + 1], created[40];
    printf("%-38s %-10s %-6s %-24s %s\n", vg_cli_json_text(a, "Id", id, sizeof id),
           vg_cli_json_text(a, "Status", status, sizeof status),
           vg_cli_json_text(a, "AssetType", type, sizeof type),
           vg_cli_json_text(a, "Name", name, sizeof name),
           vg_cli_json_text(a, "CreateTime", created, sizeof created));
}

/* Every page of ListAssets (newest first) into items. */
static vg_cli_status list_all(vg_cli_ctx *ctx, const char *group, json_t *items)
{
    vg_cli_status st = VG_CLI_OK;
    for (int page = 1; page <= LIST_MAX_PAGES && st == VG_CLI_OK; page++) {
        json_t *body =
                   json_pack("{s:i, s:i}", "PageNumber", page, "PageSize", VG_ASSET_MAX_PAGE_SIZE),
               *res = NULL;
        if (group) json_object_set_new(body, "Filter", json_pack("{s:[s]}", "GroupIds", group));
        st = vg_cli_asset_call(ctx, "ListAssets", body, &res);
        json_decref(body);
        json_t *got = json_object_get(res, "Items");
        size_t n = json_array_size(got);
        if (st == VG_CLI_OK) json_array_extend(items, got);
        json_int_t total = json_integer_value(json_object_get(res, "TotalCount"));
        json_decref(res);
        if (n == 0 || (json_int_t)json_array_size(items) >= total) break;
    }
    return st;
}

static const vg_cli_opt list_opts[] = {
    {"group", 0, VG_CLI_OPT_VALUE, "G", "only the assets of this group"},
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the assets as JSON"},
    {0},
};

static vg_cli_status run_list(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    json_t *items = json_array();
    vg_cli_status st = list_all(ctx, vg_cli_args_get(args, "group"), items);
    if (st == VG_CLI_OK && vg_cli_args_has(args, "json")) {
        vg_cli_print_json(items);
    } else if (st == VG_CLI_OK) {
        size_t i;
        json_t *a;
        printf("%-38s %-10s %-6s %-24s %s\n", "ID", "STATUS", "TYPE", "NAME", "CREATED");
        json_array_foreach(items, i, a) print_asset_row(a);
    }
    json_decref(items);
    return st;
}

static const vg_cli_opt json_opts[] = {
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the server's JSON instead of text"}, {0}};

static vg_cli_status run_get(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    json_t *asset;
    vg_cli_status st = call_id(ctx, "GetAsset", args->pos[0], &asset);
    if (st != VG_CLI_OK) return st;
    if (vg_cli_args_has(args, "json"))
        vg_cli_print_json(asset);
    else
        vg_cli_print_fields(stdout, asset);
    json_decref(asset);
    return VG_CLI_OK;
}

static vg_cli_status run_delete(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    json_t *res;
    vg_cli_status st = call_id(ctx, "DeleteAsset", args->pos[0], &res);
    if (st == VG_CLI_OK) printf("deleted %s\n", args->pos[0]);
    json_decref(res);
    return st;
}

static const vg_cli_opt no_opts[] = {{0}};

const vg_cli_command vg_cli_cmd_assets_group_create = {
    .name = "assets group-create",
    .synopsis = "--name N [--description D]",
    .summary = "create an asset group and print its id",
    .opts = group_opts,
    .auth = VG_CLI_AUTH_USER,
    .run = run_group_create,
};

const vg_cli_command vg_cli_cmd_assets_upload = {
    .name = "assets upload",
    .synopsis = "FILE_OR_URL [--group G] [--name N] [--type Image|Video|Audio] [--wait]",
    .summary = "create an asset from a file or an https:// URL and print its id",
    .min_pos = 1,
    .max_pos = 1,
    .opts = upload_opts,
    .auth = VG_CLI_AUTH_USER,
    .run = run_upload,
};

const vg_cli_command vg_cli_cmd_assets_list = {
    .name = "assets list",
    .synopsis = "[--group G] [--json]",
    .summary = "list your assets, newest first",
    .opts = list_opts,
    .auth = VG_CLI_AUTH_USER,
    .run = run_list,
};

const vg_cli_command vg_cli_cmd_assets_get = {
    .name = "assets get",
    .synopsis = "ID [--json]",
    .summary = "show an asset",
    .min_pos = 1,
    .max_pos = 1,
    .opts = json_opts,
    .auth = VG_CLI_AUTH_USER,
    .run = run_get,
};

const vg_cli_command vg_cli_cmd_assets_delete = {
    .name = "assets delete",
    .synopsis = "ID",
    .summary = "delete an asset (tasks already submitted keep its content)",
    .min_pos = 1,
    .max_pos = 1,
    .opts = no_opts,
    .auth = VG_CLI_AUTH_USER,
    .run = run_delete,
};
