/* args.c - see args.h. */
#include "cli/args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

static const vg_cli_opt *find_long(const vg_cli_opt *const *tables, size_t ntables,
                                   const char *name, size_t len)
{
    for (size_t t = 0; t < ntables; t++)
        for (const vg_cli_opt *o = tables[t]; o->name; o++)
            if (strlen(o->name) == len && memcmp(o->name, name, len) == 0) return o;
    return NULL;
}

static const vg_cli_opt *find_short(const vg_cli_opt *const *tables, size_t ntables, char c)
{
    for (size_t t = 0; t < ntables; t++)
        for (const vg_cli_opt *o = tables[t]; o->name; o++)
            if (o->short_name && o->short_name == c) return o;
    return NULL;
}

/*
 * Handles the option at argv[*i]; a value either follows "=" or is the next argument, which is
 * then consumed too.
 */
static vg_cli_status parse_one(vg_cli_ctx *ctx, const vg_cli_opt *const *tables, size_t ntables,
                               int argc, char **argv, int *i, vg_cli_args *out)
{
    const char *arg = argv[*i];
    const vg_cli_opt *opt;
    const char *inline_val = NULL;
    if (arg[1] == '-') {
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        opt = find_long(tables, ntables, name, len);
        if (eq) inline_val = eq + 1;
    } else {
        opt = arg[2] == '\0' ? find_short(tables, ntables, arg[1]) : NULL;
    }
    if (!opt) return vg_cli_fail(ctx, VG_CLI_USAGE, "unknown option '%s' (see --help)", arg);

    vg_cli_arg *v = &out->vals[out->nvals++];
    v->opt = opt;
    v->value = NULL;
    if (opt->kind == VG_CLI_OPT_FLAG) {
        if (inline_val)
            return vg_cli_fail(ctx, VG_CLI_USAGE, "option --%s takes no value", opt->name);
        return VG_CLI_OK;
    }
    if (inline_val) {
        v->value = inline_val;
    } else if (*i + 1 < argc) {
        v->value = argv[++*i];
    } else {
        return vg_cli_fail(ctx, VG_CLI_USAGE, "option --%s needs a value (%s)", opt->name,
                           opt->metavar ? opt->metavar : "VALUE");
    }
    return VG_CLI_OK;
}

vg_cli_status vg_cli_args_parse(vg_cli_ctx *ctx, const vg_cli_opt *const *tables, size_t ntables,
                                int argc, char **argv, vg_cli_args *out)
{
    /* No argument yields more than one value or positional, so argc bounds both arrays. */
    out->vals = vg_calloc((size_t)argc + 1, sizeof *out->vals);
    out->pos = vg_calloc((size_t)argc + 1, sizeof *out->pos);
    out->nvals = out->npos = 0;
    int options_done = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = 1;
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            vg_cli_status st = parse_one(ctx, tables, ntables, argc, argv, &i, out);
            if (st != VG_CLI_OK) return st;
        } else {
            out->pos[out->npos++] = arg;
        }
    }
    return VG_CLI_OK;
}

void vg_cli_args_free(vg_cli_args *args)
{
    free(args->vals);
    free(args->pos);
    args->vals = NULL;
    args->pos = NULL;
    args->nvals = args->npos = 0;
}

int vg_cli_args_has(const vg_cli_args *args, const char *name)
{
    return vg_cli_args_count(args, name) > 0;
}

const char *vg_cli_args_get(const vg_cli_args *args, const char *name)
{
    const char *last = NULL;
    for (size_t i = 0; i < args->nvals; i++)
        if (strcmp(args->vals[i].opt->name, name) == 0) last = args->vals[i].value;
    return last;
}

const char *vg_cli_args_nth(const vg_cli_args *args, const char *name, size_t n)
{
    for (size_t i = 0; i < args->nvals; i++)
        if (strcmp(args->vals[i].opt->name, name) == 0 && n-- == 0) return args->vals[i].value;
    return NULL;
}

size_t vg_cli_args_count(const vg_cli_args *args, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < args->nvals; i++)
        if (strcmp(args->vals[i].opt->name, name) == 0) n++;
    return n;
}

vg_cli_status vg_cli_args_require(vg_cli_ctx *ctx, const vg_cli_args *args, const char *name,
                                  const char **out)
{
    *out = vg_cli_args_get(args, name);
    if (!*out || !**out) return vg_cli_fail(ctx, VG_CLI_USAGE, "--%s is required", name);
    return VG_CLI_OK;
}

vg_cli_status vg_cli_args_int(vg_cli_ctx *ctx, const vg_cli_args *args, const char *name,
                              long long min, long long max, long long *out, int *present)
{
    const char *s = vg_cli_args_get(args, name);
    *present = s != NULL;
    if (!s) return VG_CLI_OK;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return vg_cli_fail(ctx, VG_CLI_USAGE, "--%s must be an integer from %lld to %lld, not '%s'",
                           name, min, max, s);
    *out = v;
    return VG_CLI_OK;
}

void vg_cli_args_print_help(FILE *out, const vg_cli_opt *opts)
{
    for (const vg_cli_opt *o = opts; o->name; o++) {
        char left[64];
        int n = o->short_name ? snprintf(left, sizeof left, "-%c, ", o->short_name)
                              : snprintf(left, sizeof left, "    ");
        snprintf(left + n, sizeof left - (size_t)n, "--%s%s%s", o->name, o->metavar ? " " : "",
                 o->metavar ? o->metavar : "");
        fprintf(out, "  %-30s %s\n", left, o->help);
    }
}
