/* test_assets_store.c - assets in the store (SQLite, then PostgreSQL when VG_TEST_PG_URL is set:
 * store_fixture.h) and the processing pool's steps on a real data
 * directory: groups (default group, isolation, refusal to delete a non-empty one), list filters
 * and paging, the Processing → Active/Failed transitions, claims and their release at start-up,
 * publishing with deduplication, and collection: the bytes of a deleted asset stay while a task
 * names them and go once none does; inline media of a task stay while it is active and go after
 * it ends; the storage quota. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "assets/worker.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "common/limits.h"
#include "store/store.h"

#define FX_OWN_FIXTURE
#include "store_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define T0 1795519800 /* 2026-11-24 11:30:00 UTC */

typedef struct {
    char dir[64], tmp[96];
    char schema[64], database[2048]; /* fx_db_begin's */
    vg_store *s;
    vg_key key, other;
    vg_assets_env env;
} fixture;

static void add_key(fixture *f, vg_key *k, const char *secret)
{
    memset(k, 0, sizeof *k);
    vg_id_new("key_", k->id);
    snprintf(k->name, sizeof k->name, "%s", secret);
    vg_sha256_hex(secret, strlen(secret), k->hash);
    k->created_at = T0;
    assert_int_equal(vg_store_key_insert(f->s, k, 100000000, "initial"), VG_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/vg-assets-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->tmp, sizeof f->tmp, "%s/tmp", f->dir);
    assert_int_equal(vg_mkdir_p(f->tmp, 0700), 0);
    fx_db_begin(f->schema, f->database, sizeof f->database);
    char err[256];
    assert_int_equal(
        vg_store_open(
            &(vg_store_options){.data_dir = f->dir, .database = f->database, .node = "node-a"},
            &f->s, err, sizeof err),
        VG_OK);
    add_key(f, &f->key, "sk-one");
    add_key(f, &f->other, "sk-two");
    f->env = (vg_assets_env){.data_dir = f->dir, .tmp_dir = f->tmp};
    assert_int_equal(vg_assets_recover(&f->env, f->s), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vg_store_close(f->s);
    fx_db_end(f->schema);
    vg_rm_rf(f->dir);
    free(f);
    return 0;
}

static void make_group(const vg_key *k, const char *name, bool dflt, int64_t t, vg_asset_group *g)
{
    memset(g, 0, sizeof *g);
    vg_asset_id_new("group", t, g->id);
    snprintf(g->key_id, sizeof g->key_id, "%s", k->id);
    snprintf(g->name, sizeof g->name, "%s", name);
    snprintf(g->group_type, sizeof g->group_type, "AIGC");
    g->is_default = dflt;
    g->created_at = g->updated_at = t;
}

/* Inserts a Processing asset (Data upload unless url) into group ("" = default); returns its id. */
static void make_asset(fixture *f, const vg_key *k, const char *group, const char *name, int64_t t,
                       vg_asset *a)
{
    memset(a, 0, sizeof *a);
    vg_asset_id_new("asset", t, a->id);
    snprintf(a->key_id, sizeof a->key_id, "%s", k->id);
    snprintf(a->group_id, sizeof a->group_id, "%s", group);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->created_at = a->updated_at = t;
    vg_asset_group dflt;
    make_group(k, "default", true, t, &dflt);
    assert_int_equal(vg_store_asset_create(f->s, a, &dflt), VG_OK);
}

static void test_groups(void **state)
{
    fixture *f = *state;
    vg_asset_group g, got;
    make_group(&f->key, "mine", false, T0, &g);
    assert_int_equal(vg_store_asset_group_create(f->s, &g), VG_OK);
    assert_int_equal(vg_store_asset_group_create(f->s, &g), VG_DUPLICATE);
    assert_int_equal(vg_store_asset_group_get(f->s, g.id, f->key.id, &got), VG_OK);
    assert_string_equal(got.name, "mine");
    assert_int_equal(vg_store_asset_group_get(f->s, g.id, f->other.id, &got), VG_NOTFOUND);
    assert_int_equal(vg_store_asset_group_update(f->s, g.id, f->other.id, "x", NULL, T0 + 5),
                     VG_NOTFOUND);
    assert_int_equal(vg_store_asset_group_update(f->s, g.id, f->key.id, NULL, "about", T0 + 5),
                     VG_OK);
    assert_int_equal(vg_store_asset_group_get(f->s, g.id, f->key.id, &got), VG_OK);
    assert_string_equal(got.name, "mine");
    assert_string_equal(got.description, "about");
    assert_int_equal(got.updated_at, T0 + 5);

    /* a group with an asset cannot go; once the asset is deleted it can */
    vg_asset a;
    make_asset(f, &f->key, g.id, "a", T0, &a);
    assert_int_equal(vg_store_asset_group_delete(f->s, g.id, f->other.id), VG_NOTFOUND);
    assert_int_equal(vg_store_asset_group_delete(f->s, g.id, f->key.id), VG_CONFLICT);
    assert_int_equal(vg_store_asset_delete(f->s, a.id, f->key.id, T0 + 6), VG_OK);
    assert_int_equal(vg_store_asset_group_delete(f->s, g.id, f->key.id), VG_OK);
    assert_int_equal(vg_store_asset_group_get(f->s, g.id, f->key.id, &got), VG_NOTFOUND);

    /* another key's group cannot receive assets */
    vg_asset b;
    memset(&b, 0, sizeof b);
    vg_asset_id_new("asset", T0, b.id);
    snprintf(b.key_id, sizeof b.key_id, "%s", f->other.id);
    snprintf(b.group_id, sizeof b.group_id, "%s", g.id);
    snprintf(b.name, sizeof b.name, "b");
    assert_int_equal(vg_store_asset_create(f->s, &b, NULL), VG_NOTFOUND);
}

static void test_default_group(void **state)
{
    fixture *f = *state;
    vg_asset a, b, c;
    make_asset(f, &f->key, "", "a", T0, &a);
    make_asset(f, &f->key, "", "b", T0 + 1, &b);
    make_asset(f, &f->other, "", "c", T0 + 1, &c);
    assert_true(a.group_id[0] != '\0');
    assert_string_equal(a.group_id, b.group_id); /* created once per key */
    assert_string_not_equal(a.group_id, c.group_id);
    vg_asset_group g;
    assert_int_equal(vg_store_asset_group_get(f->s, a.group_id, f->key.id, &g), VG_OK);
    assert_true(g.is_default);
    vg_asset got;
    assert_int_equal(vg_store_asset_get(f->s, a.id, f->key.id, &got), VG_OK);
    assert_int_equal(got.status, VG_ASSET_PROCESSING);
    assert_null(got.source_url);
    vg_asset_free(&got);
    assert_int_equal(vg_store_asset_get(f->s, a.id, f->other.id, &got), VG_NOTFOUND);
}

static void test_list_filters(void **state)
{
    fixture *f = *state;
    vg_asset_group g;
    make_group(&f->key, "g", false, T0, &g);
    assert_int_equal(vg_store_asset_group_create(f->s, &g), VG_OK);
    char ids[5][VG_ASSET_ID_MAX];
    static const char *const names[] = {"Cat one", "dog", "CAT two", "bird", "cat three"};
    for (int i = 0; i < 5; i++) {
        vg_asset a;
        make_asset(f, &f->key, i % 2 ? g.id : "", names[i], T0 + i, &a);
        snprintf(ids[i], sizeof ids[i], "%s", a.id);
    }
    vg_asset other;
    make_asset(f, &f->other, "", "cat of another key", T0, &other);
    vg_asset_media m = {.format = "png", .size_bytes = 10, .width = 400, .height = 400};
    assert_int_equal(vg_store_asset_activate(f->s, ids[0], "ab", &m, T0 + 9), VG_OK);
    assert_int_equal(vg_store_asset_fail(f->s, ids[2], "InvalidDimensions", "x", T0 + 9), VG_OK);

    vg_asset *as;
    size_t n;
    int64_t total;
    vg_asset_filter flt = {.key_id = f->key.id, .name = "cat", .page = 1, .page_size = 2};
    assert_int_equal(vg_store_asset_list(f->s, &flt, &as, &n, &total), VG_OK);
    assert_int_equal(total, 3); /* case-insensitive substring, this key only */
    assert_int_equal(n, 2);
    assert_string_equal(as[0].id, ids[4]); /* newest first */
    assert_string_equal(as[1].id, ids[2]);
    for (size_t i = 0; i < n; i++)
        vg_asset_free(&as[i]);
    free(as);
    flt.page = 2;
    assert_int_equal(vg_store_asset_list(f->s, &flt, &as, &n, &total), VG_OK);
    assert_int_equal(n, 1);
    assert_string_equal(as[0].id, ids[0]);
    vg_asset_free(&as[0]);
    free(as);

    const char *groups[] = {g.id};
    vg_asset_filter byg = {
        .key_id = f->key.id, .group_ids = groups, .n_group_ids = 1, .page = 1, .page_size = 10};
    assert_int_equal(vg_store_asset_list(f->s, &byg, &as, &n, &total), VG_OK);
    assert_int_equal(total, 2);
    for (size_t i = 0; i < n; i++)
        vg_asset_free(&as[i]);
    free(as);

    vg_asset_filter bys = {.key_id = f->key.id,
                           .statuses = 1u << VG_ASSET_ACTIVE | 1u << VG_ASSET_FAILED,
                           .group_type = "AIGC",
                           .page = 1,
                           .page_size = 10};
    assert_int_equal(vg_store_asset_list(f->s, &bys, &as, &n, &total), VG_OK);
    assert_int_equal(total, 2);
    assert_int_equal(as[0].status, VG_ASSET_FAILED);
    assert_string_equal(as[0].error_code, "InvalidDimensions");
    assert_int_equal(as[1].status, VG_ASSET_ACTIVE);
    assert_int_equal(as[1].media.width, 400);
    for (size_t i = 0; i < n; i++)
        vg_asset_free(&as[i]);
    free(as);

    vg_asset_group *gs;
    vg_asset_filter gf = {.key_id = f->key.id, .page = 1, .page_size = 10};
    assert_int_equal(vg_store_asset_group_list(f->s, &gf, &gs, &n, &total), VG_OK);
    assert_int_equal(total, 2); /* g and the default group */
    free(gs);
}

static void test_claims(void **state)
{
    fixture *f = *state;
    vg_asset a, b, c;
    make_asset(f, &f->key, "", "a", T0, &a);
    make_asset(f, &f->key, "", "b", T0 + 1, &b);
    assert_int_equal(vg_store_asset_claim(f->s, 1000, 500, &c), VG_OK);
    assert_string_equal(c.id, a.id);
    assert_int_equal(c.attempts, 1);
    vg_asset_free(&c);
    assert_int_equal(vg_store_asset_claim(f->s, 1000, 500, &c), VG_OK);
    assert_string_equal(c.id, b.id);
    vg_asset_free(&c);
    assert_int_equal(vg_store_asset_claim(f->s, 1400, 500, &c), VG_NOTFOUND); /* leased */
    assert_int_equal(vg_store_asset_claim(f->s, 1600, 500, &c), VG_OK);       /* expired */
    assert_string_equal(c.id, a.id);
    assert_int_equal(c.attempts, 2);
    vg_asset_free(&c);
    int64_t n = 0;
    assert_int_equal(vg_store_asset_recover(f->s, 1601, &n), VG_OK); /* a restart */
    assert_int_equal(n, 2);
    assert_int_equal(vg_store_asset_claim(f->s, 1601, 500, &c), VG_OK);
    vg_asset_free(&c);
    vg_asset_media m = {.format = "png"};
    assert_int_equal(vg_store_asset_activate(f->s, a.id, "aa", &m, T0 + 2), VG_OK);
    assert_int_equal(vg_store_asset_activate(f->s, a.id, "aa", &m, T0 + 2), VG_CONFLICT);
    assert_int_equal(vg_store_asset_fail(f->s, a.id, "X", "y", T0 + 2), VG_CONFLICT);
}

/* ---- the worker's steps on files ------------------------------------------------------------ */

static void put_le(unsigned char *p, uint32_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Stages a w x h 24-bit BMP as the Data upload of asset id. */
static void stage_bmp(fixture *f, const char *id, int w, int h)
{
    size_t row = ((size_t)w * 3 + 3) & ~(size_t)3, size = 54 + row * (size_t)h;
    unsigned char *b = calloc(1, size);
    b[0] = 'B', b[1] = 'M';
    put_le(b + 2, (uint32_t)size, 4);
    put_le(b + 10, 54, 4);
    put_le(b + 14, 40, 4);
    put_le(b + 18, (uint32_t)w, 4);
    put_le(b + 22, (uint32_t)h, 4);
    put_le(b + 26, 1, 2);
    put_le(b + 28, 24, 2);
    for (size_t i = 54; i < size; i++)
        b[i] = (unsigned char)(i * 7);
    char path[256];
    vg_asset_staging_path(f->dir, id, path, sizeof path);
    FILE *fp = fopen(path, "wb");
    fwrite(b, 1, size, fp);
    fclose(fp);
    free(b);
}

static void process_next(fixture *f)
{
    vg_asset c;
    assert_int_equal(vg_store_asset_claim(f->s, vg_now_ms(), 60000, &c), VG_OK);
    vg_assets_process(&f->env, f->s, &c);
    vg_asset_free(&c);
}

static vg_asset get_any(fixture *f, const char *id)
{
    vg_asset a;
    assert_int_equal(vg_store_asset_get(f->s, id, NULL, &a), VG_OK);
    vg_asset_free(&a);
    return a;
}

static bool blob_exists(fixture *f, const char *sha)
{
    char path[256];
    vg_asset_blob_path(f->dir, sha, path, sizeof path);
    return access(path, F_OK) == 0;
}

static bool staged(fixture *f, const char *id)
{
    char path[256];
    vg_asset_staging_path(f->dir, id, path, sizeof path);
    return access(path, F_OK) == 0;
}

static void test_process_and_dedupe(void **state)
{
    fixture *f = *state;
    vg_asset a, b, small;
    make_asset(f, &f->key, "", "a", T0, &a);
    make_asset(f, &f->key, "", "b", T0 + 1, &b);
    make_asset(f, &f->key, "", "small", T0 + 2, &small);
    stage_bmp(f, a.id, 400, 300);
    stage_bmp(f, b.id, 400, 300); /* the same bytes */
    stage_bmp(f, small.id, 299, 300);
    process_next(f);
    process_next(f);
    process_next(f);
    vg_asset ga = get_any(f, a.id), gb = get_any(f, b.id), gs = get_any(f, small.id);
    assert_int_equal(ga.status, VG_ASSET_ACTIVE);
    assert_int_equal(gb.status, VG_ASSET_ACTIVE);
    assert_string_equal(ga.media.format, "bmp");
    assert_int_equal(ga.media.width, 400);
    assert_string_equal(ga.sha256, gb.sha256); /* stored once */
    assert_true(blob_exists(f, ga.sha256));
    assert_int_equal(gs.status, VG_ASSET_FAILED);
    assert_string_equal(gs.error_code, "InvalidDimensions");
    assert_false(staged(f, a.id) || staged(f, b.id) || staged(f, small.id));

    /* a lost upload fails clearly */
    vg_asset lost;
    make_asset(f, &f->key, "", "lost", T0 + 3, &lost);
    process_next(f);
    assert_string_equal(get_any(f, lost.id).error_code, "UploadLost");
}

/* Submitted tasks keep a deleted asset's bytes until they are final. */
static void test_collect_respects_tasks(void **state)
{
    fixture *f = *state;
    vg_asset a;
    make_asset(f, &f->key, "", "a", T0, &a);
    stage_bmp(f, a.id, 400, 300);
    process_next(f);
    vg_asset ga = get_any(f, a.id);
    char ref[VG_ASSET_REF_MAX], params[400];
    vg_asset_ref_format(a.id, ga.sha256, ref);
    snprintf(params, sizeof params, "{\"media\":[{\"type\":\"image\",\"url\":\"%s\"}]}", ref);
    vg_task t;
    memset(&t, 0, sizeof t);
    vg_id_new("task_", t.id);
    snprintf(t.key_id, sizeof t.key_id, "%s", f->key.id);
    snprintf(t.model, sizeof t.model, "doubao-seedance-2-0");
    t.created_at = T0;
    t.seconds = 5;
    t.params = params;
    assert_int_equal(vg_store_task_create(f->s, &t, 0, NULL), VG_OK);

    int64_t del = vg_now_s();
    assert_int_equal(vg_store_asset_delete(f->s, a.id, f->key.id, del), VG_OK);
    vg_asset gone;
    assert_int_equal(vg_store_asset_get(f->s, a.id, f->key.id, &gone), VG_NOTFOUND);
    assert_int_equal(vg_assets_collect(&f->env, f->s, del + 1), 0); /* within the grace */

    int64_t later = del + VG_ASSET_GC_GRACE_S;
    assert_int_equal(vg_assets_collect(&f->env, f->s, later), 1);
    assert_true(blob_exists(f, ga.sha256)); /* the queued task names it */
    assert_int_equal(vg_store_asset_get(f->s, a.id, NULL, &gone), VG_OK);
    vg_asset_free(&gone);
    assert_int_equal(vg_assets_collect(&f->env, f->s, later + 1), 0); /* deferred */

    assert_int_equal(vg_store_task_fail(f->s, t.id, "x", "y", later), VG_OK);
    assert_int_equal(vg_assets_collect(&f->env, f->s, later + VG_ASSET_GC_GRACE_S), 1);
    assert_false(blob_exists(f, ga.sha256));
    assert_int_equal(vg_store_asset_get(f->s, a.id, NULL, &gone), VG_NOTFOUND);
}

/* Two assets share bytes: deleting one keeps them; deleting both frees them. */
static void test_collect_shared_bytes(void **state)
{
    fixture *f = *state;
    vg_asset a, b;
    make_asset(f, &f->key, "", "a", T0, &a);
    make_asset(f, &f->other, "", "b", T0, &b);
    stage_bmp(f, a.id, 400, 300);
    stage_bmp(f, b.id, 400, 300);
    process_next(f);
    process_next(f);
    vg_asset ga = get_any(f, a.id);
    int64_t now = vg_now_s();
    assert_int_equal(vg_store_asset_delete(f->s, a.id, f->key.id, now), VG_OK);
    assert_int_equal(vg_assets_collect(&f->env, f->s, now + VG_ASSET_GC_GRACE_S), 1);
    assert_true(blob_exists(f, ga.sha256));
    assert_int_equal(vg_store_asset_delete(f->s, b.id, f->other.id, now), VG_OK);
    assert_int_equal(vg_assets_collect(&f->env, f->s, now + VG_ASSET_GC_GRACE_S), 1);
    assert_false(blob_exists(f, ga.sha256));
}

static void insert_task(fixture *f, const char *params, vg_task *t)
{
    memset(t, 0, sizeof *t);
    vg_id_new("task_", t->id);
    snprintf(t->key_id, sizeof t->key_id, "%s", f->key.id);
    snprintf(t->model, sizeof t->model, "doubao-seedance-2-0");
    t->created_at = T0;
    t->seconds = 5;
    t->params = (char *)params;
    assert_int_equal(vg_store_task_create(f->s, t, 0, NULL), VG_OK);
}

static void age_blob(fixture *f, const char *sha, int64_t mtime)
{
    char path[256];
    vg_asset_blob_path(f->dir, sha, path, sizeof path);
    struct timespec ts[2] = {{.tv_sec = mtime}, {.tv_sec = mtime}};
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Inline media: stored once per content, kept while a task that names them is active, collected
 * after the grace once it is final; a put touches the file, so a submit between its put and its
 * commit keeps it. */
static void test_inline_content(void **state)
{
    fixture *f = *state;
    const char bytes[] = "inline picture bytes";
    char sha[65], again[65], ref[VG_ASSET_REF_MAX], params[400];
    assert_int_equal(vg_assets_put_content(NULL, f->dir, f->tmp, (const unsigned char *)bytes,
                                           sizeof bytes, sha),
                     VG_OK);
    assert_int_equal(vg_assets_put_content(NULL, f->dir, f->tmp, (const unsigned char *)bytes,
                                           sizeof bytes, again),
                     VG_OK);
    assert_string_equal(sha, again);
    assert_true(blob_exists(f, sha));
    vg_asset_ref_format(VG_ASSET_INLINE_ID, sha, ref);
    assert_true(vg_asset_ref_is_inline(ref));
    snprintf(params, sizeof params, "{\"media\":[{\"type\":\"image\",\"url\":\"%s\"}]}", ref);
    vg_task t;
    insert_task(f, params, &t);
    int64_t now = vg_now_s();
    age_blob(f, sha, now - 2 * VG_ASSET_GC_GRACE_S);
    assert_int_equal(vg_assets_collect_refs(&f->env, f->s, now), 0); /* active: not visited */
    assert_true(blob_exists(f, sha));
    assert_int_equal(vg_store_task_fail(f->s, t.id, "x", "y", now), VG_OK);
    age_blob(f, sha, now); /* put again for a submit not yet committed */
    assert_int_equal(vg_assets_collect_refs(&f->env, f->s, now), 1);
    assert_true(blob_exists(f, sha));
    assert_int_equal(vg_assets_collect_refs(&f->env, f->s, now + VG_ASSET_GC_GRACE_S + 1), 1);
    assert_false(blob_exists(f, sha));
    assert_int_equal(vg_assets_collect_refs(&f->env, f->s, now + VG_ASSET_GC_GRACE_S + 2), 0);
}

/* The quota counts the live Active assets (and Processing ones when asked), never deleted ones. */
static void test_usage(void **state)
{
    fixture *f = *state;
    vg_asset a, b;
    make_asset(f, &f->key, "", "a", T0, &a);
    stage_bmp(f, a.id, 400, 300);
    process_next(f);
    int64_t used = -1, size = get_any(f, a.id).media.size_bytes;
    assert_int_equal(vg_store_asset_usage(f->s, f->key.id, false, NULL, &used), VG_OK);
    assert_int_equal(used, size);
    assert_int_equal(vg_store_asset_usage(f->s, f->key.id, false, a.id, &used), VG_OK);
    assert_int_equal(used, 0);
    assert_int_equal(vg_store_asset_usage(f->s, f->other.id, true, NULL, &used), VG_OK);
    assert_int_equal(used, 0);
    make_asset(f, &f->key, "", "b", T0 + 1, &b); /* Processing, no size recorded */
    assert_int_equal(vg_store_asset_usage(f->s, f->key.id, true, NULL, &used), VG_OK);
    assert_int_equal(used, size);
    assert_int_equal(vg_store_asset_delete(f->s, a.id, f->key.id, T0 + 2), VG_OK);
    assert_int_equal(vg_store_asset_usage(f->s, f->key.id, true, NULL, &used), VG_OK);
    assert_int_equal(used, 0);
}

/* Start-up: leftovers of a crash go, a pending upload stays and is processed. */
static void test_recover(void **state)
{
    fixture *f = *state;
    vg_asset a;
    make_asset(f, &f->key, "", "a", T0, &a);
    stage_bmp(f, a.id, 400, 300);
    stage_bmp(f, "asset-20261124113000-norowforthisfile", 400, 300);
    char orphan[256];
    vg_asset_blob_path(f->dir, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                       orphan, sizeof orphan);
    FILE *fp = fopen(orphan, "wb");
    fputs("x", fp);
    fclose(fp);
    vg_asset c;
    assert_int_equal(vg_store_asset_claim(f->s, vg_now_ms(), 60000, &c), VG_OK); /* then died */
    vg_asset_free(&c);
    assert_int_equal(vg_assets_recover(&f->env, f->s), 0);
    assert_true(staged(f, a.id));
    assert_false(staged(f, "asset-20261124113000-norowforthisfile"));
    assert_int_equal(access(orphan, F_OK), -1);
    process_next(f); /* claimable at once: its lease was released */
    assert_int_equal(get_any(f, a.id).status, VG_ASSET_ACTIVE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_and_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collect_respects_tasks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_collect_shared_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inline_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
    };
    return fx_run_groups("assets_store", tests, sizeof tests / sizeof tests[0]);
}
