/*
 * main.c - `vidgate`, the command-line client of the vidgate API.
 *
 * Finds the command in the table (commands may be several words: "admin keys create"), parses its
 * options together with the global ones, resolves the server URL and the key, runs the handler,
 * and is the only place that prints an error. The exit status is the handler's status (ctx.h).
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/ctx.h"
#include "cli/http.h"
#include "common/alloc.h"

#define DEFAULT_BASE_URL "http://127.0.0.1:8080"

static const vg_cli_command *const commands[] = {
    &vg_cli_cmd_generate,
    &vg_cli_cmd_status,
    &vg_cli_cmd_wait,
    &vg_cli_cmd_download,
    &vg_cli_cmd_list,
    &vg_cli_cmd_cancel,
    &vg_cli_cmd_me,
    &vg_cli_cmd_keys_create,
    &vg_cli_cmd_keys_list,
    &vg_cli_cmd_keys_revoke,
    &vg_cli_cmd_keys_credit,
    &vg_cli_cmd_keys_debit,
    &vg_cli_cmd_keys_update,
    &vg_cli_cmd_keys_ledger,
    &vg_cli_cmd_usage,
    &vg_cli_cmd_admin_tasks,
    &vg_cli_cmd_assets_group_create,
    &vg_cli_cmd_assets_upload,
    &vg_cli_cmd_assets_list,
    &vg_cli_cmd_assets_get,
    &vg_cli_cmd_assets_delete,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const vg_cli_opt global_opts[] = {
    {"base-url", 0, VG_CLI_OPT_VALUE, "URL",
     "server (default $VIDGATE_BASE_URL, else " DEFAULT_BASE_URL ")"},
    {"key", 0, VG_CLI_OPT_VALUE, "KEY",
     "API key (default $VIDGATE_API_KEY; admin commands $VIDGATE_ADMIN_KEY)"},
    {"quiet", 'q', VG_CLI_OPT_FLAG, NULL, "no progress display"},
    {"help", 'h', VG_CLI_OPT_FLAG, NULL, "show help (vidgate COMMAND --help for a command)"},
    {0},
};

static const char exit_help[] =
    "exit status:\n"
    "  0    success\n"
    "  1    the task failed or was cancelled (generate, wait)\n"
    "  2    usage error (bad option or argument, unreadable input file, no key)\n"
    "  3    HTTP/API error: the server refused the request (its message and code are shown)\n"
    "  4    network error: cannot connect, or the connection failed\n"
    "  5    timeout: --timeout passed before the task finished\n"
    "  6    cannot write the output file\n"
    "  130  interrupted (Ctrl-C); the task continues on the server\n";

static void print_usage(FILE *out)
{
    fprintf(out, "usage: vidgate [--base-url URL] [--key KEY] COMMAND [options]\n\n"
                 "Client for the vidgate video-generation API.\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-20s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\nglobal options:\n");
    vg_cli_args_print_help(out, global_opts);
    fprintf(out,
            "\nenvironment: VIDGATE_BASE_URL, VIDGATE_API_KEY, VIDGATE_ADMIN_KEY\n"
            "(prefer the environment to --key: command lines are visible to other users)\n\n"
            "%s",
            exit_help);
}

static void print_command_usage(FILE *out, const vg_cli_command *cmd)
{
    fprintf(out, "usage: vidgate %s %s\n\n%s\n\noptions:\n", cmd->name, cmd->synopsis,
            cmd->summary);
    vg_cli_args_print_help(out, cmd->opts);
    vg_cli_args_print_help(out, global_opts);
    fprintf(out, "\n%s", exit_help);
}

/* Counts the words of name that argv starts with; 0 unless all of them match. */
static size_t match_words(const char *name, int argc, char **argv)
{
    size_t n = 0;
    const char *p = name;
    while (*p) {
        size_t len = strcspn(p, " ");
        if ((int)n >= argc || strlen(argv[n]) != len || strncmp(argv[n], p, len) != 0) return 0;
        n++;
        p += len;
        p += *p == ' ';
    }
    return n;
}

/* Index of the first argument that is not a global option (or its value). */
static int skip_global_options(int argc, char **argv, int i)
{
    while (i < argc && argv[i][0] == '-' && argv[i][1] != '\0' && strcmp(argv[i], "--") != 0) {
        int takes_value = (strcmp(argv[i], "--base-url") == 0 || strcmp(argv[i], "--key") == 0);
        i += takes_value ? 2 : 1;
    }
    return i;
}

/* The longest command whose words start at argv[0], and how many words it used. */
static const vg_cli_command *find_command(int argc, char **argv, size_t *nwords)
{
    const vg_cli_command *best = NULL;
    *nwords = 0;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        size_t n = match_words(commands[i]->name, argc, argv);
        if (n > *nwords) {
            best = commands[i];
            *nwords = n;
        }
    }
    return best;
}

/* Lists the commands whose names start with the given words ("admin", "admin keys"). */
static int print_group(FILE *out, int nwords, char **words)
{
    char prefix[128] = "";
    size_t len = 0;
    for (int i = 0; i < nwords && len < sizeof prefix; i++)
        len += (size_t)snprintf(prefix + len, sizeof prefix - len, "%s%s", i ? " " : "", words[i]);
    if (len == 0 || len >= sizeof prefix) return 0;
    int found = 0;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *name = commands[i]->name;
        if (strncmp(name, prefix, len) != 0 || (name[len] != ' ' && name[len] != '\0')) continue;
        if (!found) fprintf(out, "commands:\n");
        found = 1;
        fprintf(out, "  vidgate %s %s\n", name, commands[i]->synopsis);
    }
    return found;
}

