/* fuzz_spec.c - JSON submit body → task spec: any bytes must give either a valid spec or one
 * clear error, never a crash, leak or undefined behaviour. */
#include "core/spec.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!body) return 0;
    vg_task_spec spec;
    memset(&spec, 0, sizeof spec);
    vg_err err = {0};
    vg_spec_opts opts = {.urls.allow_http = size % 2 == 0, .default_model = NULL};
    int rc = vg_spec_parse(body, &opts, &spec, &err);
    if (rc == 0) {
        /* A valid spec must survive its storage round trip. */
        json_t *j = vg_task_spec_to_json(&spec);
        vg_task_spec back;
        memset(&back, 0, sizeof back);
        if (vg_task_spec_from_json(j, &back) != 0) __builtin_trap();
        vg_task_spec_free(&back);
        json_decref(j);
    } else if (!err.http_status || !err.code || !err.message[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
    vg_task_spec_free(&spec);
    json_decref(body);
    return 0;
}
