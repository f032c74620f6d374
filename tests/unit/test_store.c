/* test_store.c - the store, on each backend (SQLite, and PostgreSQL when VG_TEST_PG_URL is set):
 * keys, task creation with holds, claims, conditional status changes, that every settlement
 * writes the ledger exactly once, and that concurrent connections never overspend a balance nor
 * create two tasks for one Idempotency-Key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "common/limits.h"
#include "store/batch.h"
#include "store/migrations.h"
#include "store/store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/metrics.h"
#include "store_fixture.h" /* the fixture: a fresh store with one key */

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
    assert_int_equal(vg_store_key_get(f->s, f->key.id, &k), VG_OK);
    *balance = k.balance_micro;
    *held = k.held_micro;
    vg_key_free(&k);
}

static int ledger_rows(fixture *f, const char *task_id, const char *kind)
{
    char sql[8192];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM ledger WHERE task_id='%s' AND kind='%s'",
             task_id, kind);
    return (int)fx_sql_int(f, sql);
}

static void test_key_lookup(void **state)
{
    fixture *f = *state;
    vg_key k;
    assert_int_equal(vg_store_key_by_hash(f->s, f->key.hash, &k), VG_OK);
    assert_string_equal(k.id, f->key.id);
    assert_int_equal(k.balance_micro, 10000000);
    vg_key_free(&k);
    assert_int_equal(vg_store_key_by_hash(f->s, "00", &k), VG_NOTFOUND);
    assert_int_equal(vg_store_key_revoke(f->s, f->key.id, 3000), VG_OK);
    assert_int_equal(vg_store_key_revoke(f->s, f->key.id, 3000), VG_CONFLICT);
    assert_int_equal(vg_store_key_revoke(f->s, "key_nope", 3000), VG_NOTFOUND);
}

static void test_hold_and_funds(void **state)
{
    fixture *f = *state;
    vg_task a, b;
    make_task(f, &a, 6000000);
    make_task(f, &b, 6000000);
    assert_int_equal(vg_store_task_create(f->s, &a, 0, NULL), VG_OK);
    assert_int_equal(vg_store_task_create(f->s, &b, 0, NULL), VG_NOFUNDS);
    int64_t bal, held;
    money(f, &bal, &held);
    assert_int_equal(bal, 10000000);
    assert_int_equal(held, 6000000);
    vg_task got;
    assert_int_equal(vg_store_task_get(f->s, b.id, NULL, &got), VG_NOTFOUND);
    assert_int_equal(vg_store_task_get(f->s, a.id, "key_other", &got), VG_NOTFOUND);
    assert_int_equal(ledger_rows(f, a.id, "hold"), 1);
}

static void test_active_cap(void **state)
{
    fixture *f = *state;
    vg_task a, b;
    make_task(f, &a, 1);
    make_task(f, &b, 1);
    assert_int_equal(vg_store_task_create(f->s, &a, 1, NULL), VG_OK);
    assert_int_equal(vg_store_task_create(f->s, &b, 1, NULL), VG_LIMITED);
}

/* One transaction, each row as if alone: later rows see the holds of earlier ones, an
 * Idempotency-Key taken earlier in the same batch is VG_DUPLICATE, refusals leave nothing. */
static void test_create_batch(void **state)
{
    fixture *f = *state;
    if (fx_current == FX_PG) skip(); /* group commit is SQLite's (PostgreSQL commits per submit) */
    vg_task t[6];
    const int64_t holds[6] = {4000000, 4000000, 4000000, 1000000, 1000000, 1000000};
    for (int i = 0; i < 6; i++)
        make_task(f, &t[i], holds[i]);
    vg_idem idem = {.key = "k1", .body_hash = "h", .response = "{}"};
    vg_task_create_req r[6] = {
        {&t[0], 0, NULL, VG_ERR},  {&t[1], 0, &idem, VG_ERR}, {&t[2], 0, NULL, VG_ERR},
        {&t[3], 0, &idem, VG_ERR}, {&t[4], 2, NULL, VG_ERR},  {&t[5], 0, NULL, VG_ERR},
    };
    assert_true(vg_store_batches_creates(f->s));
    assert_int_equal(vg_store_task_create_batch(f->s, r, 6), VG_OK);
    const vg_status want[6] = {VG_OK, VG_OK, VG_NOFUNDS, VG_DUPLICATE, VG_LIMITED, VG_OK};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(r[i].rc, want[i]);
        assert_int_equal(ledger_rows(f, t[i].id, "hold"), want[i] == VG_OK);
    }
    int64_t bal, held;
    money(f, &bal, &held);
    assert_int_equal(held, 9000000);
    char hash[65];
    char *response = NULL;
    assert_int_equal(vg_store_idem_get(f->s, f->key.id, "k1", 0, hash, &response), VG_OK);
    free(response);

    /* Two keys interleaved in one batch: each key's funds are its own, each row sees the holds
     * of the earlier rows of its key, and each key's held amount is the sum of its holds. */
    vg_key k2 = {0};
    vg_id_new("key_", k2.id);
    snprintf(k2.name, sizeof k2.name, "second");
    vg_sha256_hex("sk-second", 9, k2.hash);
    k2.created_at = 1000;
    assert_int_equal(vg_store_key_insert(f->s, &k2, 3000000, "initial"), VG_OK);
    vg_task u[6];
    vg_task_create_req q[6];
    const int64_t uh[6] = {500000, 2000000, 500000, 1000000, 600000, 2000000};
    const bool second[6] = {false, true, false, true, false, true};
    for (int i = 0; i < 6; i++) {
        make_task(f, &u[i], uh[i]);
        if (second[i]) snprintf(u[i].key_id, sizeof u[i].key_id, "%s", k2.id);
        q[i] = (vg_task_create_req){&u[i], 0, NULL, VG_ERR};
    }
    assert_int_equal(vg_store_task_create_batch(f->s, q, 6), VG_OK);
    /* key 1 has 1.0 left: 0.5 and 0.5 fit, 0.6 does not; key 2 has 3.0: 2.0 and 1.0 fit, 2.0 not */
    const vg_status want2[6] = {VG_OK, VG_OK, VG_OK, VG_OK, VG_NOFUNDS, VG_NOFUNDS};
    for (int i = 0; i < 6; i++)
        assert_int_equal(q[i].rc, want2[i]);
    money(f, &bal, &held);
    assert_int_equal(held, 10000000);
    vg_key got2;
    assert_int_equal(vg_store_key_get(f->s, k2.id, &got2), VG_OK);
    assert_int_equal(got2.held_micro, 3000000);
    vg_key_free(&got2);
    vg_audit au;
    assert_int_equal(vg_store_audit(f->s, NULL, NULL, &au), VG_OK);
    assert_int_equal(au.problems, 0);
}

typedef struct {
    vg_batch_job job;
    vg_task t;
    int *done;
} batch_probe;

