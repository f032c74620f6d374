/*
 * format.h - how the CLI shows server objects: --json output, the task summary, list tables and
 * generic "label: value" blocks.
 *
 * Server strings may end up on a terminal, so human output passes them through vg_cli_printable()
 * (control characters become spaces). JSON output is the server's object unchanged. Fields that
 * are missing or null are skipped, so an older or newer server's objects still print.
 */
#ifndef VG_CLI_FORMAT_H
#define VG_CLI_FORMAT_H
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/** Copies in to out (out_size bytes), replacing control characters with spaces. */
void vg_cli_printable(const char *in, char *out, size_t out_size);
/**
 * Text of obj[key] when it is a string, number or boolean, made printable; "" when absent or null.
 * Returns out.
 */
const char *vg_cli_json_text(const json_t *obj, const char *key, char *out, size_t out_size);
/** "2026-11-24 17:00:00Z" for unix seconds; "" for 0 or less. Returns out. */
const char *vg_cli_format_time(int64_t unix_s, char *out, size_t out_size);

/** Pretty-prints a JSON value and a newline to stdout (the --json output). */
void vg_cli_print_json(const json_t *value);
/** A few lines describing a task (GET /v1/video/generations/{id}). */
void vg_cli_print_task(FILE *out, const json_t *task);
/** The data[] of a task list as a table: id, status, progress, model, created. */
void vg_cli_print_task_table(FILE *out, const json_t *list);
/** The data[] of an API key list as a table: id, name, balance, state, created. */
void vg_cli_print_key_table(FILE *out, const json_t *list);
/** Admin views: all tasks (with the owning key and cost), a key's ledger, a usage report with
 *  its total row (columns by the report's group_by). */
void vg_cli_print_admin_task_table(FILE *out, const json_t *list);
void vg_cli_print_ledger_table(FILE *out, const json_t *list);
void vg_cli_print_usage_table(FILE *out, const json_t *usage);
/** Every scalar (and array of scalars) field of obj as "label: value", in the server's order. */
void vg_cli_print_fields(FILE *out, const json_t *obj);

#endif
