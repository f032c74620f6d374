/*
 * store_fixture.h - the store fixture the store-level unit tests share: a fresh SQLite store in a
 * temporary directory, opened as node "node-a", with one key ("tester", secret "sk-test", balance
 * 10.000000). Header-only (each test is its own program); setup/teardown go to cmocka.
 */
#ifndef VG_TESTS_STORE_FIXTURE_H
#define VG_TESTS_STORE_FIXTURE_H
#include "common/crypto.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "store/store.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    char dir[64];
    vg_store *s;
    vg_key key;
} fixture;

static inline int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/vg-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char err[256];
    assert_int_equal(vg_store_open(&(vg_store_options){.data_dir = f->dir, .node = "node-a"}, &f->s,
                                   err, sizeof err),
                     VG_OK);
    vg_id_new("key_", f->key.id);
    snprintf(f->key.name, sizeof f->key.name, "tester");
    vg_sha256_hex("sk-test", 7, f->key.hash);
    f->key.created_at = 1000;
    assert_int_equal(vg_store_key_insert(f->s, &f->key, 10000000, "initial"), VG_OK);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    fixture *f = *state;
    vg_store_close(f->s);
    vg_rm_rf(f->dir);
    free(f);
    return 0;
}

#endif
