/*
 * command.h - one CLI command: its name, options and handler. main.c holds the table of them;
 * each command's definition lives next to its handler (cmd_*.c).
 *
 * A handler gets a context whose key is already resolved for its auth kind and whose arguments
 * are parsed and free of --help; it returns a status and records, never prints, its errors.
 * Results go to stdout, progress and diagnostics to stderr.
 */
#ifndef VG_CLI_COMMAND_H
#define VG_CLI_COMMAND_H
#include <stddef.h>

#include "cli/args.h"
#include "cli/ctx.h"

/** Which key a command sends. */
typedef enum {
    VG_CLI_AUTH_USER, /* --key, else VIDGATE_API_KEY */
    VG_CLI_AUTH_ADMIN /* --key, else VIDGATE_ADMIN_KEY */
} vg_cli_auth;

typedef struct {
    const char *name;        /* words as typed: "generate", "admin keys create" */
    const char *synopsis;    /* after the name in usage lines: "ID [options]" */
    const char *summary;     /* one line for `vidgate --help` */
    size_t min_pos, max_pos; /* positional arguments after the name */
    const vg_cli_opt *opts;  /* the command's own options ({NULL}-terminated) */
    vg_cli_auth auth;
    vg_cli_status (*run)(vg_cli_ctx *ctx, const vg_cli_args *args);
} vg_cli_command;

/* Task commands (cmd_generate.c, cmd_task.c). */
extern const vg_cli_command vg_cli_cmd_generate;
extern const vg_cli_command vg_cli_cmd_status;
extern const vg_cli_command vg_cli_cmd_wait;
extern const vg_cli_command vg_cli_cmd_download;
extern const vg_cli_command vg_cli_cmd_list;
extern const vg_cli_command vg_cli_cmd_cancel;
/* Account commands (cmd_account.c). */
extern const vg_cli_command vg_cli_cmd_me;
extern const vg_cli_command vg_cli_cmd_keys_create;
extern const vg_cli_command vg_cli_cmd_keys_list;
extern const vg_cli_command vg_cli_cmd_keys_revoke;
/* Operator commands (cmd_admin.c). */
extern const vg_cli_command vg_cli_cmd_keys_credit;
extern const vg_cli_command vg_cli_cmd_keys_debit;
extern const vg_cli_command vg_cli_cmd_keys_update;
extern const vg_cli_command vg_cli_cmd_keys_ledger;
extern const vg_cli_command vg_cli_cmd_usage;
extern const vg_cli_command vg_cli_cmd_admin_tasks;
/* Asset commands (cmd_assets.c). */
extern const vg_cli_command vg_cli_cmd_assets_group_create;
extern const vg_cli_command vg_cli_cmd_assets_upload;
extern const vg_cli_command vg_cli_cmd_assets_list;
extern const vg_cli_command vg_cli_cmd_assets_get;
extern const vg_cli_command vg_cli_cmd_assets_delete;

#endif
