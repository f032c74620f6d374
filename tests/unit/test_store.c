/* test_store.c - the SQLite store: keys, task creation with holds, claims, conditional status
 * changes, and that every settlement writes the ledger exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char dir[64];
    vg_store *s;
    vg_key key;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/vg-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char err[256];
    assert_int_equal(vg_store_open_sqlite(f->dir, &f->s, err, sizeof err), VG_OK);
    vg_id_new("key_", f->key.id);
    snprintf(f->key.name, sizeof f->key.name, "tester");
    vg_sha256_hex("sk-test", 7, f->key.hash);
    f->key.created_at = 1000;
    assert_int_equal(f->s->ops->key_insert(f->s, &f->key, 10000000, "initial"), VG_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vg_store_close(f->s);
    vg_rm_rf(f->dir);
    free(f);
    return 0;
}

static void make_task(fixture *f, vg_task *t, int64_t hold)
{
    memset(t, 0, sizeof *t);
    vg_id_new("task_", t->id);
    snprintf(t->key_id, sizeof t->key_id, "%s", f->key.id);
    snprintf(t->model, sizeof t->model, "doubao-seedance-2-0");
    t->created_at = 2000;
    t->seconds = 5;
    t->resolution = VG_RES_720P;
    t->ratio = VG_RATIO_16_9;
    t->width = 1280;
    t->height = 720;
    t->seed = 1;
    t->params = "{}";
    t->hold_micro = hold;
}

static void money(fixture *f, int64_t *balance, int64_t *held)
{
    vg_key k;
    assert_int_equal(f->s->ops->key_get(f->s, f->key.id, &k), VG_OK);
    *balance = k.balance_micro;
    *held = k.held_micro;
    vg_key_free(&k);
}

static int ledger_rows(fixture *f, const char *task_id, const char *kind)
{
    char path[128], sql[256];
    snprintf(path, sizeof path, "%s/vidgate.db", f->dir);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM ledger WHERE task_id='%s' AND kind='%s'",
             task_id, kind);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    sqlite3_step(st);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_key_lookup(void **state)
{
    fixture *f = *state;
    vg_key k;
    assert_int_equal(f->s->ops->key_by_hash(f->s, f->key.hash, &k), VG_OK);
    assert_string_equal(k.id, f->key.id);
    assert_int_equal(k.balance_micro, 10000000);
    vg_key_free(&k);
    assert_int_equal(f->s->ops->key_by_hash(f->s, "00", &k), VG_NOTFOUND);
    assert_int_equal(f->s->ops->key_revoke(f->s, f->key.id, 3000), VG_OK);
    assert_int_equal(f->s->ops->key_revoke(f->s, f->key.id, 3000), VG_CONFLICT);
    assert_int_equal(f->s->ops->key_revoke(f->s, "key_nope", 3000), VG_NOTFOUND);
}

static void test_hold_and_funds(void **state)
{
    fixture *f = *state;
    vg_task a, b;
    make_task(f, &a, 6000000);
    make_task(f, &b, 6000000);
    assert_int_equal(f->s->ops->task_create(f->s, &a, 0, NULL), VG_OK);
    assert_int_equal(f->s->ops->task_create(f->s, &b, 0, NULL), VG_NOFUNDS);
    int64_t bal, held;
    money(f, &bal, &held);
    assert_int_equal(bal, 10000000);
    assert_int_equal(held, 6000000);
    vg_task got;
    assert_int_equal(f->s->ops->task_get(f->s, b.id, NULL, &got), VG_NOTFOUND);
    assert_int_equal(f->s->ops->task_get(f->s, a.id, "key_other", &got), VG_NOTFOUND);
    assert_int_equal(ledger_rows(f, a.id, "hold"), 1);
}

static void test_active_cap(void **state)
{
    fixture *f = *state;
    vg_task a, b;
    make_task(f, &a, 1);
    make_task(f, &b, 1);
    assert_int_equal(f->s->ops->task_create(f->s, &a, 1, NULL), VG_OK);
    assert_int_equal(f->s->ops->task_create(f->s, &b, 1, NULL), VG_LIMITED);
}

static void test_claim_complete_settles_once(void **state)
{
    fixture *f = *state;
    vg_task a, c;
    make_task(f, &a, 3000000);
    assert_int_equal(f->s->ops->task_create(f->s, &a, 0, NULL), VG_OK);
    assert_int_equal(f->s->ops->task_claim(f->s, 5000, 60000, &c), VG_OK);
    assert_string_equal(c.id, a.id);
    assert_int_equal(c.status, VG_TASK_RUNNING);
    assert_int_equal(c.attempts, 1);
    vg_task_free(&c);
    vg_task none;
    assert_int_equal(f->s->ops->task_claim(f->s, 5000, 60000, &none), VG_NOTFOUND);
    assert_int_equal(f->s->ops->task_progress(f->s, a.id, 40, 9000), VG_OK);
    assert_int_equal(f->s->ops->task_progress(f->s, a.id, 20, 9000), VG_OK);
    assert_int_equal(f->s->ops->task_get(f->s, a.id, NULL, &c), VG_OK);
    assert_int_equal(c.progress, 40); /* never goes down */
    vg_task_free(&c);
    vg_task_result r = {.width = 1280,
                        .height = 720,
                        .ratio = VG_RATIO_16_9,
                        .seed = 1,
                        .tokens = 108900,
                        .cost_micro = 3500000,
                        .expires_at = 99999};
    assert_int_equal(f->s->ops->task_complete(f->s, a.id, &r, 6000), VG_OK);
    assert_int_equal(f->s->ops->task_complete(f->s, a.id, &r, 6000), VG_CONFLICT);
    assert_int_equal(f->s->ops->task_fail(f->s, a.id, "x", "y", 6000), VG_CONFLICT);
    int64_t bal, held;
    money(f, &bal, &held);
    assert_int_equal(bal, 10000000 - 3500000); /* the charge may exceed the hold */
    assert_int_equal(held, 0);
    assert_int_equal(ledger_rows(f, a.id, "capture"), 1);
    assert_int_equal(ledger_rows(f, a.id, "release"), 1);
    assert_int_equal(f->s->ops->task_get(f->s, a.id, f->key.id, &c), VG_OK);
    assert_int_equal(c.status, VG_TASK_COMPLETED);
    assert_int_equal(c.progress, 100);
    assert_int_equal(c.tokens, 108900);
    assert_int_equal(c.cost_micro, 3500000);
    vg_task_free(&c);
}