static void probe_done(vg_batch_job *j)
{
    batch_probe *p = (batch_probe *)j;
    __atomic_add_fetch(p->done, 1, __ATOMIC_SEQ_CST);
}

static void count_commit(void *ud)
{
    __atomic_add_fetch((int *)ud, 1, __ATOMIC_SEQ_CST);
}

/* The writer commits what was queued before the stop, and each job hears its own result. */
static void test_batch_writer(void **state)
{
    fixture *f = *state;
    if (fx_current == FX_PG) skip(); /* group commit is SQLite's (PostgreSQL commits per submit) */
    vg_store *w = NULL;
    char err[256];
    assert_int_equal(vg_store_open(&(vg_store_options){.data_dir = f->dir, .node = "node-a"}, &w,
                                   err, sizeof err),
                     VG_OK);
    int done = 0, commits = 0;
    vg_store_batch *b = vg_store_batch_start(w, count_commit, &commits);
    assert_non_null(b);
    batch_probe p[3];
    for (int i = 0; i < 3; i++) {
        memset(&p[i], 0, sizeof p[i]);
        make_task(f, &p[i].t, i == 2 ? 9000000 : 1000000);
        p[i].done = &done;
        p[i].job.req = (vg_task_create_req){&p[i].t, 0, NULL, VG_ERR};
        p[i].job.done = probe_done;
        vg_store_batch_submit(b, &p[i].job);
    }
    vg_store_batch_stop(b);
    assert_int_equal(done, 3);
    assert_true(commits >= 1);
    assert_int_equal(p[0].job.req.rc, VG_OK);
    assert_int_equal(p[1].job.req.rc, VG_OK);
    assert_int_equal(p[2].job.req.rc, VG_NOFUNDS);
    vg_task got;
    assert_int_equal(vg_store_task_get(f->s, p[1].t.id, NULL, &got), VG_OK);
    vg_task_free(&got);
}

static void test_claim_complete_settles_once(void **state)
{
    fixture *f = *state;
    vg_task a, c;
    make_task(f, &a, 3000000);
    assert_int_equal(vg_store_task_create(f->s, &a, 0, NULL), VG_OK);
    assert_int_equal(vg_store_task_claim(f->s, 5000, 60000, &c), VG_OK);
    assert_string_equal(c.id, a.id);
    assert_int_equal(c.status, VG_TASK_RUNNING);
    assert_int_equal(c.attempts, 1);
    vg_task_free(&c);
    vg_task none;
    assert_int_equal(vg_store_task_claim(f->s, 5000, 60000, &none), VG_NOTFOUND);
    assert_int_equal(vg_store_task_progress(f->s, a.id, 1, 40, 9000), VG_OK);
    assert_int_equal(vg_store_task_progress(f->s, a.id, 1, 20, 9000), VG_OK);
    assert_int_equal(vg_store_task_get(f->s, a.id, NULL, &c), VG_OK);
    assert_int_equal(c.progress, 40); /* never goes down */
    vg_task_free(&c);
    vg_task_result r = {.width = 1280,
                        .height = 720,
                        .ratio = VG_RATIO_16_9,
                        .seed = 1,
                        .tokens = 108900,
                        .cost_micro = 3500000,
                        .expires_at = 99999};
    assert_int_equal(vg_store_task_complete(f->s, a.id, &r, 6000), VG_OK);
    assert_int_equal(vg_store_task_complete(f->s, a.id, &r, 6000), VG_CONFLICT);
    assert_int_equal(vg_store_task_fail(f->s, a.id, "x", "y", 6000), VG_CONFLICT);
    int64_t bal, held;
    money(f, &bal, &held);
    assert_int_equal(bal, 10000000 - 3500000); /* the charge may exceed the hold */
    assert_int_equal(held, 0);
    assert_int_equal(ledger_rows(f, a.id, "capture"), 1);
    assert_int_equal(ledger_rows(f, a.id, "release"), 1);
    assert_int_equal(vg_store_task_get(f->s, a.id, f->key.id, &c), VG_OK);
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
    assert_int_equal(vg_store_task_create(f->s, &a, 0, NULL), VG_OK);
    assert_int_equal(vg_store_task_create(f->s, &b, 0, NULL), VG_OK);
    assert_int_equal(vg_store_task_cancel(f->s, a.id, "key_other", 10), VG_CONFLICT);
    assert_int_equal(vg_store_task_cancel(f->s, a.id, f->key.id, 10), VG_OK);
    assert_int_equal(vg_store_task_cancel(f->s, a.id, f->key.id, 10), VG_CONFLICT);
    assert_int_equal(vg_store_task_claim(f->s, 5000, 60000, &c), VG_OK);
    assert_string_equal(c.id, b.id);
    vg_task_free(&c);
    assert_int_equal(vg_store_task_cancel(f->s, b.id, f->key.id, 10), VG_CONFLICT);
    assert_int_equal(vg_store_task_fail(f->s, b.id, "render_failed", "boom", 11), VG_OK);
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
    assert_int_equal(vg_store_task_create(f->s, &a, 0, NULL), VG_OK);
    assert_int_equal(vg_store_task_claim(f->s, 5000, 1000, &c), VG_OK);
    vg_task_free(&c);
    int64_t n = 0;
    assert_int_equal(vg_store_task_recover(f->s, 5500, &n), VG_OK); /* a restart */
    assert_int_equal(n, 1);
    assert_int_equal(vg_store_task_recover(f->s, 5500, &n), VG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(vg_store_task_claim(f->s, 9000, 1000, &c), VG_OK);
    assert_int_equal(c.attempts, 2);
    vg_task_free(&c);
    /* an orderly requeue (shutdown) does not count the claim */
    assert_int_equal(vg_store_task_requeue(f->s, a.id, true, 9), VG_OK);
    assert_int_equal(vg_store_task_claim(f->s, 9000, 1000, &c), VG_OK);
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
        assert_int_equal(vg_store_task_create(f->s, &t, 0, NULL), VG_OK);
        usleep(2000); /* ids are ordered by millisecond */
    }
    vg_task_filter flt = {.key_id = f->key.id, .status = -1, .limit = 2};
    vg_task *out;
    size_t n;
    bool more;
    assert_int_equal(vg_store_task_list(f->s, &flt, &out, &n, &more), VG_OK);
    assert_int_equal(n, 2);
    assert_true(more);
    assert_string_equal(out[0].id, ids[4]);
    assert_string_equal(out[1].id, ids[3]);
    flt.after = ids[3];
    for (size_t i = 0; i < n; i++)
        vg_task_free(&out[i]);
    free(out);
    flt.limit = 10;
    assert_int_equal(vg_store_task_list(f->s, &flt, &out, &n, &more), VG_OK);
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
    assert_int_equal(fx_open(f, "node-a", &again), VG_OK);
    vg_key k;
    assert_int_equal(vg_store_key_get(again, f->key.id, &k), VG_OK);
    vg_key_free(&k);
    vg_store_close(again);
}

