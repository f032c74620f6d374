/*
 * test_fetch.c - unit tests for net/fetch: the address classification table, the syntactic URL
 * policy, and live fetches against a tiny HTTP/1.1 server the test runs itself on 127.0.0.1 (an
 * ephemeral port) in a thread. The server counts connections and requests, so a test can prove
 * that a refused fetch never reached it.
 *
 * Nothing here touches a non-loopback address: the only non-loopback destination a fetch is sent
 * to (0.0.0.0 in a redirect) is refused before its socket exists, and on Linux it would reach this
 * host anyway, where the server would count it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/limits.h"
#include "common/status.h"
#include "net/fetch.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------------------------------------------
 * Address classification
 * ------------------------------------------------------------------------------------------- */

static int public_str(const char *s)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, s, &in.sin_addr) == 1)
        return vg_fetch_addr_public((const struct sockaddr *)&in);
    if (inet_pton(AF_INET6, s, &in6.sin6_addr) == 1)
        return vg_fetch_addr_public((const struct sockaddr *)&in6);
    fail_msg("bad test address %s", s);
    return -1;
}

typedef struct {
    const char *addr;
    int is_public;
} addr_case;

static void check_addr_table(const addr_case *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int got = public_str(t[i].addr);
        if (got != t[i].is_public)
            fail_msg("%s: expected %s", t[i].addr, t[i].is_public ? "public" : "non-public");
    }
}

static void test_addr_v4(void **state)
{
    (void)state;
    static const addr_case t[] = {
        {"0.0.0.0", 0},         {"0.255.255.255", 0},   {"1.0.0.0", 1},
        {"9.255.255.255", 1},   {"10.0.0.0", 0},        {"10.255.255.255", 0},
        {"11.0.0.0", 1},        {"100.63.255.255", 1},  {"100.64.0.0", 0},
        {"100.127.255.255", 0}, {"100.128.0.0", 1},     {"126.255.255.255", 1},
        {"127.0.0.0", 0},       {"127.0.0.1", 0},       {"127.255.255.255", 0},
        {"128.0.0.0", 1},       {"169.253.255.255", 1}, {"169.254.0.0", 0},
        {"169.254.169.254", 0}, {"169.254.255.255", 0}, {"169.255.0.0", 1},
        {"172.15.255.255", 1},  {"172.16.0.0", 0},      {"172.31.255.255", 0},
        {"172.32.0.0", 1},      {"191.255.255.255", 1}, {"192.0.0.0", 0},
        {"192.0.0.255", 0},     {"192.0.1.0", 1},       {"192.0.1.255", 1},
        {"192.0.2.0", 0},       {"192.0.2.255", 0},     {"192.0.3.0", 1},
        {"192.88.98.255", 1},   {"192.88.99.0", 0},     {"192.88.99.255", 0},
        {"192.88.100.0", 1},    {"192.167.255.255", 1}, {"192.168.0.0", 0},
        {"192.168.255.255", 0}, {"192.169.0.0", 1},     {"198.17.255.255", 1},
        {"198.18.0.0", 0},      {"198.19.255.255", 0},  {"198.20.0.0", 1},
        {"198.51.99.255", 1},   {"198.51.100.0", 0},    {"198.51.100.255", 0},
        {"198.51.101.0", 1},    {"203.0.112.255", 1},   {"203.0.113.0", 0},
        {"203.0.113.255", 0},   {"203.0.114.0", 1},     {"223.255.255.255", 1},
        {"224.0.0.0", 0},       {"239.255.255.255", 0}, {"240.0.0.0", 0},
        {"255.255.255.254", 0}, {"255.255.255.255", 0}, {"8.8.8.8", 1},
        {"1.1.1.1", 1},         {"93.184.216.34", 1},
    };
    check_addr_table(t, sizeof t / sizeof t[0]);
}

