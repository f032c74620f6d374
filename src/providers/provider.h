/*
 * provider.h - a provider turns a claimed task into result files. Two kinds exist, behind one
 * struct of function pointers; the dispatcher owns every task's lifecycle, a provider only
 * produces or talks to its upstream. The dispatcher reaches a provider only through a channel's
 * provider pointer (dispatch/channel.h), never by name.
 *
 * A provider is told what it needs and nothing more: where to write, where media come from and
 * under which fetch policy (vg_media_env), how an upstream can reach this server (vg_up_env). It
 * never sees the process state, the configuration or the store.
 *
 * Synchronous providers (the local engine) implement run(): called on a render worker, it may
 * block (rendering, fetching inputs). It writes its files into env->out_dir (a fresh directory the
 * dispatcher moves into the content store on success), reports progress through env->progress
 * (whose non-zero return means "stop now: the server is shutting down"), and fills *out. Returns:
 *   VG_OK      finished; out->r holds usage and output size
 *   VG_INVALID the input is unusable (bad image, …): the task fails with out->error_code
 *   VG_AGAIN   interrupted; the dispatcher re-queues the task
 *   VG_ERR     failed; the task fails with out->error_code
 *
 * Asynchronous providers (Ark) implement upstream: submit, poll a batch, get one, find a lost
 * submit by its client token, cancel. Each call is one (or, for find, a few) blocking HTTP
 * exchanges made on an upstream worker thread with that thread's vg_http_client, never on an
 * event loop. They keep no state: everything durable is in the store, written by the dispatcher.
 * Everything about the upstream's dialect stays behind submit: how inputs travel (an asset as a
 * data: URL or a presigned link), the execution limit it accepts, the shape of its callback URL.
 * Every call classifies its failure in a vg_up_error (see vg_up_class), which is what the
 * dispatcher's retry and no-double-submission policy is built on.
 */
#ifndef VG_PROVIDER_H
#define VG_PROVIDER_H
#include "common/limits.h"
#include "common/status.h"
#include "core/task.h"
#include "net/http_client.h"
#include "providers/media.h"

typedef struct {
    const char *out_dir;
    vg_media_env media; /* where the task's inputs come from */
    int (*progress)(void *ud, int percent);
    void *ud;
} vg_run_env;

typedef struct {
    vg_task_result r;
    const char *error_code; /* static string */
    char error[256];
} vg_run_result;

/* ---- asynchronous upstreams ---------------------------------------------------------------- */

/* Where and how to reach one upstream account (a channel's connection facts). */
typedef struct {
    const char *name;     /* the channel, for messages */
    const char *base_url; /* e.g. https://ark.ap-southeast.bytepluses.com/api/v3, no trailing / */
    const char *api_key;  /* the secret itself (read from the environment); never logged */
    long timeout_ms;      /* per call */
} vg_upstream_endpoint;

/* How a call ended. The dispatcher's policy per class is in dispatch/upstream.h. */
typedef enum {
    VG_UP_OK,         /* the upstream answered and did what was asked */
    VG_UP_UNSENDABLE, /* submit only: no request can be made from the task (an input is
                         unusable); nothing was sent, the task fails with the error's code */
    VG_UP_REFUSED,    /* a definite refusal (4xx): retrying the same request cannot succeed */
    VG_UP_TRANSIENT,  /* not done, and certainly not accepted (connect failed, 429, 503): retry */
    VG_UP_AMBIGUOUS,  /* may or may not have been done (timeout after sending, lost reply, 5xx) */
    VG_UP_NOTFOUND,   /* the upstream does not know the task (get, cancel) */
} vg_up_class;

typedef struct {
    vg_up_class cls;
    long http_status;   /* 0 when no response */
    int retry_after_s;  /* -1 when the upstream gave none */
    bool channel_fault; /* the account or channel, not the request, is at fault (bad key, …) */
    char code[64];      /* upstream error code, e.g. "InvalidParameter" */
    char message[256];
} vg_up_error;