/* ---- the state machine, driven through the real operations ------------------------------- */

/* Runs sql (with %s = id) on the database directly: how a test puts a task in any status. */
static void db_exec(fixture *f, const char *fmt, const char *id)
{
    char sql[512];
    snprintf(sql, sizeof sql, fmt, id, id, id);
    fx_sql(f, sql);
}

/* A new task in status st, alone among the non-final tasks (claims take the oldest), leased by
 * this node, unrouted, with an open upstream attempt "att-<id>" that created nothing yet. */
static void task_in(fixture *f, vg_task_status st, vg_task *t)
{
    db_exec(f, "UPDATE tasks SET status = 'cancelled' WHERE id != '%s'", "");
    make_task(f, t, 1);
    assert_int_equal(vg_store_task_create(f->s, t, 0, NULL), VG_OK);
    char sql[400];
    snprintf(sql, sizeof sql,
             "UPDATE tasks SET status = '%s', lease_until = 1000, lease_owner = 'node-a' "
             "WHERE id = '%%s'; INSERT INTO upstream_tasks (task_id, attempt_id) "
             "VALUES ('%%s', 'att-%%s')",
             vg_task_status_name(st));
    db_exec(f, sql, t->id);
}

static vg_task_status status_of(fixture *f, const char *id)
{
    vg_task t;
    assert_int_equal(vg_store_task_get(f->s, id, NULL, &t), VG_OK);
    vg_task_free(&t);
    return t.status;
}

static vg_status op_claim(fixture *f, const char *id)
{
    vg_task t;
    vg_status rc = vg_store_task_claim(f->s, 5000, 1000, &t);
    if (rc == VG_OK) assert_string_equal(t.id, id), vg_task_free(&t);
    return rc;
}

static vg_status op_claim_local(fixture *f, const char *id)
{
    vg_task t;
    vg_status rc = vg_store_task_claim_local(f->s, 5000, 1000, "local", true, &t);
    if (rc == VG_OK) assert_string_equal(t.id, id), vg_task_free(&t);
    return rc;
}

static vg_status op_progress(fixture *f, const char *id)
{
    /* the state machine's test: whichever claim the task's attempts say */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT attempts FROM tasks WHERE id = '%s'", id);
    return vg_store_task_progress(f->s, id, (int)fx_sql_int(f, sql), 50, 9000);
}

static vg_status op_requeue(fixture *f, const char *id)
{
    return vg_store_task_requeue(f->s, id, false, 10);
}

/* Start-up recovery: its "refused" is that nothing was re-queued. */
static vg_status op_recover(fixture *f, const char *id)
{
    (void)id;
    int64_t n = -1;
    assert_int_equal(vg_store_task_recover(f->s, 500, &n), VG_OK);
    return n == 1 ? VG_OK : VG_CONFLICT;
}

static vg_status op_route(fixture *f, const char *id)
{
    return vg_store_task_route_local(f->s, id, "local", 10);
}

static vg_status op_submit(fixture *f, const char *id)
{
    char att[64];
    snprintf(att, sizeof att, "att2-%s", id);
    vg_up_attempt a = {.task_id = id,
                       .attempt_id = att,
                       .channel = "ark",
                       .upstream_model = "m",
                       .client_token = "ct",
                       .callback_token = "cb",
                       .now_ms = 5000,
                       .lease_until_ms = 6000};
    return vg_store_upstream_begin(f->s, &a);
}

static vg_status op_retry(fixture *f, const char *id)
{
    char att[64];
    snprintf(att, sizeof att, "att-%s", id);
    return vg_store_upstream_requeue(f->s, id, att, 7000, "ark", true, 10);
}

/* upstream_update asked to move from any status: the table alone decides. */
static vg_status update_to(fixture *f, const char *id, vg_task_status to)
{
    vg_up_update u = vg_up_update_for(id, VG_TASK_SET_ALL);
    u.to_status = to;
    assert_int_equal(vg_store_upstream_update(f->s, &u, 1, 10), VG_OK);
    return u.applied ? VG_OK : VG_CONFLICT;
}

static vg_status op_accept(fixture *f, const char *id)
{
    return update_to(f, id, VG_TASK_RUNNING);
}

static vg_status op_download(fixture *f, const char *id)
{
    return update_to(f, id, VG_TASK_FINALIZING);
}

static vg_status op_complete(fixture *f, const char *id)
{
    vg_task_result r = {.width = 1280, .height = 720, .ratio = VG_RATIO_16_9, .cost_micro = 1};
    return vg_store_task_complete(f->s, id, &r, 10);
}

static vg_status op_fail(fixture *f, const char *id)
{
    return vg_store_task_fail(f->s, id, "x", "y", 10);
}

static vg_status op_cancel(fixture *f, const char *id)
{
    return vg_store_task_cancel(f->s, id, f->key.id, 10);
}

static vg_status op_forget(fixture *f, const char *id)
{
    return vg_store_task_mark_deleted(f->s, id, NULL, 10);
}

static void test_state_machine(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *name;
        vg_task_op op;
        vg_status (*run)(fixture *f, const char *id);
        vg_status refused;       /* a claim that finds nothing to claim says VG_NOTFOUND */
        vg_task_status_set from; /* 0 = vg_task_op_from(op); else what update_to() tests */
    } cases[] = {
        {"task_claim", VG_TASK_OP_CLAIM, op_claim, VG_NOTFOUND, 0},
        {"task_claim_local", VG_TASK_OP_CLAIM, op_claim_local, VG_NOTFOUND, 0},
        {"task_progress", VG_TASK_OP_PROGRESS, op_progress, VG_CONFLICT, 0},
        {"task_requeue", VG_TASK_OP_REQUEUE, op_requeue, VG_CONFLICT, 0},
        {"task_recover", VG_TASK_OP_REQUEUE, op_recover, VG_CONFLICT, 0},
        {"task_route_local", VG_TASK_OP_ROUTE, op_route, VG_CONFLICT, 0},
        {"upstream_begin", VG_TASK_OP_SUBMIT, op_submit, VG_CONFLICT, 0},
        {"upstream_requeue", VG_TASK_OP_RETRY, op_retry, VG_CONFLICT, 0},
        {"upstream_update to running", VG_TASK_OP_ACCEPT, op_accept, VG_CONFLICT, 1},
        {"upstream_update to finalizing", VG_TASK_OP_DOWNLOAD, op_download, VG_CONFLICT, 1},
        {"task_complete", VG_TASK_OP_COMPLETE, op_complete, VG_CONFLICT, 0},
        {"task_fail", VG_TASK_OP_FAIL, op_fail, VG_CONFLICT, 0},
        {"task_cancel", VG_TASK_OP_CANCEL, op_cancel, VG_CONFLICT, 0},
        {"task_mark_deleted", VG_TASK_OP_FORGET, op_forget, VG_CONFLICT, 0},
    };
    unsigned covered = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int to = vg_task_op_to(cases[c].op);
        vg_task_status_set from =
            cases[c].from ? vg_task_from((vg_task_status)to) : vg_task_op_from(cases[c].op);
        covered |= 1u << cases[c].op;
        for (int st = 0; st < VG_TASK_STATUS_COUNT; st++) {
            vg_task t;
            task_in(f, (vg_task_status)st, &t);
            bool allowed = (from & VG_TASK_BIT(st)) != 0;
            vg_status rc = cases[c].run(f, t.id);
            if (rc != (allowed ? VG_OK : cases[c].refused))
                fail_msg("%s from %s: got %d, the table says %s", cases[c].name,
                         vg_task_status_name((vg_task_status)st), rc,
                         allowed ? "allowed" : "refused");
            vg_task_status now = status_of(f, t.id);
            int want = allowed && to >= 0 ? to : st;
            if ((int)now != want)
                fail_msg("%s from %s: now %s", cases[c].name,
                         vg_task_status_name((vg_task_status)st), vg_task_status_name(now));
        }
    }
    assert_int_equal(covered, (1u << VG_TASK_OP_COUNT) - 1); /* every operation was driven */
}

