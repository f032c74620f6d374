/* test_webhook.c - Standard Webhooks signing (known vectors), the retry schedule, and the store's
 * outbox: a final transition writes the event (to the task's callback_url, else the key's
 * webhook_url, else nowhere) in its transaction; claims, attempt outcomes, redelivery, recovery,
 * and the signing secrets with their rotation. The store parts run on each backend (store_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "common/limits.h"
#include "core/webhook.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_fixture.h" /* the fixture: a fresh store with one key */

static void test_sign_vectors(void **state)
{
    (void)state;
    /* Computed independently (Python hmac/base64) for id "evt_1", timestamp 1700000000. */
    const char *secrets[] = {"whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "plain"};
    char sig[VG_WEBHOOK_SIGNATURE_MAX];
    const char *body = "{\"a\":1}";
    assert_int_equal(
        vg_webhook_sign("evt_1", 1700000000, body, strlen(body), secrets, 2, sig, sizeof sig),
        VG_OK);
    assert_string_equal(sig, "v1,hUVxIYXs8Zy9GDiZD1uQbBwXoZGMAB6RVLdZZ3ffmek= "
                             "v1,3tR1XPuIqkneCFyuCeuRdkmn2SJUxTA63bsnlh4ogpI=");
    const char *bad[] = {"whsec_***"};
    assert_int_equal(vg_webhook_sign("evt_1", 1, body, strlen(body), bad, 1, sig, sizeof sig),
                     VG_INVALID);
    char small[10];
    assert_int_equal(
        vg_webhook_sign("evt_1", 1, body, strlen(body), secrets, 1, small, sizeof small),
        VG_INVALID);
    char fresh[VG_WEBHOOK_SECRET_MAX];
    vg_webhook_secret_new(fresh);
    assert_int_equal(strlen(fresh), 6 + 44);
    assert_memory_equal(fresh, "whsec_", 6);
}

static void test_backoff_grows(void **state)
{
    (void)state;
    const uint32_t draws[] = {0, 1u << 31, UINT32_MAX};
    for (int a = 1; a < 20; a++)
        for (size_t i = 0; i < 3; i++)
            for (size_t j = 0; j < 3; j++) {
                int64_t d1 = vg_webhook_backoff_ms(a, 100, draws[i]);
                int64_t d2 = vg_webhook_backoff_ms(a + 1, 100, draws[j]);
                assert_true(d1 >= 100 && d1 <= VG_WEBHOOK_BACKOFF_MAX_MS * 13 / 10);
                if (d1 < VG_WEBHOOK_BACKOFF_MAX_MS / 2) assert_true(d2 > d1);
            }
    assert_string_equal(vg_webhook_event_type(VG_TASK_COMPLETED), "video.completed");
    assert_string_equal(vg_webhook_event_type(VG_TASK_CANCELLED), "video.cancelled");
    assert_null(vg_webhook_event_type(VG_TASK_RUNNING));
}

/* ---- the store ------------------------------------------------------------------------------ */

static void new_task(fixture *f, vg_task *t, const char *params)
{
    memset(t, 0, sizeof *t);
    vg_id_new("task_", t->id);
    snprintf(t->key_id, sizeof t->key_id, "%s", f->key.id);
    snprintf(t->model, sizeof t->model, "doubao-seedance-2-0");
    t->created_at = 2000;
    t->seconds = 5;
    t->resolution = VG_RES_720P;
    t->ratio = VG_RATIO_16_9;
    t->params = (char *)params;
    t->hold_micro = 1000;
    assert_int_equal(vg_store_task_create(f->s, t, 0, NULL), VG_OK);
}

static void test_outbox_destination(void **state)
{
    fixture *f = *state;
    vg_task a, b, c;
    vg_webhook w;
    new_task(f, &a, "{\"callback_url\":\"https://a.example/hook\"}");
    new_task(f, &b, "{}");
    /* No callback_url and no key URL: no event. */
    assert_int_equal(vg_store_task_cancel(f->s, b.id, f->key.id, 3000), VG_OK);
    assert_int_equal(vg_store_webhook_get(f->s, b.id, &w), VG_NOTFOUND);
    /* The key's default URL, set afterwards, serves the tasks that end afterwards. */
    vg_key k;
    assert_int_equal(vg_store_key_get(f->s, f->key.id, &k), VG_OK);
    free(k.webhook_url);
    k.webhook_url = strdup("https://key.example/hook");
    assert_int_equal(vg_store_key_update(f->s, &k, 3000), VG_OK);
    vg_key_free(&k);
    new_task(f, &c, "{}");
    assert_int_equal(vg_store_task_fail(f->s, c.id, "x", "y", 3001), VG_OK);
    assert_int_equal(vg_store_webhook_get(f->s, c.id, &w), VG_OK);
    assert_string_equal(w.url, "https://key.example/hook");
    assert_string_equal(w.type, "video.failed");
    assert_string_equal(w.status, "pending");
    assert_int_equal(w.created_at, 3001);
    assert_int_equal(w.deadline_ms, (3001 + VG_WEBHOOK_RETRY_WINDOW_S) * 1000);
    assert_true(vg_id_valid(w.id, "evt_"));
    vg_webhook_free(&w);
    /* The task's own callback_url wins over the key's. */
    vg_task_result r = {.width = 1, .height = 1, .cost_micro = 10, .expires_at = 9999};
    vg_task claimed;
    assert_int_equal(vg_store_task_claim(f->s, 3002 * 1000, 60000, &claimed), VG_OK);
    assert_string_equal(claimed.id, a.id);
    vg_task_free(&claimed);
    assert_int_equal(vg_store_task_complete(f->s, a.id, &r, 3002), VG_OK);
    assert_int_equal(vg_store_webhook_get(f->s, a.id, &w), VG_OK);
    assert_string_equal(w.url, "https://a.example/hook");
    assert_string_equal(w.type, "video.completed");
    vg_webhook_free(&w);
    /* A second final transition is refused, and writes no second event. */
    assert_int_equal(vg_store_task_fail(f->s, a.id, "x", "y", 3003), VG_CONFLICT);
}

static void test_claim_retry_deliver_redeliver(void **state)
{
    fixture *f = *state;
    vg_task a;
    vg_webhook w, again;
    new_task(f, &a, "{\"callback_url\":\"https://a.example/hook\"}");
    assert_int_equal(vg_store_task_cancel(f->s, a.id, f->key.id, 3000), VG_OK);
    assert_int_equal(vg_store_webhook_claim(f->s, 3000 * 1000, 1000, &w), VG_OK);
    assert_int_equal(w.attempts, 1);
    assert_null(w.body);
    /* Leased: nothing else is due; the lease's end is reported when it is near. */
    assert_int_equal(vg_store_webhook_claim(f->s, 3000 * 1000 + 1, 1000, &again), VG_NOTFOUND);
    assert_int_equal(vg_store_webhook_set_body(f->s, w.id, "{\"x\":1}"), VG_OK);
    vg_webhook_result r = {.id = w.id,
                           .next_at_ms = 3000 * 1000 + 500,
                           .http_status = 500,
                           .error = "HTTP status 500",
                           .now_ms = 3000 * 1000 + 10};
    assert_int_equal(vg_store_webhook_attempt_end(f->s, &r), VG_OK);
    assert_int_equal(vg_store_webhook_claim(f->s, 3000 * 1000 + 100, 1000, &again), VG_NOTFOUND);
    assert_int_equal(again.next_at_ms, 0); /* not due within the idle poll */
    assert_int_equal(vg_store_webhook_claim(f->s, 3000 * 1000 + 400, 1000, &again), VG_NOTFOUND);
    assert_int_equal(again.next_at_ms, 3000 * 1000 + 500);
    vg_webhook_free(&w);
    assert_int_equal(vg_store_webhook_claim(f->s, 3000 * 1000 + 500, 1000, &w), VG_OK);
    assert_int_equal(w.attempts, 2);
    assert_string_equal(w.body, "{\"x\":1}");
    assert_string_equal(w.last_error, "HTTP status 500");
    /* A crash mid-attempt: recovery releases this node's lease at once. */
    int64_t n = 0;
    assert_int_equal(vg_store_webhook_recover(f->s, 0, &n), VG_OK);
    assert_int_equal(n, 1);
    vg_webhook_free(&w);
    assert_int_equal(vg_store_webhook_claim(f->s, 3000 * 1000 + 501, 1000, &w), VG_OK);
    assert_int_equal(w.attempts, 3);
    r = (vg_webhook_result){
        .id = w.id, .delivered = true, .http_status = 204, .now_ms = 3001 * 1000};
    assert_int_equal(vg_store_webhook_attempt_end(f->s, &r), VG_OK);
    assert_int_equal(vg_store_webhook_attempt_end(f->s, &r), VG_CONFLICT);
    vg_webhook_free(&w);
    assert_int_equal(vg_store_webhook_get(f->s, a.id, &w), VG_OK);
    assert_string_equal(w.status, "delivered");
    assert_int_equal(w.delivered_at, 3001);
    char id[48];
    snprintf(id, sizeof id, "%s", w.id);
    vg_webhook_free(&w);
    /* Redelivery: the same event and body, due now. */
    assert_int_equal(vg_store_webhook_redeliver(f->s, a.id, 4000 * 1000, 5000 * 1000), VG_OK);
    assert_int_equal(vg_store_webhook_claim(f->s, 4000 * 1000, 1000, &w), VG_OK);
    assert_string_equal(w.id, id);
    assert_string_equal(w.body, "{\"x\":1}");
    assert_int_equal(w.attempts, 1);
    r = (vg_webhook_result){.id = w.id, .give_up = true, .error = "refused", .now_ms = 4001000};
    assert_int_equal(vg_store_webhook_attempt_end(f->s, &r), VG_OK);
    vg_webhook_free(&w);
    assert_int_equal(vg_store_webhook_get(f->s, a.id, &w), VG_OK);
    assert_string_equal(w.status, "failed");
    vg_webhook_free(&w);
    assert_int_equal(vg_store_webhook_redeliver(f->s, "task_none", 1, 2), VG_NOTFOUND);
}

static void test_secrets(void **state)
{
    fixture *f = *state;
    char(*list)[VG_WEBHOOK_SECRET_MAX] = NULL;
    size_t n = 0;
    assert_int_equal(vg_store_webhook_secrets(f->s, f->key.id, 5000, &list, &n), VG_OK);
    assert_int_equal(n, 1); /* made with the key */
    char first[VG_WEBHOOK_SECRET_MAX], second[VG_WEBHOOK_SECRET_MAX];
    snprintf(first, sizeof first, "%s", list[0]);
    free(list);
    assert_int_equal(vg_store_webhook_secret_rotate(f->s, f->key.id, 5000, 100, second), VG_OK);
    assert_string_not_equal(first, second);
    assert_int_equal(vg_store_webhook_secrets(f->s, f->key.id, 5050, &list, &n), VG_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0], second); /* the current one first */
    assert_string_equal(list[1], first);
    free(list);
    assert_int_equal(vg_store_webhook_secrets(f->s, f->key.id, 5100, &list, &n), VG_OK);
    assert_int_equal(n, 1); /* the grace is over */
    assert_string_equal(list[0], second);
    free(list);
    assert_int_equal(vg_store_webhook_secrets(f->s, "key_none", 5000, &list, &n), VG_NOTFOUND);
    assert_null(list);
    assert_int_equal(vg_store_webhook_secret_rotate(f->s, "key_none", 5000, 100, second),
                     VG_NOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_vectors),
        cmocka_unit_test(test_backoff_grows),
        cmocka_unit_test_setup_teardown(test_outbox_destination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_retry_deliver_redeliver, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets, setup, teardown),
    };
    return fx_run_groups("webhook", tests, sizeof tests / sizeof tests[0]);
}
