/* ctx.c - see ctx.h. */
#include "cli/ctx.h"

#include <stdarg.h>

vg_cli_status vg_cli_fail(vg_cli_ctx *ctx, vg_cli_status status, const char *fmt, ...)
{
    if (ctx->err_status != VG_CLI_OK) return status;
    ctx->err_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->err, sizeof ctx->err, fmt, ap);
    va_end(ap);
    return status;
}

void vg_cli_report(const vg_cli_ctx *ctx)
{
    if (ctx->err_status != VG_CLI_OK && ctx->err[0]) fprintf(stderr, "vidgate: %s\n", ctx->err);
}
