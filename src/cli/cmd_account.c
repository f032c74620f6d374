/*
 * cmd_account.c - `vidgate me` and the admin key commands (spec §7).
 *
 * Secrets: the only key this CLI ever prints is the new secret returned by `admin keys create`,
 * because the server shows it once and nowhere else.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/format.h"
#include "cli/http.h"
#include "common/alloc.h"

static const vg_cli_opt json_only_opts[] = {
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the server's JSON instead of text"}, {0}};

/* A GET whose answer is printed as JSON or by show(). */
static vg_cli_status get_and_show(vg_cli_ctx *ctx, const vg_cli_args *args, const char *path,
                                  void (*show)(FILE *out, const json_t *obj))
{
    vg_cli_request req = {.method = "GET", .path = path};
    json_t *obj;
    vg_cli_status st = vg_cli_http_json(ctx, &req, &obj);
    if (st != VG_CLI_OK) return st;
    if (vg_cli_args_has(args, "json"))
        vg_cli_print_json(obj);
    else
        show(stdout, obj);
    json_decref(obj);
    return VG_CLI_OK;
}

/* ---- me ---- */

static vg_cli_status run_me(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    return get_and_show(ctx, args, "/v1/me", vg_cli_print_fields);
}

const vg_cli_command vg_cli_cmd_me = {
    .name = "me",
    .synopsis = "[--json]",
    .summary = "show your key: name, balance, held and available amounts",
    .min_pos = 0,
    .max_pos = 0,
    .opts = json_only_opts,
    .auth = VG_CLI_AUTH_USER,
    .run = run_me,
};

/* ---- admin keys create ---- */

static const vg_cli_opt create_opts[] = {
    {"name", 0, VG_CLI_OPT_VALUE, "N", "a label for the key (required)"},
    {"balance", 0, VG_CLI_OPT_VALUE, "AMOUNT", "starting balance, e.g. 100.00 (server default)"},
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the server's JSON instead of text"},
    {0},
};

static void show_created(const json_t *key)
{
    char id[96], name[160], balance[64], secret[128];
    vg_cli_json_text(key, "id", id, sizeof id);
    vg_cli_json_text(key, "name", name, sizeof name);
    vg_cli_json_text(key, "balance", balance, sizeof balance);
    vg_cli_json_text(key, "key", secret, sizeof secret);
    printf("created %s \"%s\"%s%s\n\n", id, name, *balance ? ", balance " : "", balance);
    printf("    %s\n\n", secret);
    printf("This secret is shown once: store it now (e.g. as VIDGATE_API_KEY).\n");
}

static vg_cli_status run_keys_create(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    const char *name;
    vg_cli_status st = vg_cli_args_require(ctx, args, "name", &name);
    if (st != VG_CLI_OK) return st;
    json_t *body = json_pack("{s:s}", "name", name);
    if (!body) return vg_cli_fail(ctx, VG_CLI_USAGE, "--name must be UTF-8 text");
    const char *balance = vg_cli_args_get(args, "balance");
    /* A string keeps the amount exact; the server parses decimals itself (spec §7). */
    if (balance) json_object_set_new(body, "balance", json_string(balance));
    vg_cli_request req = {.method = "POST", .path = "/admin/keys", .body = body};
    json_t *key;
    st = vg_cli_http_json(ctx, &req, &key);
    json_decref(body);
    if (st != VG_CLI_OK) return st;
    if (vg_cli_args_has(args, "json"))
        vg_cli_print_json(key);
    else
        show_created(key);
    json_decref(key);
    return VG_CLI_OK;
}

const vg_cli_command vg_cli_cmd_keys_create = {
    .name = "admin keys create",
    .synopsis = "--name N [--balance AMOUNT] [--json]",
    .summary = "create an API key and print its secret (admin)",
    .min_pos = 0,
    .max_pos = 0,
    .opts = create_opts,
    .auth = VG_CLI_AUTH_ADMIN,
    .run = run_keys_create,
};

/* ---- admin keys list ---- */

static vg_cli_status run_keys_list(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    return get_and_show(ctx, args, "/admin/keys", vg_cli_print_key_table);
}

const vg_cli_command vg_cli_cmd_keys_list = {
    .name = "admin keys list",
    .synopsis = "[--json]",
    .summary = "list API keys (admin)",
    .min_pos = 0,
    .max_pos = 0,
    .opts = json_only_opts,
    .auth = VG_CLI_AUTH_ADMIN,
    .run = run_keys_list,
};

/* ---- admin keys revoke ---- */

static vg_cli_status run_keys_revoke(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    const char *id = args->pos[0];
    char *path = vg_cli_id_path("/admin/keys/", id, "");
    vg_cli_request req = {.method = "DELETE", .path = path};
    json_t *reply;
    vg_cli_status st = vg_cli_http_json(ctx, &req, &reply);
    free(path);
    if (st != VG_CLI_OK) return st;
    /* The reply may be the key object or empty (204); either way the id is the user's. */
    if (vg_cli_args_has(args, "json"))
        vg_cli_print_json(reply);
    else
        printf("%s revoked\n", id);
    json_decref(reply);
    return VG_CLI_OK;
}

const vg_cli_command vg_cli_cmd_keys_revoke = {
    .name = "admin keys revoke",
    .synopsis = "ID [--json]",
    .summary = "revoke an API key (admin)",
    .min_pos = 1,
    .max_pos = 1,
    .opts = json_only_opts,
    .auth = VG_CLI_AUTH_ADMIN,
    .run = run_keys_revoke,
};
