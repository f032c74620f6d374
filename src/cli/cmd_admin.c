/*
 * cmd_admin.c - the operator's commands beyond creating and listing keys: money movements on a
 * key (credit, debit) and its ledger, changing a key's name, models and limits, usage reports and
 * every task (spec §7; routes in README "API summary").
 *
 * Times (--from, --to, --expires) are read here with common/isotime.h, as unix seconds or ISO
 * 8601, and sent as unix seconds, so a typo is a usage error before anything is sent.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/command.h"
#include "cli/format.h"
#include "cli/http.h"
#include "common/alloc.h"
#include "common/isotime.h"
#include "common/limits.h"
#include "common/status.h"

/* Sends a request with an optional body, prints the answer as JSON or with show(). */
static vg_cli_status send_and_show(vg_cli_ctx *ctx, const vg_cli_args *args, const char *method,
                                   const char *path, json_t *body,
                                   void (*show)(FILE *out, const json_t *obj))
{
    vg_cli_request req = {.method = method, .path = path, .body = body};
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

/* Appends "&name=value" (or "?…" first) to *q for each option given; values escaped. */
static void add_query(char **q, const char *param, const char *value)
{
    if (!value) return;
    char *esc = vg_cli_escape(value);
    char *next = vg_asprintf("%s%c%s=%s", *q, **q ? '&' : '?', param, esc);
    free(esc);
    free(*q);
    *q = next;
}

/* A time option as unix seconds text into out; absent leaves out "". */
static vg_cli_status time_opt(vg_cli_ctx *ctx, const vg_cli_args *args, const char *name, char *out,
                              size_t outlen)
{
    const char *v = vg_cli_args_get(args, name);
    int64_t t;
    out[0] = '\0';
    if (!v) return VG_CLI_OK;
    if (vg_isotime_parse(v, &t) != VG_OK || t < 0)
        return vg_cli_fail(ctx, VG_CLI_USAGE,
                           "--%s: \"%s\" is not unix seconds nor an ISO 8601 time such as "
                           "2026-11-26 or 2026-11-26T10:00:00Z",
                           name, v);
    snprintf(out, outlen, "%lld", (long long)t);
    return VG_CLI_OK;
}

/* ---- admin keys credit / debit ---- */

static const vg_cli_opt adjust_opts[] = {
    {"amount", 0, VG_CLI_OPT_VALUE, "AMOUNT", "how much, e.g. 10.00 (required)"},
    {"note", 0, VG_CLI_OPT_VALUE, "TEXT", "why, kept in the ledger"},
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the server's JSON instead of text"},
    {0},
};

static vg_cli_status adjust(vg_cli_ctx *ctx, const vg_cli_args *args, const char *what)
{
    const char *amount;
    vg_cli_status st = vg_cli_args_require(ctx, args, "amount", &amount);
    if (st != VG_CLI_OK) return st;
    /* A string keeps the amount exact; the server parses decimals itself. */
    json_t *body = json_pack("{s:s}", "amount", amount);
    const char *note = vg_cli_args_get(args, "note");
    if (!body || (note && json_object_set_new(body, "note", json_string(note))))
        st = vg_cli_fail(ctx, VG_CLI_USAGE, "--amount and --note must be UTF-8 text");
    char *path = vg_cli_id_path("/admin/keys/", args->pos[0], what);
    if (st == VG_CLI_OK) st = send_and_show(ctx, args, "POST", path, body, vg_cli_print_fields);
    free(path);
    json_decref(body);
    return st;
}

static vg_cli_status run_keys_credit(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    return adjust(ctx, args, "/credit");
}

static vg_cli_status run_keys_debit(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    return adjust(ctx, args, "/debit");
}

const vg_cli_command vg_cli_cmd_keys_credit = {
    .name = "admin keys credit",
    .synopsis = "ID --amount AMOUNT [--note TEXT] [--json]",
    .summary = "add money to a key's balance (admin)",
    .min_pos = 1,
    .max_pos = 1,
    .opts = adjust_opts,
    .auth = VG_CLI_AUTH_ADMIN,
    .run = run_keys_credit,
};

const vg_cli_command vg_cli_cmd_keys_debit = {
    .name = "admin keys debit",
    .synopsis = "ID --amount AMOUNT [--note TEXT] [--json]",
    .summary = "take money from a key's available balance (admin)",
    .min_pos = 1,
    .max_pos = 1,
    .opts = adjust_opts,
    .auth = VG_CLI_AUTH_ADMIN,
    .run = run_keys_debit,
};

/* ---- admin keys update ---- */

static const vg_cli_opt update_opts[] = {
    {"name", 0, VG_CLI_OPT_VALUE, "N", "a new label"},
    {"model", 0, VG_CLI_OPT_LIST, "MODEL", "a model the key may use (repeat; replaces the list)"},
    {"all-models", 0, VG_CLI_OPT_FLAG, NULL, "the key may use every model"},
    {"max-active", 0, VG_CLI_OPT_VALUE, "N", "queued + running tasks at once (0 = no limit)"},
    {"rate-limit", 0, VG_CLI_OPT_VALUE, "N", "requests per minute (0 = no limit)"},
    {"expires", 0, VG_CLI_OPT_VALUE, "TIME", "unix seconds, ISO 8601, or \"never\""},
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the server's JSON instead of text"},
    {0},
};

/* The PATCH body from the options given; NULL after recording a usage error. */
static json_t *update_body(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    json_t *body = json_object();
    const char *name = vg_cli_args_get(args, "name");
    if (name && json_object_set_new(body, "name", json_string(name))) goto bad_text;
    if (vg_cli_args_has(args, "all-models") && vg_cli_args_count(args, "model")) {
        vg_cli_fail(ctx, VG_CLI_USAGE, "--model and --all-models exclude each other");
        goto fail;
    }
    if (vg_cli_args_has(args, "all-models"))
        json_object_set_new(body, "allowed_models", json_null());
    if (vg_cli_args_count(args, "model")) {
        json_t *arr = json_array();
        for (size_t i = 0; vg_cli_args_nth(args, "model", i); i++)
            json_array_append_new(arr, json_string(vg_cli_args_nth(args, "model", i)));
        json_object_set_new(body, "allowed_models", arr);
    }
    static const struct {
        const char *opt, *field;
    } ints[] = {{"max-active", "max_active_tasks"}, {"rate-limit", "rate_limit_per_min"}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        long long v;
        int present;
        if (vg_cli_args_int(ctx, args, ints[i].opt, 0, 1000000, &v, &present) != VG_CLI_OK)
            goto fail;
        if (present) json_object_set_new(body, ints[i].field, json_integer(v));
    }
    const char *exp = vg_cli_args_get(args, "expires");
    if (exp && !strcmp(exp, "never")) {
        json_object_set_new(body, "expires_at", json_null());
    } else if (exp) {
        char t[32];
        if (time_opt(ctx, args, "expires", t, sizeof t) != VG_CLI_OK) goto fail;
        json_object_set_new(body, "expires_at", json_integer(strtoll(t, NULL, 10)));
    }
    if (json_object_size(body) == 0) {
        vg_cli_fail(ctx, VG_CLI_USAGE, "nothing to change: give at least one option");
        goto fail;
    }
    return body;
bad_text:
    vg_cli_fail(ctx, VG_CLI_USAGE, "values must be UTF-8 text");
fail:
    json_decref(body);
    return NULL;
}

static vg_cli_status run_keys_update(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    json_t *body = update_body(ctx, args);
    if (!body) return VG_CLI_USAGE;
    char *path = vg_cli_id_path("/admin/keys/", args->pos[0], "");
    vg_cli_status st = send_and_show(ctx, args, "PATCH", path, body, vg_cli_print_fields);
    free(path);
    json_decref(body);
    return st;
}

const vg_cli_command vg_cli_cmd_keys_update = {
    .name = "admin keys update",
    .synopsis = "ID [--name N] [--model M]... [--all-models] [--max-active N] [--rate-limit N] "
                "[--expires TIME|never] [--json]",
    .summary = "change a key's name, models or limits (admin)",
    .min_pos = 1,
    .max_pos = 1,
    .opts = update_opts,
    .auth = VG_CLI_AUTH_ADMIN,
    .run = run_keys_update,
};

/* ---- admin keys ledger ---- */

static const vg_cli_opt ledger_opts[] = {
    {"limit", 0, VG_CLI_OPT_VALUE, "N", "at most N entries (server default; max 100)"},
    {"before", 0, VG_CLI_OPT_VALUE, "ENTRY", "the page before this entry id (next_before)"},
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the server's JSON instead of text"},
    {0},
};

static void show_ledger(FILE *out, const json_t *list)
{
    vg_cli_print_ledger_table(out, list);
    const json_t *next = json_object_get(list, "next_before");
    if (json_is_true(json_object_get(list, "has_more")) && json_is_integer(next))
        fprintf(stderr, "more: --before %lld\n", (long long)json_integer_value(next));
}

static vg_cli_status run_keys_ledger(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    long long v;
    int present;
    vg_cli_status st = vg_cli_args_int(ctx, args, "limit", 1, VG_MAX_LIST_LIMIT, &v, &present);
    if (st == VG_CLI_OK) st = vg_cli_args_int(ctx, args, "before", 1, INT64_MAX, &v, &present);
    if (st != VG_CLI_OK) return st;
    char *q = vg_strdup("");
    add_query(&q, "limit", vg_cli_args_get(args, "limit"));
    add_query(&q, "before", vg_cli_args_get(args, "before"));
    char *path = vg_cli_id_path("/admin/keys/", args->pos[0], "/ledger");
    char *full = vg_asprintf("%s%s", path, q);
    st = send_and_show(ctx, args, "GET", full, NULL, show_ledger);
    free(full);
    free(path);
    free(q);
    return st;
}

const vg_cli_command vg_cli_cmd_keys_ledger = {
    .name = "admin keys ledger",
    .synopsis = "ID [--limit N] [--before ENTRY] [--json]",
    .summary = "every money movement of a key, newest first (admin)",
    .min_pos = 1,
    .max_pos = 1,
    .opts = ledger_opts,
    .auth = VG_CLI_AUTH_ADMIN,
    .run = run_keys_ledger,
};

/* ---- admin usage ---- */

static const vg_cli_opt usage_opts[] = {
    {"from", 0, VG_CLI_OPT_VALUE, "TIME", "start (unix seconds or ISO 8601; default: the start)"},
    {"to", 0, VG_CLI_OPT_VALUE, "TIME", "end, exclusive (default: now)"},
    {"by", 0, VG_CLI_OPT_VALUE, "model|key", "how to group (default model)"},
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the server's JSON instead of text"},
    {0},
};

static vg_cli_status run_usage(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    char from[32], to[32];
    const char *by = vg_cli_args_get(args, "by");
    if (by && strcmp(by, "model") && strcmp(by, "key"))
        return vg_cli_fail(ctx, VG_CLI_USAGE, "--by must be model or key");
    vg_cli_status st = time_opt(ctx, args, "from", from, sizeof from);
    if (st == VG_CLI_OK) st = time_opt(ctx, args, "to", to, sizeof to);
    if (st != VG_CLI_OK) return st;
    char *q = vg_strdup("");
    add_query(&q, "from", from[0] ? from : NULL);
    add_query(&q, "to", to[0] ? to : NULL);
    add_query(&q, "group_by", by);
    char *path = vg_asprintf("/admin/usage%s", q);
    st = send_and_show(ctx, args, "GET", path, NULL, vg_cli_print_usage_table);
    free(path);
    free(q);
    return st;
}

const vg_cli_command vg_cli_cmd_usage = {
    .name = "admin usage",
    .synopsis = "[--from TIME] [--to TIME] [--by model|key] [--json]",
    .summary = "completed tasks, tokens and cost over a time range (admin)",
    .min_pos = 0,
    .max_pos = 0,
    .opts = usage_opts,
    .auth = VG_CLI_AUTH_ADMIN,
    .run = run_usage,
};

/* ---- admin tasks ---- */

static const vg_cli_opt tasks_opts[] = {
    {"key-id", 0, VG_CLI_OPT_VALUE, "ID", "only the tasks of this key"},
    {"status", 0, VG_CLI_OPT_VALUE, "S", "only tasks in this status"},
    {"limit", 0, VG_CLI_OPT_VALUE, "N", "at most N tasks (server default; max 100)"},
    {"after", 0, VG_CLI_OPT_VALUE, "ID", "the page after this task id"},
    {"json", 0, VG_CLI_OPT_FLAG, NULL, "print the server's JSON instead of text"},
    {0},
};

static void show_tasks(FILE *out, const json_t *list)
{
    vg_cli_print_admin_task_table(out, list);
    char last[96];
    vg_cli_json_text(list, "last_id", last, sizeof last);
    if (json_is_true(json_object_get(list, "has_more")) && last[0])
        fprintf(stderr, "more: vidgate admin tasks --after %s\n", last);
}

static vg_cli_status run_tasks(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    long long v;
    int present;
    vg_cli_status st = vg_cli_args_int(ctx, args, "limit", 1, VG_MAX_LIST_LIMIT, &v, &present);
    if (st != VG_CLI_OK) return st;
    static const struct {
        const char *opt, *param;
    } params[] = {
        {"key-id", "key_id"}, {"status", "status"}, {"limit", "limit"}, {"after", "after"}};
    char *q = vg_strdup("");
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        add_query(&q, params[i].param, vg_cli_args_get(args, params[i].opt));
    char *path = vg_asprintf("/admin/tasks%s", q);
    st = send_and_show(ctx, args, "GET", path, NULL, show_tasks);
    free(path);
    free(q);
    return st;
}

const vg_cli_command vg_cli_cmd_admin_tasks = {
    .name = "admin tasks",
    .synopsis = "[--key-id ID] [--status S] [--limit N] [--after ID] [--json]",
    .summary = "every key's tasks, newest first (admin)",
    .min_pos = 0,
    .max_pos = 0,
    .opts = tasks_opts,
    .auth = VG_CLI_AUTH_ADMIN,
    .run = run_tasks,
};