/* Two nodes share one database: on PostgreSQL a restart releases only its own leases; a SQLite
 * database is one node, whose restart releases every lease. */
static void test_leases_of_two_nodes(void **state)
{
    bool pg = fx_current == FX_PG;
    fixture *f = *state;
    vg_store *b = NULL;
    assert_int_equal(fx_open(f, "node-b", &b), VG_OK);
    vg_task t1, t2, c;
    make_task(f, &t1, 1);
    assert_int_equal(vg_store_task_create(f->s, &t1, 0, NULL), VG_OK);
    make_task(f, &t2, 1);
    assert_int_equal(vg_store_task_create(f->s, &t2, 0, NULL), VG_OK);
    /* Ids made in one millisecond have no order between them: note who claimed which. */
    char mine_a[48], mine_b[48];
    assert_int_equal(vg_store_task_claim(f->s, 5000, 1000, &c), VG_OK); /* node-a */
    snprintf(mine_a, sizeof mine_a, "%s", c.id);
    vg_task_free(&c);
    assert_int_equal(vg_store_task_claim(b, 5000, 1000, &c), VG_OK); /* node-b */
    snprintf(mine_b, sizeof mine_b, "%s", c.id);
    vg_task_free(&c);
    assert_string_not_equal(mine_a, mine_b);
    int64_t n = -1;
    assert_int_equal(vg_store_task_recover(b, 5500, &n), VG_OK); /* node-b restarts */
    assert_int_equal(n, pg ? 1 : 2);
    /* on PostgreSQL node-a's lease stands */
    assert_int_equal(status_of(f, mine_a), pg ? VG_TASK_RUNNING : VG_TASK_QUEUED);
    assert_int_equal(status_of(f, mine_b), VG_TASK_QUEUED);
    assert_int_equal(vg_store_task_recover(b, 6500, &n), VG_OK); /* node-a's lease expired */
    assert_int_equal(n, pg ? 1 : 0);
    assert_int_equal(status_of(f, mine_a), VG_TASK_QUEUED);
    /* assets: node-b's restart leaves node-a's claim alone */
    vg_asset_group g = {.key_id = "", .name = "g", .group_type = "AIGC", .is_default = true};
    snprintf(g.id, sizeof g.id, "group-1");
    snprintf(g.key_id, sizeof g.key_id, "%s", f->key.id);
    vg_asset a = {.type = VG_ASSET_IMAGE, .source_url = "https://example.com/a.png"};
    snprintf(a.id, sizeof a.id, "asset-1");
    snprintf(a.key_id, sizeof a.key_id, "%s", f->key.id);
    snprintf(a.name, sizeof a.name, "a");
    assert_int_equal(vg_store_asset_create(f->s, &a, &g), VG_OK);
    vg_asset got;
    assert_int_equal(vg_store_asset_claim(f->s, 5000, 1000, &got), VG_OK);
    vg_asset_free(&got);
    if (pg) {
        assert_int_equal(vg_store_asset_recover(b, 5100, &n), VG_OK);
        assert_int_equal(n, 0);
        assert_int_equal(vg_store_asset_claim(b, 5200, 1000, &got), VG_NOTFOUND);
    }
    assert_int_equal(vg_store_asset_recover(f->s, 5300, &n), VG_OK); /* node-a restarts */
    assert_int_equal(n, 1);
    assert_int_equal(vg_store_asset_claim(b, 5400, 1000, &got), VG_OK);
    vg_asset_free(&got);
    vg_store_close(b);
}

/* A named lease: one holder at a time; renewed by it, taken by another once expired, released. */
static void test_named_lease(void **state)
{
    fixture *f = *state;
    vg_store *b = NULL;
    assert_int_equal(fx_open(f, "node-b", &b), VG_OK);
    bool held = false;
    assert_int_equal(vg_store_lease_hold(f->s, "upstream", 1000, 10000, &held), VG_OK);
    assert_true(held); /* free: node-a takes it until 11000 */
    assert_int_equal(vg_store_lease_hold(b, "upstream", 2000, 10000, &held), VG_OK);
    assert_false(held);
    assert_int_equal(vg_store_lease_hold(f->s, "upstream", 9000, 10000, &held), VG_OK);
    assert_true(held); /* renewed until 19000 */
    assert_int_equal(vg_store_lease_hold(b, "upstream", 15000, 10000, &held), VG_OK);
    assert_false(held);
    assert_int_equal(vg_store_lease_hold(b, "other", 15000, 10000, &held), VG_OK);
    assert_true(held); /* names are apart */
    assert_int_equal(vg_store_lease_hold(b, "upstream", 19001, 10000, &held), VG_OK);
    assert_true(held); /* expired: node-b takes it */
    assert_int_equal(vg_store_lease_hold(f->s, "upstream", 19002, 10000, &held), VG_OK);
    assert_false(held);
    assert_int_equal(vg_store_lease_release(f->s, "upstream"), VG_OK); /* not node-a's: kept */
    assert_int_equal(vg_store_lease_hold(f->s, "upstream", 19003, 10000, &held), VG_OK);
    assert_false(held);
    assert_int_equal(vg_store_lease_release(b, "upstream"), VG_OK);
    assert_int_equal(vg_store_lease_hold(f->s, "upstream", 19004, 10000, &held), VG_OK);
    assert_true(held);
    assert_int_equal(fx_sql_int(f, "SELECT count(*) FROM leases WHERE owner = 'node-a'"), 1);
    /* a restart of node-b releases its own lease; node-a's stands on PostgreSQL (on SQLite, one
     * node, every lease goes) */
    assert_int_equal(vg_store_lease_recover(b), VG_OK);
    assert_int_equal(fx_sql_int(f, "SELECT count(*) FROM leases WHERE owner = 'node-b'"), 0);
    assert_int_equal(fx_sql_int(f, "SELECT count(*) FROM leases"), fx_current == FX_PG ? 1 : 0);
    vg_store_close(b);
}