static vg_cli_status resolve_base_url(vg_cli_ctx *ctx, const vg_cli_args *args)
{
    const char *url = vg_cli_args_get(args, "base-url");
    if (!url) url = getenv("VIDGATE_BASE_URL");
    if (!url || !*url) url = DEFAULT_BASE_URL;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return vg_cli_fail(ctx, VG_CLI_USAGE, "the base URL must start with http:// or https://");
    ctx->base_url = vg_strdup(url);
    size_t n = strlen(ctx->base_url);
    while (n > 0 && ctx->base_url[n - 1] == '/')
        ctx->base_url[--n] = '\0';
    return VG_CLI_OK;
}

static vg_cli_status resolve_key(vg_cli_ctx *ctx, const vg_cli_args *args, vg_cli_auth auth)
{
    const char *env = auth == VG_CLI_AUTH_ADMIN ? "VIDGATE_ADMIN_KEY" : "VIDGATE_API_KEY";
    const char *key = vg_cli_args_get(args, "key");
    if (!key) key = getenv(env);
    if (!key || !*key) return vg_cli_fail(ctx, VG_CLI_USAGE, "no key: set %s or pass --key", env);
    ctx->key = vg_strdup(key);
    return VG_CLI_OK;
}

/* Parses and checks the command's arguments; 1 in *help_shown when --help answered instead. */
static vg_cli_status prepare(vg_cli_ctx *ctx, const vg_cli_command *cmd, int argc, char **argv,
                             vg_cli_args *args, int *help_shown)
{
    const vg_cli_opt *const tables[] = {global_opts, cmd->opts};
    vg_cli_status st = vg_cli_args_parse(ctx, tables, 2, argc, argv, args);
    if (st != VG_CLI_OK) return st;
    if ((*help_shown = vg_cli_args_has(args, "help"))) {
        print_command_usage(stdout, cmd);
        return VG_CLI_OK;
    }
    if (args->npos < cmd->min_pos || args->npos > cmd->max_pos)
        return vg_cli_fail(ctx, VG_CLI_USAGE, "usage: vidgate %s %s", cmd->name, cmd->synopsis);
    ctx->quiet = vg_cli_args_has(args, "quiet");
    st = resolve_base_url(ctx, args);
    if (st == VG_CLI_OK) st = resolve_key(ctx, args, cmd->auth);
    return st;
}

/* Runs cmd with argv minus its command words (rest = arguments around them). */
static vg_cli_status run_command(vg_cli_ctx *ctx, const vg_cli_command *cmd, int argc, char **argv)
{
    vg_cli_args args = {0};
    int help_shown = 0;
    vg_cli_status st = prepare(ctx, cmd, argc, argv, &args, &help_shown);
    if (st == VG_CLI_OK && !help_shown) st = cmd->run(ctx, &args);
    vg_cli_args_free(&args);
    return st;
}

/* No command matched: top-level help, a group listing, or a usage error. */
static vg_cli_status no_command(vg_cli_ctx *ctx, int argc, char **argv, int cmd_at)
{
    int wants_help = 0;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) wants_help = 1;
    if (cmd_at >= argc) {
        print_usage(wants_help ? stdout : stderr);
        return wants_help ? VG_CLI_OK : VG_CLI_USAGE;
    }
    int typed = 0;
    while (cmd_at + typed < argc && argv[cmd_at + typed][0] != '-')
        typed++;
    /* "admin keys frobnicate": list what "admin keys" offers, then say what was wrong. */
    FILE *out = wants_help ? stdout : stderr;
    for (int n = typed; n > 0; n--) {
        if (!print_group(out, n, argv + cmd_at)) continue;
        if (n == typed) return wants_help ? VG_CLI_OK : VG_CLI_USAGE;
        break;
    }
    return vg_cli_fail(ctx, VG_CLI_USAGE, "unknown command '%s' (see vidgate --help)",
                       argv[cmd_at + (typed > 0 ? typed - 1 : 0)]);
}

static vg_cli_status dispatch(vg_cli_ctx *ctx, int argc, char **argv)
{
    int cmd_at = skip_global_options(argc, argv, 1);
    size_t nwords = 0;
    const vg_cli_command *cmd =
        cmd_at < argc ? find_command(argc - cmd_at, argv + cmd_at, &nwords) : NULL;
    if (!cmd) return no_command(ctx, argc, argv, cmd_at);
    /* The options around the command words, in their original order. */
    char **rest = vg_calloc((size_t)argc, sizeof *rest);
    int nrest = 0;
    for (int i = 1; i < argc; i++)
        if (i < cmd_at || i >= cmd_at + (int)nwords) rest[nrest++] = argv[i];
    vg_cli_status st = run_command(ctx, cmd, nrest, rest);
    free(rest);
    return st;
}

int main(int argc, char **argv)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    vg_cli_ctx ctx = {0};
    vg_cli_status st = dispatch(&ctx, argc, argv);
    if (st == VG_CLI_INTERRUPTED) vg_cli_fail(&ctx, st, "interrupted");
    vg_cli_report(&ctx);
    vg_cli_http_cleanup(&ctx);
    if (ctx.key) explicit_bzero(ctx.key, strlen(ctx.key));
    free(ctx.key);
    free(ctx.base_url);
    curl_global_cleanup();
    return (int)st;
}
