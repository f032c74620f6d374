/* fuzz_config.c - the JSON configuration file (common/config.h): the input is the file's content,
 * loaded as `vidgated --config FILE` would, read again for its channels as on SIGHUP, and split
 * for its listen address.
 *
 * Checks: a refusal says why; an accepted file's effective configuration, written out and loaded
 * again, gives the same configuration; a number written as text is taken as written; the SIGHUP
 * reader agrees with the loader on "channels"; a listen address splits into a host and a port in
 * 0..65535. The file lives in a memfd, so no disk is touched. */
#include "common/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int g_fd = -1;
static char g_path[64];

/* Replaces the memfd's content. */
static int put_file(const void *data, size_t size)
{
    if (g_fd < 0) {
        g_fd = memfd_create("fuzz-config", 0);
        if (g_fd < 0) return -1;
        snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
        /* The environment must not override what the file says. */
        unsetenv("VIDGATE_CONFIG");
    }
    if (ftruncate(g_fd, 0) || pwrite(g_fd, data, size, 0) != (ssize_t)size) return -1;
    return 0;
}

/* Loads g_path; 0 with *out = its effective configuration as JSON, or -1. */
static int load(vg_config *c, json_t **out)
{
    char *argv[] = {"vidgated", "--config", g_path, NULL};
    char err[256] = "";
    int rc = vg_config_load(c, 3, argv, err, sizeof err);
    if (rc == 1) __builtin_trap(); /* no --help or --print-config here */
    if (rc) {
        if (!err[0]) __builtin_trap(); /* a refusal always says why */
        vg_config_free(c);
        return -1;
    }
    *out = vg_config_to_json(c);
    return 0;
}

static void check_channels(const vg_config *c)
{
    json_t *ch = NULL;
    char err[256] = "";
    int rc = vg_config_read_channels(g_path, &ch, err, sizeof err);
    if (!c->channels) {
        if (rc || ch) __builtin_trap();
    } else if (json_is_array(c->channels)) {
        if (rc || !json_equal(ch, c->channels)) __builtin_trap();
    } else if (rc != -1 || ch || !err[0]) {
        __builtin_trap(); /* the loader keeps a non-array; the reloader must refuse it */
    }
    json_decref(ch);
}

/* A number given as text means that number: never a saturated or wrapped one. */
static void check_numbers(const uint8_t *data, size_t size, const json_t *effective)
{
    json_t *file = json_loadb((const char *)data, size, 0, NULL);
    const char *k;
    json_t *v;
    json_object_foreach(file, k, v)
    {
        json_t *got = json_object_get(effective, k);
        if (!json_is_string(v) || !json_is_integer(got)) continue;
        errno = 0;
        long long n = strtoll(json_string_value(v), NULL, 10);
        if (errno || n != json_integer_value(got)) __builtin_trap();
    }
    json_decref(file);
}

static void check_listen(const vg_config *c)
{
    char host[256];
    int port = -1;
    if (vg_config_listen_addr(c, host, sizeof host, &port)) return;
    if (strnlen(host, sizeof host) == sizeof host || port < 0 || port > 65535) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16 || put_file(data, size)) return 0;
    vg_config c;
    json_t *first;
    if (load(&c, &first)) return 0;
    check_channels(&c);
    check_numbers(data, size, first);
    check_listen(&c);
    vg_config_free(&c);

    /* Round trip: the effective configuration is itself a valid file with the same meaning. */
    char *text = json_dumps(first, JSON_COMPACT);
    if (!text || put_file(text, strlen(text))) __builtin_trap();
    json_t *second;
    if (load(&c, &second)) __builtin_trap();
    if (!json_equal(first, second)) __builtin_trap();
    vg_config_free(&c);
    json_decref(second);
    json_decref(first);
    free(text);
    return 0;
}
