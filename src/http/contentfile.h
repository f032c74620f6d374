/*
 * contentfile.h - answers a request with one content file (net/content.h) through sendfile.h
 * (ETag, Range, 304), fetching it first when this node's cache lacks it.
 *
 * The file is there (always so for a directory) → it is sent at once. Missing from the cache of a
 * bucket → the fetch is handed to the content workers (vg_content_fetch_start) and the request is
 * parked (http/longpoll.h) on watch_id, which the fetch announces when it ends; the waiter then
 * sends the file, or the `missing` reply when the bucket has no such object, or 503 `unavailable`
 * when the bucket failed or did not answer within VG_CONTENT_WAIT_S. The event loop never waits.
 *
 * Watch ids are task-change ids (common/taskwatch.h): a task's id for its files, so long-polls of
 * that task also see the announcement and, finding the task unchanged, keep waiting.
 */
#ifndef VG_HTTP_CONTENTFILE_H
#define VG_HTTP_CONTENTFILE_H
#include "http/ctx.h"
#include "net/content.h"

/** What to answer when the content does not exist. */
typedef struct {
    int status;          /* 404, 410 */
    const char *code;    /* error code of the envelope */
    const char *message; /* its message */
} vg_content_missing;

/**
 * Answers c with key's file, served as mime, now or once fetched (see above). Always answers (or
 * parks): returns 0.
 */
int vg_send_content(vg_ctx *c, vg_content *content, const char *key, const char *mime,
                    const char *watch_id, const vg_content_missing *missing);

#endif
