/* args.c - see args.h. The parsing itself is getopt_long(), fed from the option tables. */
#include "cli/args.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

/* getopt_long() values: a short name is its character; a long-only option is LONG_VAL + its index
 * in the flattened tables. */
#define LONG_VAL 256

typedef struct {
    const vg_cli_opt **flat; /* every option of every table, in search order */
    size_t n;
    struct option *lo;
    char *shorts; /* the optstring */
} opt_index;

static void index_build(opt_index *x, const vg_cli_opt *const *tables, size_t ntables)
{
    size_t n = 0;
    for (size_t t = 0; t < ntables; t++)
        for (const vg_cli_opt *o = tables[t]; o->name; o++)
            n++;
    x->flat = vg_calloc(n + 1, sizeof *x->flat);
    x->lo = vg_calloc(n + 1, sizeof *x->lo);
    /* "-": positionals come back in order (value 1) instead of being permuted to the end;
     * ":": a missing value is reported as ':' rather than '?'. */
    x->shorts = vg_calloc(2 * n + 3, 1);
    char *sp = x->shorts;
    *sp++ = '-';
    *sp++ = ':';
    x->n = 0;
    for (size_t t = 0; t < ntables; t++)
        for (const vg_cli_opt *o = tables[t]; o->name; o++) {
            size_t i = x->n++;
            x->flat[i] = o;
            int has = o->kind == VG_CLI_OPT_FLAG ? no_argument : required_argument;
            x->lo[i] = (struct option){o->name, has, NULL,
                                       o->short_name ? o->short_name : LONG_VAL + (int)i};
            if (o->short_name && !strchr(x->shorts, o->short_name)) {
                *sp++ = o->short_name;
                if (has == required_argument) *sp++ = ':';
            }
        }
}

static void index_free(opt_index *x)
{
    free(x->flat);
    free(x->lo);
    free(x->shorts);
}

/* The option a getopt_long() value stands for (the first table that has it wins), or NULL. */
static const vg_cli_opt *index_find(const opt_index *x, int val)
{
    if (val >= LONG_VAL) return (size_t)(val - LONG_VAL) < x->n ? x->flat[val - LONG_VAL] : NULL;
    for (size_t i = 0; i < x->n; i++)
        if (val && x->flat[i]->short_name == val) return x->flat[i];
    return NULL;
}

vg_cli_status vg_cli_args_parse(vg_cli_ctx *ctx, const vg_cli_opt *const *tables, size_t ntables,
                                int argc, char **argv, vg_cli_args *out)
{
    /* No argument yields more than one value or positional, so argc bounds both arrays. */
    out->vals = vg_calloc((size_t)argc + 1, sizeof *out->vals);
    out->pos = vg_calloc((size_t)argc + 1, sizeof *out->pos);
    out->nvals = out->npos = 0;
    opt_index x;
    index_build(&x, tables, ntables);
    /* getopt_long() reads from argv[1]: give it a program name in front. */
    char **av = vg_calloc((size_t)argc + 2, sizeof *av);
    av[0] = "vidgate";
    memcpy(av + 1, argv, (size_t)argc * sizeof *av);
    vg_cli_status st = VG_CLI_OK;
    optind = 0; /* a full re-initialisation of getopt's state (GNU): a command parses again */
    opterr = 0; /* our messages, not getopt's */
    int ch;
    while (st == VG_CLI_OK && (ch = getopt_long(argc + 1, av, x.shorts, x.lo, NULL)) != -1) {
        const vg_cli_opt *opt =
            ch == '?' || ch == ':' ? index_find(&x, optopt) : index_find(&x, ch);
        if (ch == 1) {
            out->pos[out->npos++] = optarg;
        } else if (ch == ':') {
            st = vg_cli_fail(ctx, VG_CLI_USAGE, "option --%s needs a value (%s)", opt->name,
                             opt->metavar ? opt->metavar : "VALUE");
        } else if (ch == '?' && opt && opt->kind == VG_CLI_OPT_FLAG) {
            st = vg_cli_fail(ctx, VG_CLI_USAGE, "option --%s takes no value", opt->name);
        } else if (ch == '?' || !opt) {
            st = vg_cli_fail(ctx, VG_CLI_USAGE, "unknown option '%s' (see --help)",
                             av[optind - 1 > 0 ? optind - 1 : 1]);
        } else {
            out->vals[out->nvals++] =
                (vg_cli_arg){opt, opt->kind == VG_CLI_OPT_FLAG ? NULL : optarg};
        }
    }
    /* after "--": the rest are positionals */
    for (; st == VG_CLI_OK && optind < argc + 1; optind++)
        out->pos[out->npos++] = av[optind];
    free(av);
    index_free(&x);
    return st;
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