static void test_addr_v6(void **state)
{
    (void)state;
    static const addr_case t[] = {
        {"::", 0},
        {"::1", 0},
        {"::2", 0},
        {"::127.0.0.1", 0}, /* deprecated IPv4-compatible */
        /* IPv4-mapped: judged by the embedded address */
        {"::ffff:8.8.8.8", 1},
        {"::ffff:127.0.0.1", 0},
        {"::ffff:10.0.0.1", 0},
        {"::ffff:0.0.0.0", 0},
        {"::ffff:169.254.169.254", 0},
        {"::ffff:255.255.255.255", 0},
        {"::fffe:808:808", 0}, /* just below the mapped range */
        {"::1:0:808:808", 0},  /* just above it */
        /* NAT64 64:ff9b::/96 */
        {"64:ff9b::8.8.8.8", 1},
        {"64:ff9b::127.0.0.1", 0},
        {"64:ff9b::10.0.0.1", 0},
        {"64:ff9b::c0a8:101", 0},
        {"64:ff9b:0:0:0:1:808:808", 0}, /* outside the /96 */
        {"64:ff9b:1::808:808", 0},      /* local-use NAT64, not global */
        /* 6to4 2002::/16 */
        {"2002:808:808::1", 1},
        {"2002:7f00:1::1", 0},
        {"2002:a00:1::1", 0},
        {"2002:c0a8:101::1", 0},
        {"2002:a9fe:a9fe::1", 0},
        {"2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1},
        {"2003::1", 1},
        /* documentation and IETF special-purpose */
        {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", 1},
        {"2001:db8::", 0},
        {"2001:db8::1", 0},
        {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 0},
        {"2001:db9::", 1},
        {"2001::", 0},
        {"2001:0:4136:e378::1", 0}, /* Teredo */
        {"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
        {"2001:200::", 1},
        {"3ffe:ffff::1", 1},
        {"3fff::1", 0},
        {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
        {"3fff:1000::", 1},
        /* 100::/64 discard-only */
        {"100::", 0},
        {"100::1", 0},
        {"100::ffff:ffff:ffff:ffff", 0},
        /* only 2000::/3 is global unicast: both neighbours of each range below are refused */
        {"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
        {"2000::", 1},
        {"3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1},
        {"4000::", 0},
        {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
        {"fc00::", 0},
        {"fd12:3456::1", 0},
        {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
        {"fe00::", 0},
        {"fe80::", 0},
        {"fe80::1", 0},
        {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
        {"fec0::1", 0},
        {"ff00::", 0},
        {"ff02::1", 0},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0},
        {"2606:4700:4700::1111", 1},
        {"2a00:1450:4001::1", 1},
    };
    check_addr_table(t, sizeof t / sizeof t[0]);
}

static void test_addr_other_families(void **state)
{
    (void)state;
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    assert_int_equal(vg_fetch_addr_public(NULL), 0);
    assert_int_equal(vg_fetch_addr_public((const struct sockaddr *)&un), 0);
}

/* ---------------------------------------------------------------------------------------------
 * Syntactic URL policy
 * ------------------------------------------------------------------------------------------- */

enum { HTTP = 1, PRIV = 2, LOOP = 4 };

typedef struct {
    const char *url;
    int flags;
    int want;
} url_case;

static vg_fetch_opts opts_of(int flags)
{
    vg_fetch_opts o = {
        .allow_http = flags & HTTP, .allow_private = flags & PRIV, .allow_loopback = flags & LOOP};
    return o;
}

static void test_check_url(void **state)
{
    (void)state;
    static const url_case t[] = {
        {"https://example.com/", 0, VG_OK},
        {"https://Example.COM/a.png?x=1#f", 0, VG_OK},
        {"https://example.com:8443/a.png", 0, VG_OK},
        /* one spelling of the scheme, shared with request validation (core/urlpolicy.h) */
        {"HTTPS://example.com/", 0, VG_INVALID},
        {"Http://example.com/", HTTP, VG_INVALID},
        /* ports: decimal 1..65535, written or absent */
        {"https://example.com:443/", 0, VG_OK},
        {"https://example.com:65535/", 0, VG_OK},
        {"https://example.com:0/", 0, VG_INVALID},
        {"https://example.com:65536/", 0, VG_INVALID},
        {"https://example.com:/", 0, VG_INVALID},
        {"https://example.com:8x/", 0, VG_INVALID},
        {"https://[2606:4700:4700::1111]:8443/", 0, VG_OK},
        {"https://[2606:4700:4700::1111]x/", 0, VG_INVALID},
        /* host alphabet: no escapes, backslashes or raw non-ASCII bytes */
        {"https://exa%6dple.com/", 0, VG_INVALID},
        {"https://example.com\\@evil.example/", 0, VG_INVALID},
        {"https://ex\xc3\xa4mple.com/", 0, VG_INVALID},
        {"https://[not:an:address::g]/", 0, VG_INVALID},
        {"https://8.8.8.8/", 0, VG_OK},
        {"https://[2606:4700:4700::1111]/", 0, VG_OK},
        /* schemes */
        {"ftp://example.com/x", 0, VG_INVALID},
        {"ftp://example.com/x", HTTP | PRIV, VG_INVALID},
        {"file:///etc/passwd", 0, VG_INVALID},
        {"file:///etc/passwd", HTTP | PRIV, VG_INVALID},
        {"gopher://example.com/", HTTP, VG_INVALID},
        {"data:image/png;base64,AAAA", HTTP, VG_INVALID},
        {"javascript:alert(1)", HTTP, VG_INVALID},
        {"http://example.com/", 0, VG_INVALID},
        {"http://example.com/", HTTP, VG_OK},
        {"//example.com/", HTTP, VG_INVALID},
        {"example.com", HTTP, VG_INVALID},
        /* hosts and credentials */
        {"https://user:pass@example.com/", 0, VG_INVALID},
        {"https://user@example.com/", 0, VG_INVALID},
        {"https://@example.com/", 0, VG_INVALID},
        {"https://:@example.com/", 0, VG_INVALID},
        {"https://example.com/path@x", 0, VG_OK}, /* '@' in the path is not userinfo */
        {"https://", 0, VG_INVALID},
        {"https:///x", 0, VG_INVALID},
        {"https://?x", 0, VG_INVALID},
        {"", 0, VG_INVALID},
        {"https://exa mple.com/", 0, VG_INVALID},
        {"https://example.com/\r\nX-Injected: 1", 0, VG_INVALID},
        {"https://example.com/\x7f", 0, VG_INVALID},
        /* literal loopback in every form libcurl accepts */
        {"http://127.0.0.1/", HTTP, VG_INVALID},
        {"http://127.0.0.1/", HTTP | PRIV, VG_OK},
        {"http://127.0.0.1/", HTTP | LOOP, VG_OK},
        {"http://0x7f000001/", HTTP, VG_INVALID},
        {"http://2130706433/", HTTP, VG_INVALID},
        {"http://0177.0.0.1/", HTTP, VG_INVALID},
        {"http://0x7f.1/", HTTP, VG_INVALID},
        {"http://127.1/", HTTP, VG_INVALID},
        {"https://127.0.0.1./", 0, VG_INVALID},
        {"https://%31%32%37.0.0.1/", 0, VG_INVALID},
        {"http://[::1]/", HTTP, VG_INVALID},
        {"http://[::1]/", HTTP | LOOP, VG_OK},
        {"http://[::ffff:127.0.0.1]/", HTTP, VG_INVALID},
        {"http://[::ffff:7f00:1]/", HTTP, VG_INVALID},
        {"http://[::ffff:127.0.0.1]/", HTTP | LOOP, VG_OK},
        {"http://[::]/", HTTP, VG_INVALID},
        /* other non-public literals */
        {"http://10.1.2.3/", HTTP, VG_INVALID},
        {"http://10.1.2.3/", HTTP | LOOP, VG_INVALID},
        {"http://10.1.2.3/", HTTP | PRIV, VG_OK},
        {"https://169.254.169.254/latest/meta-data/", 0, VG_INVALID},
        {"https://0.0.0.0/", 0, VG_INVALID},
        {"https://0.0.0.0/", LOOP, VG_INVALID},
        {"https://192.168.1.1/", 0, VG_INVALID},
        {"https://[fe80::1%25eth0]/", 0, VG_INVALID},
        {"https://[fd00::1]/", 0, VG_INVALID},
        {"https://[64:ff9b::7f00:1]/", 0, VG_INVALID},
        {"https://[::ffff:8.8.8.8]/", 0, VG_OK},
        /* names are judged when connecting, not here */
        {"https://localhost/", 0, VG_OK},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        vg_fetch_opts o = opts_of(t[i].flags);
        char err[256] = "";
        int got = vg_fetch_check_url(t[i].url, &o, err, sizeof err);
        if (got != t[i].want)
            fail_msg("%s (flags %d): got %d, want %d (%s)", t[i].url, t[i].flags, got, t[i].want,
                     err);
        if (got != VG_OK && err[0] == '\0') fail_msg("%s: no reason given", t[i].url);
    }
}

static void test_check_url_misc(void **state)
{
    (void)state;
    char err[256];
    /* NULL options mean the defaults; NULL message buffer is fine */
    assert_int_equal(vg_fetch_check_url("https://example.com/", NULL, NULL, 0), VG_OK);
    assert_int_equal(vg_fetch_check_url("http://example.com/", NULL, err, sizeof err), VG_INVALID);
    assert_non_null(strstr(err, "https"));
    assert_int_equal(vg_fetch_check_url(NULL, NULL, err, sizeof err), VG_INVALID);
    assert_int_equal(vg_fetch_check_url("https://u:p@example.com/", NULL, err, sizeof err),
                     VG_INVALID);
    assert_null(strstr(err, "u:p")); /* the credentials are not echoed */

    /* length: exactly VG_MAX_URL_BYTES passes, one more does not */
    char *u = malloc(VG_MAX_URL_BYTES + 2);
    assert_non_null(u);
    size_t head = strlen("https://example.com/");
    memcpy(u, "https://example.com/", head);
    memset(u + head, 'a', VG_MAX_URL_BYTES - head);
    u[VG_MAX_URL_BYTES] = '\0';
    assert_int_equal(vg_fetch_check_url(u, NULL, err, sizeof err), VG_OK);
    u[VG_MAX_URL_BYTES] = 'a';
    u[VG_MAX_URL_BYTES + 1] = '\0';
    assert_int_equal(vg_fetch_check_url(u, NULL, err, sizeof err), VG_INVALID);
    free(u);
}

/* ---------------------------------------------------------------------------------------------
 * The loopback test server
 * ------------------------------------------------------------------------------------------- */

static struct {
    int lfd;
    int port;
    pthread_t thread;
    atomic_int stop;
    atomic_int busy;     /* handling a connection */
    atomic_int conns;    /* connections accepted since the last reset */
    atomic_int requests; /* requests read since the last reset */
} srv;

#define BIG_BYTES 100000
static char big_body[BIG_BYTES];

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* the client went away: fine */
        c += w;
        n -= (size_t)w;
    }
}

static void send_fmt(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_fmt(int fd, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) send_all(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void h_ok(int fd)
{
    send_fmt(fd, "HTTP/1.1 200 OK\r\nContent-Type: Image/PNG; charset=binary\r\n"
                 "Content-Length: 5\r\nConnection: close\r\n\r\nhello");
}

static void h_notype(int fd)
{
    send_fmt(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx");
}

static void h_empty(int fd)
{
    send_fmt(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n");
}

static void h_exact(int fd)
{
    send_fmt(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 "Content-Length: 1000\r\nConnection: close\r\n\r\n");
    send_all(fd, big_body, 1000);
}

static void h_big_cl(int fd)
{
    send_fmt(fd, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", BIG_BYTES);
    send_all(fd, big_body, BIG_BYTES);
}

static void h_stall(int fd)
{
    /* Say nothing until the client gives up (or 3 s pass). */
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, 3000);
}

static void h_big_cl_stall(int fd)
{
    /* Announces a large body and then sends nothing: only an up-front check ends this quickly. */
    send_fmt(fd, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", BIG_BYTES);
    h_stall(fd);
}

static void h_big_nocl(int fd)
{
    send_fmt(fd, "HTTP/1.1 200 OK\r\nContent-Type: video/mp4\r\nConnection: close\r\n\r\n");
    send_all(fd, big_body, BIG_BYTES);
}

static void h_404(int fd)
{
    send_fmt(fd, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n"
                 "Connection: close\r\n\r\nnot found");
}

static void h_500(int fd)
{
    send_fmt(fd, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n");
}

static void redirect(int fd, const char *location)
{
    send_fmt(fd,
             "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n"
             "Connection: close\r\n\r\n",
             location);
}

static void h_redir_ok(int fd)
{
    redirect(fd, "/ok");
}

static void h_redir_loop(int fd)
{
    redirect(fd, "/redir-loop");
}

static void h_redir_ftp(int fd)
{
    char loc[128];
    snprintf(loc, sizeof loc, "ftp://127.0.0.1:%d/ok", srv.port);
    redirect(fd, loc);
}

static void h_redir_file(int fd)
{
    redirect(fd, "file:///etc/passwd");
}

static void h_redir_zero(int fd)
{
    char loc[128];
    snprintf(loc, sizeof loc, "http://0.0.0.0:%d/ok", srv.port);
    redirect(fd, loc);
}

static void h_redir_localhost(int fd)
{
    char loc[128];
    snprintf(loc, sizeof loc, "http://localhost:%d/ok", srv.port);
    redirect(fd, loc);
}

static const struct {
    const char *path;
    void (*fn)(int fd);
} routes[] = {
    {"/ok", h_ok},
    {"/notype", h_notype},
    {"/empty", h_empty},
    {"/exact", h_exact},
    {"/big-cl", h_big_cl},
    {"/big-cl-stall", h_big_cl_stall},
    {"/big-nocl", h_big_nocl},
    {"/404", h_404},
    {"/500", h_500},
    {"/stall", h_stall},
    {"/redir-ok", h_redir_ok},
    {"/redir-loop", h_redir_loop},
    {"/redir-ftp", h_redir_ftp},
    {"/redir-file", h_redir_file},
    {"/redir-zero", h_redir_zero},
    {"/redir-localhost", h_redir_localhost},
};

/* Reads the request head; 0 and the path on success. */
static int read_request(int fd, char *path, size_t pathlen)
{
    char buf[8192];
    size_t len = 0;
    while (len < sizeof buf - 1) {
        ssize_t r = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        len += (size_t)r;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n")) break;
    }
    char fmt[32];
    snprintf(fmt, sizeof fmt, "GET %%%zus HTTP/1.1", pathlen - 1);
    return sscanf(buf, fmt, path) == 1 ? 0 : -1;
}

static void serve(int fd)
{
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char path[256];
    if (read_request(fd, path, sizeof path) != 0) return;
    atomic_fetch_add(&srv.requests, 1);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].path, path) == 0) {
            routes[i].fn(fd);
            return;
        }
    }
    h_404(fd);
}

static void *server_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&srv.stop)) {
        struct pollfd p = {.fd = srv.lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        atomic_store(&srv.busy, 1);
        int fd = accept4(srv.lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            atomic_fetch_add(&srv.conns, 1);
            serve(fd);
            close(fd);
        }
        atomic_store(&srv.busy, 0);
    }
    return NULL;
}

static int server_start(void **state)
{
    (void)state;
    memset(big_body, 'b', sizeof big_body);
    srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (srv.lfd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(srv.lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(srv.lfd, 16) != 0 ||
        getsockname(srv.lfd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    srv.port = ntohs(a.sin_port);
    atomic_store(&srv.stop, 0);
    return pthread_create(&srv.thread, NULL, server_main, NULL) == 0 ? 0 : -1;
}

static int server_stop(void **state)
{
    (void)state;
    atomic_store(&srv.stop, 1);
    pthread_join(srv.thread, NULL);
    close(srv.lfd);
    return 0;
}

/* Waits for the server to finish any connection left from an earlier test, then zeroes counters. */
static int server_reset(void **state)
{
    (void)state;
    for (int i = 0; i < 300 && atomic_load(&srv.busy); i++)
        usleep(10000);
    atomic_store(&srv.conns, 0);
    atomic_store(&srv.requests, 0);
    return 0;
}

static const char *url_of(char *buf, size_t len, const char *host, const char *path)
{
    snprintf(buf, len, "http://%s:%d%s", host, srv.port, path);
    return buf;
}

static const char *srv_url(const char *path)
{
    static char buf[256];
    return url_of(buf, sizeof buf, "127.0.0.1", path);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fetches into memory and checks the status; returns the body (caller frees). */
static unsigned char *fetch_expect(const char *url, const vg_fetch_opts *o, int want, size_t *len,
                                   char ctype[VG_FETCH_CTYPE_BYTES], char *err, size_t errlen)
{
    unsigned char *body = (unsigned char *)"sentinel";
    size_t n = 12345;
    char ct[VG_FETCH_CTYPE_BYTES];
    int got = vg_fetch_mem(url, o, &body, &n, ct, err, errlen);
    if (got != want) fail_msg("%s: got %d, want %d (%s)", url, got, want, err);
    if (want != VG_OK) {
        assert_null(body);
        assert_int_equal(n, 0);
        assert_true(err[0] != '\0');
    } else {
        assert_non_null(body);
    }
    if (len) *len = n;
    if (ctype) memcpy(ctype, ct, sizeof ct);
    return body;
}

/* ---------------------------------------------------------------------------------------------
 * Live fetches
 * ------------------------------------------------------------------------------------------- */

static void test_refused_literal_loopback(void **state)
{
    (void)state;
    char err[256] = "";
    vg_fetch_opts o = {.allow_http = true}; /* allow_private is off */
    char u[256];
    const char *hosts[] = {"127.0.0.1", "0x7f000001", "2130706433", "127.1", "[::ffff:127.0.0.1]"};
    for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
        fetch_expect(url_of(u, sizeof u, hosts[i], "/ok"), &o, VG_INVALID, NULL, NULL, err,
                     sizeof err);
    assert_int_equal(atomic_load(&srv.conns), 0);
}

static void test_refused_http_by_default(void **state)
{
    (void)state;
    char err[256] = "";
    vg_fetch_opts o = {.allow_private = true}; /* https only */
    fetch_expect(srv_url("/ok"), &o, VG_INVALID, NULL, NULL, err, sizeof err);
    assert_non_null(strstr(err, "scheme"));
    assert_int_equal(atomic_load(&srv.conns), 0);
}

static void test_refused_credentials(void **state)
{
    (void)state;
    char err[256] = "", u[256];
    vg_fetch_opts o = {.allow_http = true, .allow_private = true};
    fetch_expect(url_of(u, sizeof u, "user:secret@127.0.0.1", "/ok"), &o, VG_INVALID, NULL, NULL,
                 err, sizeof err);
    assert_null(strstr(err, "secret"));
    assert_int_equal(atomic_load(&srv.conns), 0);
}

static void test_refused_name_resolving_to_loopback(void **state)
{
    (void)state;
    char err[256] = "";
    char u[256];
    /* "localhost" passes the syntactic check; the socket callback refuses the address. */
    vg_fetch_opts o = {.allow_http = true};
    fetch_expect(url_of(u, sizeof u, "localhost", "/ok"), &o, VG_INVALID, NULL, NULL, err,
                 sizeof err);
    assert_non_null(strstr(err, "not a public address"));
    assert_null(strstr(err, "127.0.0.1")); /* resolved addresses are not echoed */
    assert_int_equal(atomic_load(&srv.conns), 0);
}

static void test_fetch_ok(void **state)
{
    (void)state;
    char err[256] = "", ctype[VG_FETCH_CTYPE_BYTES];
    size_t len;
    vg_fetch_opts o = {.allow_http = true, .allow_private = true};
    unsigned char *b = fetch_expect(srv_url("/ok"), &o, VG_OK, &len, ctype, err, sizeof err);
    assert_int_equal(len, 5);
    assert_memory_equal(b, "hello", 5);
    assert_int_equal(b[5], '\0');
    assert_string_equal(ctype, "image/png");
    free(b);

    vg_fetch_opts lo = {.allow_http = true, .allow_loopback = true};
    b = fetch_expect(srv_url("/notype"), &lo, VG_OK, &len, ctype, err, sizeof err);
    assert_int_equal(len, 1);
    assert_string_equal(ctype, "");
    free(b);

    b = fetch_expect(srv_url("/empty"), &lo, VG_OK, &len, ctype, err, sizeof err);
    assert_int_equal(len, 0);
    assert_string_equal(ctype, "text/plain");
    free(b);

    /* NULL content-type buffer is allowed */
    b = NULL;
    assert_int_equal(vg_fetch_mem(srv_url("/ok"), &lo, &b, &len, NULL, NULL, 0), VG_OK);
    free(b);
    assert_int_equal(atomic_load(&srv.requests), 4);
}

static void test_redirect_followed(void **state)
{
    (void)state;
    char err[256] = "";
    size_t len;
    vg_fetch_opts o = {.allow_http = true, .allow_loopback = true};
    unsigned char *b = fetch_expect(srv_url("/redir-ok"), &o, VG_OK, &len, NULL, err, sizeof err);
    assert_int_equal(len, 5);
    free(b);
    /* a redirect to a name that resolves to loopback is fine while loopback is allowed */
    b = fetch_expect(srv_url("/redir-localhost"), &o, VG_OK, &len, NULL, err, sizeof err);
    free(b);
    assert_int_equal(atomic_load(&srv.requests), 4);
}

static void test_redirect_scheme_rechecked(void **state)
{
    (void)state;
    char err[256] = "";
    vg_fetch_opts o = {.allow_http = true, .allow_private = true};
    fetch_expect(srv_url("/redir-ftp"), &o, VG_INVALID, NULL, NULL, err, sizeof err);
    assert_non_null(strstr(err, "scheme"));
    fetch_expect(srv_url("/redir-file"), &o, VG_INVALID, NULL, NULL, err, sizeof err);
    assert_int_equal(atomic_load(&srv.requests), 2); /* only the two first hops */
}

static void test_redirect_address_rechecked(void **state)
{
    (void)state;
    char err[256] = "";
    size_t len;
    /* Loopback is allowed, 0.0.0.0 ("this network") is not: the hop must be refused before its
     * socket exists, although on Linux it would land on this very server. */
    vg_fetch_opts o = {.allow_http = true, .allow_loopback = true};
    fetch_expect(srv_url("/redir-zero"), &o, VG_INVALID, NULL, NULL, err, sizeof err);
    assert_non_null(strstr(err, "not a public address"));
    assert_int_equal(atomic_load(&srv.conns), 1);
    assert_int_equal(atomic_load(&srv.requests), 1);

    /* Control: with every private destination allowed the same hop does reach the server. */
    server_reset(NULL);
    vg_fetch_opts all = {.allow_http = true, .allow_private = true};
    unsigned char *b =
        fetch_expect(srv_url("/redir-zero"), &all, VG_OK, &len, NULL, err, sizeof err);
    assert_int_equal(len, 5);
    free(b);
    assert_int_equal(atomic_load(&srv.requests), 2);
}

static void test_redirect_limit(void **state)
{
    (void)state;
    char err[256] = "";
    vg_fetch_opts o = {.allow_http = true, .allow_loopback = true};
    fetch_expect(srv_url("/redir-loop"), &o, VG_ERR, NULL, NULL, err, sizeof err);
    assert_non_null(strstr(err, "redirects"));
    assert_int_equal(atomic_load(&srv.requests), VG_FETCH_MAX_REDIRECTS + 1);
}

static void test_too_large(void **state)
{
    (void)state;
    char err[256] = "";
    size_t len;
    vg_fetch_opts o = {.allow_http = true, .allow_loopback = true, .max_bytes = 1000};
    fetch_expect(srv_url("/big-cl"), &o, VG_TOOLARGE, NULL, NULL, err, sizeof err);
    assert_non_null(strstr(err, "1000"));
    fetch_expect(srv_url("/big-nocl"), &o, VG_TOOLARGE, NULL, NULL, err, sizeof err);
    int64_t t0 = mono_ms();
    fetch_expect(srv_url("/big-cl-stall"), &o, VG_TOOLARGE, NULL, NULL, err, sizeof err);
    assert_true(mono_ms() - t0 < 1000); /* refused on the header, not after a timeout */
    unsigned char *b = fetch_expect(srv_url("/exact"), &o, VG_OK, &len, NULL, err, sizeof err);
    assert_int_equal(len, 1000);
    free(b);
    o.max_bytes = 999;
    fetch_expect(srv_url("/exact"), &o, VG_TOOLARGE, NULL, NULL, err, sizeof err);
    /* the default cap is large enough for these */
    o.max_bytes = 0;
    b = fetch_expect(srv_url("/big-nocl"), &o, VG_OK, &len, NULL, err, sizeof err);
    assert_int_equal(len, BIG_BYTES);
    free(b);
}

static void test_http_errors(void **state)
{
    (void)state;
    char err[256] = "";
    vg_fetch_opts o = {.allow_http = true, .allow_loopback = true};
    fetch_expect(srv_url("/404"), &o, VG_ERR, NULL, NULL, err, sizeof err);
    assert_non_null(strstr(err, "404"));
    fetch_expect(srv_url("/500"), &o, VG_ERR, NULL, NULL, err, sizeof err);
    assert_non_null(strstr(err, "500"));
}

static void test_timeout(void **state)
{
    (void)state;
    char err[256] = "";
    vg_fetch_opts o = {.allow_http = true, .allow_loopback = true, .timeout_ms = 300};
    int64_t t0 = mono_ms();
    fetch_expect(srv_url("/stall"), &o, VG_ERR, NULL, NULL, err, sizeof err);
    int64_t took = mono_ms() - t0;
    assert_non_null(strstr(err, "timed out"));
    assert_true(took >= 250);
    assert_true(took < 2500);
}

static void test_connect_error(void **state)
{
    (void)state;
    /* A port that was free a moment ago: nothing listens there. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);
    char u[128], err[256] = "";
    snprintf(u, sizeof u, "http://127.0.0.1:%d/ok", ntohs(a.sin_port));
    vg_fetch_opts o = {.allow_http = true, .allow_loopback = true};
    fetch_expect(u, &o, VG_ERR, NULL, NULL, err, sizeof err);
    assert_non_null(strstr(err, "connect"));
}

/* ---------------------------------------------------------------------------------------------
 * Streaming to a file
 * ------------------------------------------------------------------------------------------- */

static char tmpdir[64];

static int tmpdir_make(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vg-test-fetch-XXXXXX");
    return mkdtemp(tmpdir) ? server_reset(NULL) : -1;
}

static int tmpdir_remove(void **state)
{
    (void)state;
    char p[128];
    snprintf(p, sizeof p, "%s/out", tmpdir);
    unlink(p);
    rmdir(tmpdir);
    return 0;
}

static void test_file_ok(void **state)
{
    (void)state;
    char path[128], err[256] = "", ctype[VG_FETCH_CTYPE_BYTES];
    snprintf(path, sizeof path, "%s/out", tmpdir);
    size_t len = 99;
    vg_fetch_opts o = {.allow_http = true, .allow_loopback = true};
    assert_int_equal(vg_fetch_file(srv_url("/ok"), &o, path, &len, ctype, err, sizeof err), VG_OK);
    assert_int_equal(len, 5);
    assert_string_equal(ctype, "image/png");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 5);
    char buf[16] = "";
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof buf, f), 5);
    fclose(f);
    assert_memory_equal(buf, "hello", 5);

    /* An existing file is truncated and narrowed to 0600. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(vg_fetch_file(srv_url("/big-nocl"), &o, path, &len, NULL, err, sizeof err),
                     VG_OK);
    assert_int_equal(len, BIG_BYTES);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, BIG_BYTES);
    unlink(path);
}

static void test_file_removed_on_failure(void **state)
{
    (void)state;
    char path[128], err[256] = "";
    snprintf(path, sizeof path, "%s/out", tmpdir);
    size_t len = 99;
    struct stat st;
    vg_fetch_opts o = {.allow_http = true, .allow_loopback = true, .max_bytes = 1000};
    static const struct {
        const char *path;
        int want;
    } t[] = {{"/404", VG_ERR},
             {"/big-nocl", VG_TOOLARGE},
             {"/big-cl", VG_TOOLARGE},
             {"/redir-ftp", VG_INVALID},
             {"/redir-zero", VG_INVALID}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644); /* a leftover is removed too */
        assert_true(fd >= 0);
        close(fd);
        int got = vg_fetch_file(srv_url(t[i].path), &o, path, &len, NULL, err, sizeof err);
        if (got != t[i].want) fail_msg("%s: got %d, want %d (%s)", t[i].path, got, t[i].want, err);
        assert_int_equal(len, 0);
        assert_int_equal(stat(path, &st), -1);
    }
    o.timeout_ms = 200;
    assert_int_equal(vg_fetch_file(srv_url("/stall"), &o, path, &len, NULL, err, sizeof err),
                     VG_ERR);
    assert_int_equal(stat(path, &st), -1);

    /* A URL refused by policy never creates the file. */
    vg_fetch_opts strict = {.allow_http = true};
    assert_int_equal(vg_fetch_file(srv_url("/ok"), &strict, path, &len, NULL, err, sizeof err),
                     VG_INVALID);
    assert_int_equal(stat(path, &st), -1);

    /* An unwritable destination is an error, not a crash. */
    assert_int_equal(
        vg_fetch_file(srv_url("/ok"), &o, "/nonexistent-dir/x", &len, NULL, err, sizeof err),
        VG_ERR);
}

/* ---------------------------------------------------------------------------------------------
 * Concurrency
 * ------------------------------------------------------------------------------------------- */

#define N_THREADS 4

static void *fetch_thread(void *arg)
{
    int *ok = arg;
    vg_fetch_opts o = {.allow_http = true, .allow_loopback = true};
    char u[128], err[256];
    unsigned char *b = NULL;
    size_t len = 0;
    snprintf(u, sizeof u, "http://127.0.0.1:%d/ok", srv.port);
    *ok = vg_fetch_mem(u, &o, &b, &len, NULL, err, sizeof err) == VG_OK && len == 5 &&
          memcmp(b, "hello", 5) == 0;
    free(b);
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    pthread_t th[N_THREADS];
    int ok[N_THREADS] = {0};
    for (int i = 0; i < N_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, fetch_thread, &ok[i]), 0);
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_true(ok[i]);
    }
    assert_int_equal(atomic_load(&srv.requests), N_THREADS);
}

static int group_setup(void **state)
{
    vg_fetch_global_init();
    return server_start(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_v4),
        cmocka_unit_test(test_addr_v6),
        cmocka_unit_test(test_addr_other_families),
        cmocka_unit_test(test_check_url),
        cmocka_unit_test(test_check_url_misc),
        cmocka_unit_test_setup(test_refused_literal_loopback, server_reset),
        cmocka_unit_test_setup(test_refused_http_by_default, server_reset),
        cmocka_unit_test_setup(test_refused_credentials, server_reset),
        cmocka_unit_test_setup(test_refused_name_resolving_to_loopback, server_reset),
        cmocka_unit_test_setup(test_fetch_ok, server_reset),
        cmocka_unit_test_setup(test_redirect_followed, server_reset),
        cmocka_unit_test_setup(test_redirect_scheme_rechecked, server_reset),
        cmocka_unit_test_setup(test_redirect_address_rechecked, server_reset),
        cmocka_unit_test_setup(test_redirect_limit, server_reset),
        cmocka_unit_test_setup(test_too_large, server_reset),
        cmocka_unit_test_setup(test_http_errors, server_reset),
        cmocka_unit_test_setup(test_timeout, server_reset),
        cmocka_unit_test_setup(test_connect_error, server_reset),
        cmocka_unit_test_setup_teardown(test_file_ok, tmpdir_make, tmpdir_remove),
        cmocka_unit_test_setup_teardown(test_file_removed_on_failure, tmpdir_make, tmpdir_remove),
        cmocka_unit_test_setup(test_concurrent, server_reset),
    };
    return cmocka_run_group_tests(tests, group_setup, server_stop);
}