/* A render's lease is renewed only by the claim that holds it; an expired one goes back to the
 * queue while the server runs, and the claim that lost it can no longer renew it. */
static void test_progress_needs_the_claim(void **state)
{
    fixture *f = *state;
    vg_store *b = NULL;
    assert_int_equal(fx_open(f, "node-b", &b), VG_OK);
    vg_task a, c;
    make_task(f, &a, 1);
    assert_int_equal(vg_store_task_create(f->s, &a, 0, NULL), VG_OK);
    assert_int_equal(vg_store_task_claim(f->s, 5000, 1000, &c), VG_OK); /* node-a, attempt 1 */
    vg_task_free(&c);
    assert_int_equal(vg_store_task_progress(b, a.id, 1, -1, 7000), VG_CONFLICT); /* not b's */
    assert_int_equal(vg_store_task_progress(f->s, a.id, 2, -1, 7000), VG_CONFLICT);
    assert_int_equal(vg_store_task_progress(f->s, a.id, 1, -1, 7000), VG_OK); /* until 7000 */
    int64_t n = -1;
    assert_int_equal(vg_store_task_requeue_expired(b, 6999, &n), VG_OK);
    assert_int_equal(n, 0);
    assert_int_equal(status_of(f, a.id), VG_TASK_RUNNING);
    assert_int_equal(vg_store_task_requeue_expired(b, 7001, &n), VG_OK); /* node-a died */
    assert_int_equal(n, 1);
    assert_int_equal(status_of(f, a.id), VG_TASK_QUEUED);
    assert_int_equal(vg_store_task_claim(f->s, 7002, 1000, &c), VG_OK); /* node-a again */
    assert_int_equal(c.attempts, 2);
    vg_task_free(&c);
    /* the first claim's renewal finds its lease gone, though the node is the same */
    assert_int_equal(vg_store_task_progress(f->s, a.id, 1, -1, 9000), VG_CONFLICT);
    assert_int_equal(vg_store_task_progress(f->s, a.id, 2, 30, 9000), VG_OK);
    vg_store_close(b);
}

/* Recovery also releases the leases of "<this host>:<pid>" names whose process is gone (a
 * restarted node's previous life under its default name), never those of a running one. */
static void test_recovery_of_dead_names(void **state)
{
    fixture *f = *state;
    char self[128], dead[160], alive[160];
    vg_store_default_node(self, sizeof self);
    *strrchr(self, ':') = '\0';
    pid_t child = fork();
    if (child == 0) _exit(0);
    assert_true(child > 0);
    waitpid(child, NULL, 0);
    snprintf(dead, sizeof dead, "%s:%ld", self, (long)child);
    snprintf(alive, sizeof alive, "%s:%ld", self, (long)getppid());
    assert_true(vg_store_owner_dead(dead));
    assert_false(vg_store_owner_dead(alive));
    assert_false(vg_store_owner_dead("elsewhere:1"));
    vg_store *d = NULL, *l = NULL, *c = NULL;
    assert_int_equal(fx_open(f, dead, &d), VG_OK);
    assert_int_equal(fx_open(f, alive, &l), VG_OK);
    vg_task t1, t2, got;
    make_task(f, &t1, 1);
    assert_int_equal(vg_store_task_create(f->s, &t1, 0, NULL), VG_OK);
    make_task(f, &t2, 1);
    assert_int_equal(vg_store_task_create(f->s, &t2, 0, NULL), VG_OK);
    assert_int_equal(vg_store_task_claim(d, 5000, 60000, &got), VG_OK);
    vg_task_free(&got);
    assert_int_equal(vg_store_task_claim(l, 5000, 60000, &got), VG_OK);
    vg_task_free(&got);
    bool held = false;
    assert_int_equal(vg_store_lease_hold(d, "upstream", 5000, 60000, &held), VG_OK);
    assert_true(held);
    vg_store_close(d);
    vg_store_close(l);
    assert_int_equal(fx_open(f, "node-c", &c), VG_OK); /* the process restarted as node-c */
    int64_t n = -1;
    assert_int_equal(vg_store_task_recover(c, 5500, &n), VG_OK);
    assert_int_equal(n, fx_current == FX_PG ? 1 : 2); /* the live process keeps its claim */
    assert_int_equal(vg_store_lease_recover(c), VG_OK);
    assert_int_equal(vg_store_lease_hold(c, "upstream", 5600, 10000, &held), VG_OK);
    assert_true(held);
    vg_store_close(c);
}

/* A new upstream leader makes other nodes' polls due at once, but not a submit that may still be
 * in flight (no upstream id, attempt not ended): that keeps its lease. */
static void test_upstream_takeover(void **state)
{
    fixture *f = *state;
    vg_store *b = NULL;
    assert_int_equal(fx_open(f, "node-b", &b), VG_OK);
    vg_task t;
    make_task(f, &t, 1);
    assert_int_equal(vg_store_task_create(f->s, &t, 0, NULL), VG_OK);
    vg_up_attempt a = {.task_id = t.id,
                       .attempt_id = "att_1",
                       .channel = "ark",
                       .upstream_model = "m",
                       .client_token = "tok",
                       .callback_token = "cb",
                       .now_ms = 5000,
                       .lease_until_ms = 90000};
    assert_int_equal(vg_store_upstream_begin(f->s, &a), VG_OK); /* node-a submits */
    int64_t n = -1;
    assert_int_equal(vg_store_upstream_takeover(b, 6000, &n), VG_OK);
    assert_int_equal(n, 0); /* the call may be in flight */
    assert_int_equal(vg_store_upstream_attempt_end(f->s, "att_1", "ambiguous", NULL, 0, "", 7000),
                     VG_OK);
    assert_int_equal(vg_store_upstream_takeover(b, 8000, &n), VG_OK);
    assert_int_equal(n, 1); /* the call ended: looked up at once */
    vg_up_row r;
    assert_int_equal(vg_store_upstream_get(b, t.id, &r), VG_OK);
    assert_int_equal(r.next_poll_at, 8000);
    vg_up_row_free(&r);
    /* accepted, next poll scheduled by node-a far ahead: node-b's takeover makes it due */
    vg_up_update u = vg_up_update_for(t.id, VG_TASK_BIT(VG_TASK_DISPATCHING));
    u.upstream_id = "cgt-1";
    u.next_poll_at = 100000;
    assert_int_equal(vg_store_upstream_update(f->s, &u, 1, 9), VG_OK);
    assert_true(u.applied);
    assert_int_equal(vg_store_upstream_takeover(f->s, 9000, &n), VG_OK);
    assert_int_equal(n, 0); /* its own schedule */
    assert_int_equal(vg_store_upstream_takeover(b, 9000, &n), VG_OK);
    assert_int_equal(n, 1);
    assert_int_equal(vg_store_upstream_get(b, t.id, &r), VG_OK);
    assert_int_equal(r.next_poll_at, 9000);
    vg_up_row_free(&r);
    vg_store_close(b);
}

