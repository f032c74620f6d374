/*
 * args.h - table-driven command-line options.
 *
 * Each command declares its options as a vg_cli_opt table; the tables are handed to getopt_long(),
 * which accepts "--name value", "--name=value", "-x value", "-xvalue", a unique prefix of a long
 * name, and "--" (end of options); everything else is kept as a positional, in order.
 * Parsed values point into argv (nothing to free but the two arrays, see vg_cli_args_free()).
 * The typed getters validate and record a usage error themselves, so command handlers read as a
 * straight line.
 */
#ifndef VG_CLI_ARGS_H
#define VG_CLI_ARGS_H
#include <stddef.h>

#include "cli/ctx.h"

typedef enum {
    VG_CLI_OPT_FLAG,  /* present or not */
    VG_CLI_OPT_VALUE, /* takes one value; the last one given wins */
    VG_CLI_OPT_LIST   /* takes one value; may be repeated, every value kept */
} vg_cli_opt_kind;

/** One option of a command. Tables end with {0} (an entry whose name is NULL). */
typedef struct {
    const char *name; /* long name without the dashes */
    char short_name;  /* 0 when the option has no short form */
    vg_cli_opt_kind kind;
    const char *metavar; /* shown in help, e.g. "FILE"; NULL for flags */
    const char *help;
} vg_cli_opt;

typedef struct {
    const vg_cli_opt *opt;
    const char *value; /* NULL for flags */
} vg_cli_arg;

typedef struct {
    vg_cli_arg *vals;
    size_t nvals;
    const char **pos; /* positionals, in order */
    size_t npos;
} vg_cli_args;

/**
 * Parses argv[0..argc) against the option tables (searched in order). Returns VG_CLI_OK or
 * records and returns VG_CLI_USAGE (unknown option, missing value). Free out with
 * vg_cli_args_free() in both cases.
 */
vg_cli_status vg_cli_args_parse(vg_cli_ctx *ctx, const vg_cli_opt *const *tables, size_t ntables,
                                int argc, char **argv, vg_cli_args *out);
void vg_cli_args_free(vg_cli_args *args);

/** 1 when the option was given. */
int vg_cli_args_has(const vg_cli_args *args, const char *name);
/** The last value given for the option, or NULL. */
const char *vg_cli_args_get(const vg_cli_args *args, const char *name);
/** The i-th value of a repeatable option, or NULL past the end. */
const char *vg_cli_args_nth(const vg_cli_args *args, const char *name, size_t i);
/** How many times the option was given. */
size_t vg_cli_args_count(const vg_cli_args *args, const char *name);

/** Like vg_cli_args_get() but a missing or empty value is a recorded usage error. */
vg_cli_status vg_cli_args_require(vg_cli_ctx *ctx, const vg_cli_args *args, const char *name,
                                  const char **out);
/**
 * Reads an integer option in [min, max]. Absent: *present = 0 and VG_CLI_OK. Not an integer or
 * out of range: a recorded usage error.
 */
vg_cli_status vg_cli_args_int(vg_cli_ctx *ctx, const vg_cli_args *args, const char *name,
                              long long min, long long max, long long *out, int *present);

/** Prints an option table as help lines ("  --name METAVAR   help"). */
void vg_cli_args_print_help(FILE *out, const vg_cli_opt *opts);

#endif
