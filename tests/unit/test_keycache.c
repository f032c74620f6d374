/* test_keycache.c - the per-thread key cache: fresh hits, the TTL, and invalidation and
 * suspension from another thread (what the listener of http/events.c does). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/keycache.h"

#include <pthread.h>
#include <string.h>

#define HASH "ab12000000000000000000000000000000000000000000000000000000000000"

static void put(int64_t now)
{
    vg_key k;
    memset(&k, 0, sizeof k);
    strcpy(k.id, "key_1");
    strcpy(k.hash, HASH);
    vg_keycache_put(&k, now, vg_keycache_generation());
}

static int hit(int64_t now)
{
    vg_key k;
    memset(&k, 0, sizeof k);
    int ok = vg_keycache_get(HASH, now, &k);
    if (ok) {
        assert_string_equal(k.id, "key_1");
        vg_key_free(&k);
    }
    return ok;
}

static void *invalidate(void *ud)
{
    (void)ud;
    vg_keycache_invalidate();
    return NULL;
}

static void *suspend_on(void *ud)
{
    (void)ud;
    vg_keycache_suspend(true);
    return NULL;
}

static void on_other_thread(void *(*fn)(void *))
{
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fn, NULL), 0);
    pthread_join(t, NULL);
}

static void test_ttl(void **state)
{
    (void)state;
    put(1000);
    assert_true(hit(1000));
    assert_true(hit(1000 + VG_KEYCACHE_TTL_MS));
    assert_false(hit(1001 + VG_KEYCACHE_TTL_MS));
}

static void test_invalidate_from_another_thread(void **state)
{
    (void)state;
    put(1000);
    assert_true(hit(1000));
    on_other_thread(invalidate);
    assert_false(hit(1000));
    put(1000);
    assert_true(hit(1000));
}

/* A key read from the store before an invalidation and put after it is not served. */
static void test_put_after_invalidation_is_dead(void **state)
{
    (void)state;
    unsigned long gen = vg_keycache_generation();
    on_other_thread(invalidate); /* the change committed while the key was being read */
    vg_key k;
    memset(&k, 0, sizeof k);
    strcpy(k.id, "key_1");
    strcpy(k.hash, HASH);
    vg_keycache_put(&k, 1000, gen);
    assert_false(hit(1000));
}

static void test_suspend(void **state)
{
    (void)state;
    put(1000);
    on_other_thread(suspend_on);
    assert_false(hit(1000)); /* suspended */
    put(1000);
    assert_false(hit(1000)); /* nothing is served while suspended */
    vg_keycache_suspend(false);
    assert_false(hit(1000)); /* what was cached before resuming is dropped */
    put(1000);
    assert_true(hit(1000));
    vg_keycache_thread_exit();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_invalidate_from_another_thread),
        cmocka_unit_test(test_put_after_invalidation_is_dead),
        cmocka_unit_test(test_suspend),
    };
    return cmocka_run_group_tests_name("keycache", tests, NULL, NULL);
}