/* Settings: the first proposal is kept, and every connection (node) reads that one. */
static void test_setting_first_proposal_wins(void **state)
{
    fixture *f = *state;
    vg_store *b = NULL;
    assert_int_equal(fx_open(f, "node-b", &b), VG_OK);
    char *v = NULL;
    assert_int_equal(vg_store_setting_claim(f->s, "presign_secret", "aaaa", &v), VG_OK);
    assert_string_equal(v, "aaaa");
    free(v);
    assert_int_equal(vg_store_setting_claim(b, "presign_secret", "bbbb", &v), VG_OK);
    assert_string_equal(v, "aaaa");
    free(v);
    assert_int_equal(vg_store_setting_claim(b, "other", "cccc", &v), VG_OK);
    assert_string_equal(v, "cccc");
    free(v);
    vg_store_close(b);
}

/* ---- many connections at once (threads here, nodes in production) -------------------------- */

#define RACERS     8
#define RACE_TASKS 10
#define RACE_HOLD  300000 /* 10.000000 covers 33 of these */

typedef struct {
    fixture *f;
    vg_store *s;
    pthread_barrier_t *start;
    int ok, refused, other;
    const char *idem_key; /* the idempotency race: one submit each with this key */
    char task_id[48];
} racer;

static void *race_submits(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(r->start);
    for (int i = 0; i < (r->idem_key ? 1 : RACE_TASKS); i++) {
        vg_task t;
        make_task(r->f, &t, RACE_HOLD);
        vg_idem idem = {r->idem_key, "hash", "{}"};
        vg_status rc = vg_store_task_create(r->s, &t, 0, r->idem_key ? &idem : NULL);
        if (rc == VG_OK) snprintf(r->task_id, sizeof r->task_id, "%s", t.id);
        /* The refusal expected: no funds left, or (same key) the key was taken meanwhile. */
        vg_status refused = r->idem_key ? VG_DUPLICATE : VG_NOFUNDS;
        r->ok += rc == VG_OK;
        r->refused += rc == refused;
        r->other += rc != VG_OK && rc != refused;
    }
    return NULL;
}

/* Runs n racers, each on its own connection, released together. */
static void race(fixture *f, racer *r, int n, const char *idem_key)
{
    pthread_t th[RACERS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        r[i] = (racer){.f = f, .start = &start, .idem_key = idem_key};
        assert_int_equal(fx_open(f, "node-a", &r[i].s), VG_OK);
    }
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, race_submits, &r[i]);
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        vg_store_close(r[i].s);
    }
    pthread_barrier_destroy(&start);
}

/* Holds from many connections at once never add up to more than the balance. */
static void test_concurrent_holds_never_overspend(void **state)
{
    fixture *f = *state;
    racer r[RACERS];
    race(f, r, RACERS, NULL);
    int ok = 0, nofunds = 0, other = 0;
    for (int i = 0; i < RACERS; i++)
        ok += r[i].ok, nofunds += r[i].refused, other += r[i].other;
    int64_t bal, held;
    money(f, &bal, &held);
    assert_int_equal(other, 0);
    assert_int_equal(ok + nofunds, RACERS * RACE_TASKS);
    assert_int_equal(ok, 10000000 / RACE_HOLD); /* every hold that fits, and not one more */
    assert_int_equal(bal, 10000000);
    assert_int_equal(held, (int64_t)ok * RACE_HOLD);
    assert_true(held <= bal);
    assert_int_equal(fx_sql_int(f, "SELECT coalesce(sum(amount_micro), 0) FROM ledger WHERE "
                                   "kind = 'hold'"),
                     held);
    assert_int_equal(fx_sql_int(f, "SELECT count(*) FROM tasks"), ok);
}

/* One Idempotency-Key submitted on two connections at once: one task, one hold; the other
 * submit is told the key was taken (and replays its record). */
static void test_concurrent_idempotency_key(void **state)
{
    fixture *f = *state;
    for (int round = 0; round < 10; round++) {
        char key[32];
        snprintf(key, sizeof key, "idem-%d", round);
        racer r[2];
        race(f, r, 2, key);
        assert_int_equal(r[0].other + r[1].other, 0);
        assert_int_equal(r[0].ok + r[1].ok, 1);
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM idempotency WHERE idem_key = '%s'", key);
        assert_int_equal(fx_sql_int(f, sql), 1);
        char hash[65], *response = NULL;
        assert_int_equal(vg_store_idem_get(f->s, f->key.id, key, 0, hash, &response), VG_OK);
        assert_string_equal(hash, "hash");
        free(response);
    }
    assert_int_equal(fx_sql_int(f, "SELECT count(*) FROM tasks"), 10);
    assert_int_equal(fx_sql_int(f, "SELECT count(*) FROM ledger WHERE kind = 'hold'"), 10);
}

/* The shared rate-limit bucket (PostgreSQL; SQLite has none and says so): a full bucket of
 * per_min tokens shared by every connection, refused with the wait for the next token, refilled
 * at per_min/60 per second. */
static void test_rate_bucket(void **state)
{
    fixture *f = *state;
    int retry = 0;
    if (fx_current == FX_SQLITE) {
        assert_int_equal(vg_store_rate_take(f->s, f->key.id, 3, &retry), VG_INVALID);
        return;
    }
    vg_store *other = NULL;
    assert_int_equal(fx_open(f, "node-b", &other), VG_OK);
    assert_int_equal(vg_store_rate_take(f->s, f->key.id, 0, &retry), VG_OK); /* no limit */
    assert_int_equal(vg_store_rate_take(f->s, f->key.id, 3, &retry), VG_OK);
    assert_int_equal(vg_store_rate_take(other, f->key.id, 3, &retry), VG_OK);
    assert_int_equal(vg_store_rate_take(f->s, f->key.id, 3, &retry), VG_OK);
    assert_int_equal(vg_store_rate_take(other, f->key.id, 3, &retry), VG_LIMITED);
    assert_in_range(retry, 19, 21); /* (1 − ~0 tokens) at 3 a minute: 20 s, +1 */
    assert_int_equal(vg_store_rate_take(f->s, f->key.id, 3, &retry), VG_LIMITED);
    /* 20 s later (the bucket's clock moved back): exactly one token again. */
    fx_sql(f, "UPDATE rate_buckets SET updated_ms = updated_ms - 20000");
    assert_int_equal(vg_store_rate_take(other, f->key.id, 3, &retry), VG_OK);
    assert_int_equal(vg_store_rate_take(f->s, f->key.id, 3, &retry), VG_LIMITED);
    /* Long idle: full, never more than per_min. */
    fx_sql(f, "UPDATE rate_buckets SET updated_ms = updated_ms - 3600000");
    int allowed = 0;
    for (int i = 0; i < 10; i++)
        allowed += vg_store_rate_take(f->s, f->key.id, 3, &retry) == VG_OK;
    assert_int_equal(allowed, 3);
    /* Another key has its own bucket. */
    assert_int_equal(vg_store_rate_take(f->s, "key_other", 1, &retry), VG_OK);
    assert_int_equal(vg_store_rate_take(f->s, "key_other", 1, &retry), VG_LIMITED);
    assert_in_range(retry, 59, 61);
    vg_store_close(other);
}