typedef enum {
    VG_UP_QUEUED,
    VG_UP_RUNNING,
    VG_UP_SUCCEEDED,
    VG_UP_FAILED,
    VG_UP_CANCELLED,
    VG_UP_EXPIRED,
    VG_UP_UNKNOWN, /* a status this build does not know: treated as not final */
} vg_up_status;

/* What the upstream says about one task. Heap fields are owned; free with vg_up_task_free(). */
typedef struct {
    char id[128];
    vg_up_status status;
    char error_code[64];
    char error_message[256];
    char *video_url;      /* when succeeded and still offered */
    char *last_frame_url; /* when asked for and offered */
    int64_t tokens;       /* usage.completion_tokens */
    int64_t created_at;   /* unix seconds */
    int64_t updated_at;   /* unix seconds, of the last status change; 0 when not given */
    int64_t seed;
    int duration;
    char resolution[16];
    char ratio[16];
    char client_token[VG_UPSTREAM_TOKEN_BYTES + 1]; /* what we sent as our per-attempt token */
} vg_up_task;

void vg_up_task_free(vg_up_task *t);
const char *vg_up_status_name(vg_up_status s);

/* What submit needs beyond the task and its spec. */
typedef struct {
    const char *upstream_model; /* the channel's id for the task's model */
    const char *client_token;   /* unique per attempt; lets a lost submit be found again */
    const char *callback_token; /* the task's callback secret; "" or NULL = no callback */
    int64_t ttl_s;              /* how long vidgate waits for the task (the provider maps it to
                                   the execution limit its upstream accepts) */
} vg_up_submit;

/* How an upstream reaches this server, and what a submit may load (process-wide, read-only). */
typedef struct {
    const char *public_url; /* base URL the upstream can reach, no trailing slash; "" = none
                               (then no callback and no presigned links are sent) */
    const char *secret;     /* HMAC key of presigned links (core/presign.h) */
    vg_media_env media;     /* where asset:// and other inputs are loaded from */
} vg_up_env;

typedef struct vg_upstream_ops {
    /** Creates the upstream task; its id into id (cap bytes) on VG_UP_OK. VG_UP_UNSENDABLE
     *  when the task's inputs cannot be put into a request (err->code says why). */
    void (*submit)(const vg_upstream_endpoint *ep, vg_http_client *hc, const vg_up_env *env,
                   const vg_task *t, const vg_task_spec *spec, const vg_up_submit *o, char *id,
                   size_t cap, vg_up_error *err);
    /** Refreshes n tasks in one call. out[i] gets ids[i]'s state; found[i] says whether the
     *  reply named it (callers fall back to get() for the others). */
    void (*poll)(const vg_upstream_endpoint *ep, vg_http_client *hc, const char *const *ids,
                 size_t n, vg_up_task *out, bool *found, vg_up_error *err);
    void (*get)(const vg_upstream_endpoint *ep, vg_http_client *hc, const char *id, vg_up_task *out,
                vg_up_error *err);
    /** Looks for the task a submit with client_token created (model = the upstream model id,
     *  created no earlier than since_s). VG_UP_OK with *out, or VG_UP_NOTFOUND. */
    void (*find)(const vg_upstream_endpoint *ep, vg_http_client *hc, const char *model,
                 const char *client_token, int64_t since_s, vg_up_task *out, vg_up_error *err);
    /** Cancels a queued task (or deletes a finished one's record). */
    void (*cancel)(const vg_upstream_endpoint *ep, vg_http_client *hc, const char *id,
                   vg_up_error *err);
} vg_upstream_ops;

typedef struct vg_provider {
    const char *name;
    /* synchronous providers */
    int (*run)(const struct vg_provider *p, const vg_task *t, const vg_task_spec *spec,
               const vg_run_env *env, vg_run_result *out);
    /* asynchronous providers */
    const vg_upstream_ops *upstream;
} vg_provider;

/** The built-in local render engine. */
extern const vg_provider vg_provider_local;
/** BytePlus ModelArk / Volcengine Ark content-generation tasks (providers/ark.c). */
extern const vg_provider vg_provider_ark;

#endif