static void test_cancel_and_fail_release(void **state)
{
    fixture *f = *state;
    vg_task a, b, c;
    make_task(f, &a, 1000000);
    make_task(f, &b, 2000000);
    assert_int_equal(f->s->ops->task_create(f->s, &a, 0, NULL), VG_OK);
    assert_int_equal(f->s->ops->task_create(f->s, &b, 0, NULL), VG_OK);
    assert_int_equal(f->s->ops->task_cancel(f->s, a.id, "key_other", 10), VG_CONFLICT);
    assert_int_equal(f->s->ops->task_cancel(f->s, a.id, f->key.id, 10), VG_OK);
    assert_int_equal(f->s->ops->task_cancel(f->s, a.id, f->key.id, 10), VG_CONFLICT);
    assert_int_equal(f->s->ops->task_claim(f->s, 5000, 60000, &c), VG_OK);
    assert_string_equal(c.id, b.id);
    vg_task_free(&c);
    assert_int_equal(f->s->ops->task_cancel(f->s, b.id, f->key.id, 10), VG_CONFLICT);
    assert_int_equal(f->s->ops->task_fail(f->s, b.id, "render_failed", "boom", 11), VG_OK);
    int64_t bal, held;
    money(f, &bal, &held);
    assert_int_equal(bal, 10000000);
    assert_int_equal(held, 0);
    assert_int_equal(ledger_rows(f, b.id, "release"), 1);
    assert_int_equal(ledger_rows(f, b.id, "capture"), 0);
}

static void test_orphans_requeue(void **state)
{
    fixture *f = *state;
    vg_task a, c;
    make_task(f, &a, 1);
    assert_int_equal(f->s->ops->task_create(f->s, &a, 0, NULL), VG_OK);
    assert_int_equal(f->s->ops->task_claim(f->s, 5000, 1000, &c), VG_OK);
    vg_task_free(&c);
    char(*ids)[48];
    size_t n;
    assert_int_equal(f->s->ops->task_orphans(f->s, 5500, &ids, &n), VG_OK);
    assert_int_equal(n, 0); /* lease still valid */
    free(ids);
    assert_int_equal(f->s->ops->task_orphans(f->s, 7000, &ids, &n), VG_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ids[0], a.id);
    free(ids);
    assert_int_equal(f->s->ops->task_requeue(f->s, a.id, false, 8), VG_OK);
    assert_int_equal(f->s->ops->task_claim(f->s, 9000, 1000, &c), VG_OK);
    assert_int_equal(c.attempts, 2);
    vg_task_free(&c);
    /* an orderly requeue (shutdown) does not count the claim */
    assert_int_equal(f->s->ops->task_requeue(f->s, a.id, true, 9), VG_OK);
    assert_int_equal(f->s->ops->task_claim(f->s, 9000, 1000, &c), VG_OK);
    assert_int_equal(c.attempts, 2);
    vg_task_free(&c);
}

static void test_list_paging(void **state)
{
    fixture *f = *state;
    char ids[5][48];
    for (int i = 0; i < 5; i++) {
        vg_task t;
        make_task(f, &t, 0);
        snprintf(ids[i], 48, "%s", t.id);
        assert_int_equal(f->s->ops->task_create(f->s, &t, 0, NULL), VG_OK);
        usleep(2000); /* ids are ordered by millisecond */
    }
    vg_task_filter flt = {.key_id = f->key.id, .status = -1, .limit = 2};
    vg_task *out;
    size_t n;
    bool more;
    assert_int_equal(f->s->ops->task_list(f->s, &flt, &out, &n, &more), VG_OK);
    assert_int_equal(n, 2);
    assert_true(more);
    assert_string_equal(out[0].id, ids[4]);
    assert_string_equal(out[1].id, ids[3]);
    flt.after = ids[3];
    for (size_t i = 0; i < n; i++)
        vg_task_free(&out[i]);
    free(out);
    flt.limit = 10;
    assert_int_equal(f->s->ops->task_list(f->s, &flt, &out, &n, &more), VG_OK);
    assert_int_equal(n, 3);
    assert_false(more);
    for (size_t i = 0; i < n; i++)
        vg_task_free(&out[i]);
    free(out);
}

static void test_reopen_keeps_schema(void **state)
{
    fixture *f = *state;
    vg_store *again = NULL;
    char err[256];
    assert_int_equal(vg_store_open_sqlite(f->dir, &again, err, sizeof err), VG_OK);
    vg_key k;
    assert_int_equal(again->ops->key_get(again, f->key.id, &k), VG_OK);
    vg_key_free(&k);
    vg_store_close(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_and_funds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_complete_settles_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_fail_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orphans_requeue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_schema, setup, teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