/* Waits up to ms for topic on the listening connection l (other topics, from other tests on the
 * same server, are skipped). */
static bool heard(vg_store *l, const char *topic, int ms)
{
    char got[VG_EVENTS_TOPIC_BYTES];
    for (int waited = 0; waited < ms; waited += 50) {
        vg_status rc = vg_store_listen_wait(l, 50, got, sizeof got);
        assert_true(rc == VG_OK || rc == VG_NOTFOUND);
        if (rc == VG_OK && !strcmp(got, topic)) return true;
    }
    return false;
}

/* Key changes are published at their commit (PostgreSQL; SQLite has no events). */
static void test_key_events(void **state)
{
    fixture *f = *state;
    char topic[VG_EVENTS_TOPIC_BYTES];
    if (fx_current == FX_SQLITE) {
        assert_int_equal(vg_store_listen_wait(f->s, 0, topic, sizeof topic), VG_INVALID);
        assert_int_equal(vg_store_notify(f->s, "x"), VG_INVALID);
        assert_true(vg_store_connected(f->s));
        return;
    }
    vg_store *l = NULL;
    assert_int_equal(fx_open(f, "node-b", &l), VG_OK);
    assert_int_equal(vg_store_listen_wait(l, 0, topic, sizeof topic), VG_OK);
    assert_string_equal(topic, VG_STORE_TOPIC_ALL); /* subscribed */
    assert_int_equal(vg_store_notify(f->s, "reload node_x"), VG_OK);
    assert_true(heard(l, "reload node_x", 2000));
    assert_int_equal(vg_store_key_adjust(f->s, f->key.id, 1000, "top-up", 1), VG_OK);
    assert_true(heard(l, VG_STORE_TOPIC_KEYS, 2000));
    vg_key k;
    assert_int_equal(vg_store_key_get(f->s, f->key.id, &k), VG_OK);
    k.rate_limit_per_min = 7;
    assert_int_equal(vg_store_key_update(f->s, &k, 2), VG_OK);
    vg_key_free(&k);
    assert_true(heard(l, VG_STORE_TOPIC_KEYS, 2000));
    assert_int_equal(vg_store_key_revoke(f->s, f->key.id, 3), VG_OK);
    assert_true(heard(l, VG_STORE_TOPIC_KEYS, 2000));
    assert_int_equal(vg_store_key_revoke(f->s, f->key.id, 3), VG_CONFLICT);
    assert_true(vg_store_connected(l));
    vg_store_close(l);
}

/* read_begin/read_end: the reads between them see one snapshot (SQLite; a backend without them
 * reads as usual), and a pair inside an open transaction leaves that transaction alone. */
static void test_read_snapshot(void **state)
{
    fixture *f = *state;
    vg_task t, got;
    make_task(f, &t, 1000);
    assert_int_equal(vg_store_task_create(f->s, &t, 0, NULL), VG_OK);
    vg_store *other = NULL;
    assert_int_equal(fx_open(f, "node-b", &other), VG_OK);
    vg_store_read_begin(f->s);
    assert_int_equal(vg_store_task_get(f->s, t.id, NULL, &got), VG_OK);
    assert_int_equal(got.status, VG_TASK_QUEUED);
    vg_task_free(&got);
    assert_int_equal(vg_store_task_cancel(other, t.id, f->key.id, 3000), VG_OK);
    assert_int_equal(vg_store_task_get(f->s, t.id, NULL, &got), VG_OK);
    /* the same snapshot on SQLite; the committed change on a backend without read_begin */
    assert_int_equal(got.status, fx_current == FX_SQLITE ? VG_TASK_QUEUED : VG_TASK_CANCELLED);
    vg_task_free(&got);
    vg_store_read_end(f->s);
    assert_int_equal(vg_store_task_get(f->s, t.id, NULL, &got), VG_OK);
    assert_int_equal(got.status, VG_TASK_CANCELLED);
    vg_task_free(&got);
    vg_store_close(other);
    /* Twice in a row, and a write right after: nothing is left open. */
    vg_store_read_begin(f->s);
    vg_store_read_end(f->s);
    vg_store_read_end(f->s);
    vg_task u;
    make_task(f, &u, 1000);
    assert_int_equal(vg_store_task_create(f->s, &u, 0, NULL), VG_OK);
}

/* The count of the checkpointer thread's checkpoints, from the metrics exposition. */
static long checkpoints_done(void)
{
    vg_metrics_out o = {0};
    vg_metrics_write(&o, 0);
    const char *line = strstr(o.text, "vidgate_sqlite_checkpoints_total{result=\"ok\"} ");
    long n = line ? atol(strchr(line, '}') + 2) : -1;
    vg_metrics_out_free(&o);
    return n;
}

static long file_bytes(const char *dir, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* The WAL's checkpoint sequence number (its header's fourth big-endian word), which SQLite raises
 * each time the WAL starts again from its beginning; -1 when there is no header yet. */
static long wal_restarts(const char *dir)
{
    char path[256];
    snprintf(path, sizeof path, "%s/vidgate.db-wal", dir);
    FILE *f = fopen(path, "rb");
    unsigned char h[16];
    size_t n = f ? fread(h, 1, sizeof h, f) : 0;
    if (f) fclose(f);
    if (n < sizeof h) return -1;
    return (long)((unsigned long)h[12] << 24 | (unsigned long)h[13] << 16 |
                  (unsigned long)h[14] << 8 | h[15]);
}

/* SQLite with checkpoint_thread (the daemon's stores): the WAL is copied into the database by the
 * process's checkpointer thread, shared by the connections of one file, and the WAL still starts
 * again from its beginning (it does not grow with the data); the data survive a reopen intact. */
