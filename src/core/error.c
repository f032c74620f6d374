/* error.c - see error.h. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *vg_err_type_for(int http_status, const char *code)
{
    switch (http_status) {
    case 401:
        return "authentication_error";
    case 402:
        return "insufficient_quota";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 409:
        return "conflict_error";
    case 410:
        return "gone_error";
    case 422:
        return "idempotency_error";
    case 429:
        return "rate_limit_error";
    case 502:
        return "upstream_error";
    default:
        break;
    }
    if (http_status >= 500)
        return code && strcmp(code, "upstream_error") == 0 ? "upstream_error" : "server_error";
    return "invalid_request_error";
}

int vg_err_set(vg_err *e, int http_status, const char *code, const char *param, const char *fmt,
               ...)
{
    if (!e || e->http_status) return -1;
    e->http_status = http_status;
    e->code = code;
    e->type = vg_err_type_for(http_status, code);
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}
