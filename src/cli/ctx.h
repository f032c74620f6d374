/*
 * ctx.h - what every vidgate CLI command shares: where the server is, which key to send, and the
 * first error that happened.
 *
 * The exit statuses double as the internal status codes, so a failure found deep in the HTTP layer
 * travels up unchanged and becomes the process exit status. The message is recorded where the
 * failure happens, once (the first one wins, like curl's Curl_failf), and printed by main() alone:
 * nothing below main() writes errors to stderr. Single-threaded; one context per process.
 */
#ifndef VG_CLI_CTX_H
#define VG_CLI_CTX_H
#include <stdio.h>

/** Process exit statuses, documented in `vidgate --help`. */
typedef enum {
    VG_CLI_OK = 0,
    VG_CLI_TASK_FAILED = 1,  /* the task failed or was cancelled */
    VG_CLI_USAGE = 2,        /* bad command line, unreadable input file */
    VG_CLI_API = 3,          /* the server answered with an HTTP error */
    VG_CLI_NETWORK = 4,      /* no answer: cannot connect, connection lost, request timed out */
    VG_CLI_TIMEOUT = 5,      /* --timeout passed before the task finished */
    VG_CLI_LOCAL_IO = 6,     /* cannot write the output file */
    VG_CLI_INTERRUPTED = 130 /* Ctrl-C, as shells report SIGINT */
} vg_cli_status;

/*
 * The CLI's own caps (the server's live in common/limits.h). Units in the names.
 */
#define VG_CLI_MAX_RESPONSE_BYTES (8u << 20) /* a JSON reply or an error body */
#define VG_CLI_CONNECT_TIMEOUT_MS 10000
#define VG_CLI_REQUEST_TIMEOUT_MS 120000 /* JSON requests; downloads use the stall limit */
#define VG_CLI_STALL_TIMEOUT_S    60     /* a download that moves no byte for this long fails */
#define VG_CLI_MAX_RETRY_AFTER_S  60     /* cap on a server's Retry-After while polling */
#define VG_CLI_POLL_INTERVAL_MS   1000

struct vg_cli_http; /* http.c's connection state */

typedef struct {
    char *base_url; /* no trailing slash */
    char *key;      /* Bearer secret, NULL for none; never printed */
    int quiet;      /* no progress display */
    int err_status; /* VG_CLI_OK until vg_cli_fail() records something */
    char err[1024];
    struct vg_cli_http *http;
} vg_cli_ctx;

/**
 * Records why the command fails unless a reason is already recorded, and returns status so callers
 * can write `return vg_cli_fail(ctx, VG_CLI_USAGE, "...")`.
 */
vg_cli_status vg_cli_fail(vg_cli_ctx *ctx, vg_cli_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Prints the recorded reason (if any) to stderr as "vidgate: reason". */
void vg_cli_report(const vg_cli_ctx *ctx);

#endif