static void test_checkpoint_thread(void **state)
{
    fixture *f = *state;
    if (fx_current != FX_SQLITE) skip();
    vg_store *a = NULL, *b = NULL;
    char err[256];
    vg_store_options o = {.data_dir = f->dir, .node = "ckpt", .checkpoint_thread = true};
    assert_int_equal(vg_store_open(&o, &a, err, sizeof err), VG_OK);
    assert_int_equal(vg_store_open(&o, &b, err, sizeof err), VG_OK);
    long before = checkpoints_done();
    assert_true(before >= 0);
    /* About 24 MiB of task rows in batches of 50 (a page or so each, and their share of the
     * b-trees): some 7,000 WAL pages, several times what the WAL holds between restarts. */
    enum { BATCHES = 120, PER = 50 };
    char *params = malloc(4001);
    memset(params, 'x', 4000);
    memcpy(params, "{\"p\":\"", 6);
    memcpy(params + 3998, "\"}", 2);
    params[4000] = '\0';
    long wal_max = 0, seq_first = -1;
    for (int i = 0; i < BATCHES; i++) {
        vg_task t[PER];
        vg_task_create_req r[PER];
        for (int k = 0; k < PER; k++) {
            make_task(f, &t[k], 0);
            t[k].params = params;
            r[k] = (vg_task_create_req){&t[k], 0, NULL};
        }
        assert_int_equal(vg_store_task_create_batch(i % 2 ? a : b, r, PER), VG_OK);
        for (int k = 0; k < PER; k++)
            assert_int_equal(r[k].rc, VG_OK);
        long w = file_bytes(f->dir, "vidgate.db-wal");
        if (w > wal_max) wal_max = w;
        if (seq_first < 0) seq_first = wal_restarts(f->dir);
    }
    free(params);
    long db = 0;
    for (int i = 0; i < 200 && (db = file_bytes(f->dir, "vidgate.db")) < 20L << 20; i++)
        usleep(20000);
    assert_true(db >= 20L << 20);             /* most of the rows reached the database file */
    assert_true(checkpoints_done() > before); /* and the thread copied them */
    /* the WAL started again on the way (how often depends on how busy the machine is), so it
     * never held all of them */
    assert_true(seq_first >= 0);
    assert_true(wal_restarts(f->dir) > seq_first);
    assert_true(wal_max < db);
    vg_store_close(a);
    vg_store_close(b); /* the last connection: the thread stops (the sanitizers check the rest) */
    assert_int_equal(fx_sql_int(f, "SELECT count(*) FROM tasks WHERE length(params) = 4000"),
                     BATCHES * PER);
    assert_int_equal(fx_sql_int(f, "SELECT count(*) FROM pragma_integrity_check "
                                   "WHERE integrity_check = 'ok'"),
                     1);
}

/* ---- migration 11: the task table remade without rowid, keyed by (key_id, id) --------------- */

static void sq_ok(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) fail_msg("%s: %s", sql, msg ? msg : "?");
}

static int64_t sq_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* A database left at schema 10 with a task that other tables refer to is opened by this build:
 * the rows, their references and the indexes survive, and references are still enforced. */
static void test_upgrade_to_tasks_by_key(void **state)
{
    fixture *f = *state;
    if (fx_current != FX_SQLITE) skip();
    char path[1100];
    snprintf(path, sizeof path, "%s/old.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sq_ok(db, "PRAGMA foreign_keys=ON");
    int n = 0;
    const vg_migration *m = vg_migrations(&n);
    assert_int_equal(m[n - 1].version, 11);
    for (int i = 0; i < n && m[i].version <= 10; i++)
        sq_ok(db, m[i].sql);
    sq_ok(db, "PRAGMA user_version = 10");
    sq_ok(db, "INSERT INTO keys (id, name, hash, created_at) VALUES ('key_a', 'a', 'h', 1)");
    sq_ok(db, "INSERT INTO tasks (id, key_id, model, status, created_at, updated_at, seconds,"
              " resolution, ratio, params, channel, lease_owner, hold_micro) VALUES"
              " ('task_1', 'key_a', 'm', 'succeeded', 1, 2, 5, '720p', '16:9', '{\"p\":1}',"
              " 'ark', 'n1', 700),"
              " ('task_2', 'key_a', 'm', 'queued', 3, 3, 4, '480p', '1:1', '{}', '', '', 5)");
    sq_ok(db, "INSERT INTO task_assets (task_id, sha256) VALUES ('task_1', 'abc')");
    sq_ok(db, "INSERT INTO webhook_deliveries (id, task_id, key_id, type, url, created_at,"
              " next_at, deadline) VALUES ('wh_1', 'task_1', 'key_a', 't', 'u', 1, 1, 1)");
    sqlite3_close(db);

    vg_store *s = NULL;
    char err[256];
    vg_store_options o = {.database = path, .node = "upgrade"};
    assert_int_equal(vg_store_open(&o, &s, err, sizeof err), VG_OK);
    vg_task t;
    assert_int_equal(vg_store_task_get(s, "task_1", "key_a", &t), VG_OK);
    assert_int_equal(t.hold_micro, 700);
    assert_string_equal(t.params, "{\"p\":1}");
    assert_int_equal(t.seconds, 5);
    vg_task_free(&t);
    assert_int_equal(vg_store_task_get(s, "task_2", "key_a", &t), VG_OK);
    vg_task_free(&t);
    vg_store_close(s);

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sq_ok(db, "PRAGMA foreign_keys=ON");
    assert_int_equal(sq_int(db, "PRAGMA user_version"), 11);
    assert_int_equal(sq_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'tasks'"
                                " AND sql LIKE '%PRIMARY KEY (key_id, id)) WITHOUT ROWID'"),
                     1);
    assert_int_equal(sq_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                " AND tbl_name = 'tasks' AND sql IS NOT NULL"),
                     5);
    assert_int_equal(sq_int(db, "SELECT count(*) FROM tasks"), 2);
    assert_int_equal(sq_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    assert_int_equal(sq_int(db, "SELECT count(*) FROM task_assets a JOIN tasks t"
                                " ON t.id = a.task_id"),
                     1);
    /* the tables that refer to tasks(id) still do, and the reference is checked */
    char *msg = NULL;
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO task_assets (task_id, sha256) VALUES"
                                      " ('task_none', 'x')",
                                      NULL, NULL, &msg),
                         SQLITE_OK);
    sqlite3_free(msg);
    assert_int_not_equal(
        sqlite3_exec(db, "DELETE FROM tasks WHERE id = 'task_1'", NULL, NULL, &msg), SQLITE_OK);
    sqlite3_free(msg);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_key_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hold_and_funds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_complete_settles_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_and_fail_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orphans_requeue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_machine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leases_of_two_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_needs_the_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_of_dead_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upstream_takeover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setting_first_proposal_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_holds_never_overspend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_idempotency_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_bucket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_thread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_to_tasks_by_key, setup, teardown),
    };
    return fx_run_groups("store", tests, sizeof tests / sizeof tests[0]);
}
