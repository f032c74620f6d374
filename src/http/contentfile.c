/* contentfile.c - see contentfile.h. */
#include "http/contentfile.h"

#include "common/limits.h"
#include "common/log.h"
#include "http/longpoll.h"
#include "http/sendfile.h"

#include <stdio.h>
#include <string.h>

/* What a parked request keeps (copied into the waiter by vg_longpoll_park). */
typedef struct {
    vg_content *content;
    char key[192];
    char mime[64];
    int missing_status;
    char missing_code[48];
    char missing_message[160];
} pending;

static int reply_missing(vg_ctx *c, int status, const char *code, const char *message)
{
    return vg_reply_error(c, status, code, "", "%s", message);
}

static int reply_unavailable(vg_ctx *c)
{
    return vg_reply_error(c, 503, "unavailable", "",
                          "the content cannot be fetched from storage now; try again");
}

/* Sends the local file; a file that vanished meanwhile (a delete) counts as missing. */
static void send_local(vg_ctx *c, const pending *p)
{
    char path[1400];
    if (vg_content_path(p->content, p->key, path, sizeof path) || vg_send_file(c, path, p->mime))
        reply_missing(c, p->missing_status, p->missing_code, p->missing_message);
}

/* The waiter (on the request's loop): the fetch ended, or the wait did. */
static bool on_wait(vg_ctx *c, void *data, vg_wait_event ev)
{
    const pending *p = data;
    int st = vg_content_fetch_state(p->content, p->key);
    if (st == VG_AGAIN && ev == VG_WAIT_CHANGED) return false; /* not yet: keep waiting */
    if (st == VG_OK)
        send_local(c, p);
    else if (st == VG_NOTFOUND)
        reply_missing(c, p->missing_status, p->missing_code, p->missing_message);
    else
        reply_unavailable(c);
    return true;
}

int vg_send_content(vg_ctx *c, vg_content *content, const char *key, const char *mime,
                    const char *watch_id, const vg_content_missing *missing)
{
    pending p = {.content = content, .missing_status = missing->status};
    snprintf(p.key, sizeof p.key, "%s", key);
    snprintf(p.mime, sizeof p.mime, "%s", mime);
    snprintf(p.missing_code, sizeof p.missing_code, "%s", missing->code);
    snprintf(p.missing_message, sizeof p.missing_message, "%s", missing->message);
    char path[1400];
    if (vg_content_path(content, key, path, sizeof path) == 0 && vg_send_file(c, path, mime) == 0)
        return 0;
    int rc = vg_content_fetch_start(content, key, watch_id);
    if (rc == VG_OK) { /* fetched by another request between the two looks */
        send_local(c, &p);
        return 0;
    }
    if (rc == VG_NOTFOUND)
        return reply_missing(c, missing->status, missing->code, missing->message);
    if (rc == VG_LIMITED) return reply_unavailable(c);
    if (vg_longpoll_park(c, watch_id, VG_CONTENT_WAIT_S, on_wait, &p, sizeof p) != VG_OK) {
        vg_warn("content: cannot park a request for %s", key);
        return reply_unavailable(c);
    }
    return 0;
}
