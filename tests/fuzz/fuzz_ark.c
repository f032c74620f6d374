/* fuzz_ark.c - Ark's replies as vidgate reads them (providers/ark.h): the body of a create, query
 * or list reply, classified under a few HTTP statuses (the error envelope), then read as a task
 * object (query) and as a page of task objects (list); and, as the simulator reads it, as a create
 * request (providers/ark_check.h). A create reply's id is read by jansson alone.
 *
 * Checks: every class is one of vg_up_class, a failure always carries a code and a message, only a
 * transient failure blames the channel; a parsed task has an id and NUL-terminated fields within
 * their buffers; a status survives its name round trip. */
#include "providers/ark.h"
#include "providers/ark_check.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TERMINATED(a) (strnlen((a), sizeof(a)) < sizeof(a))

static void check_task(const json_t *obj)
{
    vg_up_task t;
    if (vg_ark_task_parse(obj, &t)) return;
    if (!t.id[0] || !TERMINATED(t.id) || !TERMINATED(t.error_code) ||
        !TERMINATED(t.error_message) || !TERMINATED(t.resolution) || !TERMINATED(t.ratio) ||
        !TERMINATED(t.client_token) || (unsigned)t.status > VG_UP_UNKNOWN)
        __builtin_trap();
    if (t.video_url && !t.video_url[0]) __builtin_trap(); /* absent, not empty */
    if (t.status != VG_UP_UNKNOWN && vg_ark_status_parse(vg_up_status_name(t.status)) != t.status)
        __builtin_trap();
    vg_up_task_free(&t);
}

static void check_classify(const uint8_t *data, size_t size, long status)
{
    vg_http_resp r = {.outcome = VG_HTTP_DONE, .status = status, .retry_after_s = -1};
    r.body = malloc(size + 1); /* as the HTTP client hands it over: NUL-terminated */
    memcpy(r.body, data, size);
    r.body[size] = '\0';
    r.body_len = size;
    vg_up_error e;
    vg_ark_classify(&r, &e);
    free(r.body);
    if ((unsigned)e.cls > VG_UP_NOTFOUND || !TERMINATED(e.code) || !TERMINATED(e.message))
        __builtin_trap();
    if (e.cls != VG_UP_OK && (!e.code[0] || !e.message[0])) __builtin_trap();
    if (e.channel_fault && e.cls != VG_UP_TRANSIENT) __builtin_trap();
}

static void check_create_request(const json_t *body)
{
    static const char *const models[] = {"doubao-seedance-2-0-260128",
                                         "doubao-seedance-2-0-fast-260128"};
    const vg_ark_check_opts o = {.models = models, .n_models = 2};
    vg_ark_create in;
    vg_ark_err e = {0};
    if (vg_ark_check_create(body, &o, &in, &e) == 0) {
        if (e.status || !in.model || !in.prompt || !in.resolution || !in.ratio) __builtin_trap();
    } else if (!e.status || !e.code[0] || !TERMINATED(e.message) || !TERMINATED(e.param)) {
        __builtin_trap(); /* a refusal always says why */
    } else {
        json_decref(vg_ark_err_json(&e));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) return 0;
    static const long statuses[] = {200, 400, 401, 404, 429, 500, 503};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        check_classify(data, size, statuses[i]);

    json_t *j = json_loadb((const char *)data, size, 0, NULL);
    if (!j) return 0;
    check_task(j); /* a query reply */
    size_t k;
    json_t *it;
    json_array_foreach(json_object_get(j, "items"), k, it) /* a list reply */
        check_task(it);
    if (json_is_object(j)) check_create_request(j);
    json_decref(j);
    return 0;
}
