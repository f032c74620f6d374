/*
 * error.h - an API error as the client will see it: HTTP status + the JSON envelope
 * {"error":{"message","type","code","param"}} (spec §1).
 *
 * Validation code fills a vg_err and returns VG_INVALID (or another status); the HTTP layer turns
 * it into the reply. The first error recorded wins: vg_err_set() on an already-set error does
 * nothing. A vg_err holds no pointers to free; type and code point at static strings.
 */
#ifndef VG_ERROR_H
#define VG_ERROR_H

typedef struct {
    int http_status;  /* 0 = no error recorded */
    const char *type; /* e.g. "invalid_request_error" */
    const char *code; /* e.g. "invalid_resolution" */
    char param[96];   /* dotted path of the field, "" when none */
    char message[320];
    int retry_after_s; /* for 429/503: the Retry-After header, 0 = none */
} vg_err;

/** Records an error unless one is already recorded. Returns -1 so callers can `return
 * vg_err_set(…)`. */
int vg_err_set(vg_err *e, int http_status, const char *code, const char *param, const char *fmt,
               ...) __attribute__((format(printf, 5, 6)));

/** The envelope "type" for an HTTP status and code (spec §1 table). */
const char *vg_err_type_for(int http_status, const char *code);

/* Shorthands for the common cases. */
#define vg_err_missing(e, param)                                                                   \
    vg_err_set((e), 400, "missing_parameter", (param), "%s is required", (param))
#define vg_err_invalid(e, param, ...)                                                              \
    vg_err_set((e), 400, "invalid_parameter", (param), __VA_ARGS__)

#endif
