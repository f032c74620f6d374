/*
 * urlpolicy.c - see urlpolicy.h for the rule.
 *
 * Design: the URL is split by hand (scheme, authority up to the first '/', '?' or '#', host,
 * port) rather than by libcurl's parser, so that the domain layer needs no HTTP library; the split
 * is deliberately stricter than RFC 3986 (a small host alphabet, no escapes), so anything libcurl
 * could read differently is refused rather than interpreted. That is the front door only: the
 * fetcher checks every address it connects to with vg_urlpolicy_addr_allowed(), whatever the URL
 * said.
 *
 * Address ranges are tables (first match wins), not if chains; IPv6 is an allow-list of global
 * unicast 2000::/3 so that ranges assigned in future default to refused.
 */
#include "core/urlpolicy.h"

#include "common/limits.h"
#include "common/status.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST_MAX_BYTES 253 /* a DNS name's limit in text form */
#define STR_(x)        #x
#define STR(x)         STR_(x)

/* ---------------------------------------------------------------------------------------------
 * Address classification
 * ------------------------------------------------------------------------------------------- */

typedef enum { ADDR_PUBLIC, ADDR_LOOPBACK, ADDR_NONPUBLIC } addr_class;

typedef struct {
    uint32_t net; /* host byte order */
    unsigned bits;
    addr_class cls;
} v4_range;

static const v4_range v4_ranges[] = {
    {0x00000000u, 8, ADDR_NONPUBLIC},  /* 0/8 "this network"; connect(0.0.0.0) reaches this host */
    {0x0a000000u, 8, ADDR_NONPUBLIC},  /* 10/8 private */
    {0x64400000u, 10, ADDR_NONPUBLIC}, /* 100.64/10 carrier-grade NAT */
    {0x7f000000u, 8, ADDR_LOOPBACK},   /* 127/8 loopback */
    {0xa9fe0000u, 16, ADDR_NONPUBLIC}, /* 169.254/16 link-local (cloud metadata lives here) */
    {0xac100000u, 12, ADDR_NONPUBLIC}, /* 172.16/12 private */
    {0xc0000000u, 24, ADDR_NONPUBLIC}, /* 192.0.0/24 IETF protocol assignments */
    {0xc0000200u, 24, ADDR_NONPUBLIC}, /* 192.0.2/24 TEST-NET-1 */
    {0xc0586300u, 24, ADDR_NONPUBLIC}, /* 192.88.99/24 deprecated 6to4 relay anycast */
    {0xc0a80000u, 16, ADDR_NONPUBLIC}, /* 192.168/16 private */
    {0xc6120000u, 15, ADDR_NONPUBLIC}, /* 198.18/15 benchmarking */
    {0xc6336400u, 24, ADDR_NONPUBLIC}, /* 198.51.100/24 TEST-NET-2 */
    {0xcb007100u, 24, ADDR_NONPUBLIC}, /* 203.0.113/24 TEST-NET-3 */
    {0xe0000000u, 4, ADDR_NONPUBLIC},  /* 224/4 multicast */
    {0xf0000000u, 4, ADDR_NONPUBLIC},  /* 240/4 reserved, with 255.255.255.255 broadcast */
};

static addr_class classify_v4(uint32_t a)
{
    for (size_t i = 0; i < sizeof v4_ranges / sizeof v4_ranges[0]; i++) {
        uint32_t mask = ~0u << (32 - v4_ranges[i].bits);
        if ((a & mask) == v4_ranges[i].net) return v4_ranges[i].cls;
    }
    return ADDR_PUBLIC;
}

typedef enum {
    V6_PUBLIC,
    V6_LOOPBACK,
    V6_NONPUBLIC,
    V6_MAPPED, /* ::ffff:a.b.c.d reaches a.b.c.d itself, loopback included */
    V6_NAT64,  /* 64:ff9b::a.b.c.d, via a gateway: only a public a.b.c.d is acceptable */
    V6_6TO4,   /* 2002:AABB:CCDD::/48 embeds a.b.c.d in bytes 2..5 */
} v6_kind;

typedef struct {
    uint8_t prefix[16];
    unsigned bits;
    v6_kind kind;
} v6_range;

/* First match wins; anything unmatched is non-public. */
static const v6_range v6_ranges[] = {
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, V6_MAPPED},
    {{0, 0x64, 0xff, 0x9b}, 96, V6_NAT64},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, V6_LOOPBACK},
    {{0x20, 0x02}, 16, V6_6TO4},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, V6_NONPUBLIC}, /* documentation */
    {{0x20, 0x01}, 23, V6_NONPUBLIC},             /* IETF assignments: Teredo, ORCHID, benchmarks */
    {{0x3f, 0xff}, 20, V6_NONPUBLIC},             /* documentation (RFC 9637) */
    {{0x20}, 3, V6_PUBLIC},                       /* global unicast */
};

static int prefix_match(const uint8_t *a, const uint8_t *prefix, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, prefix, whole) != 0) return 0;
    if (rest == 0) return 1;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[whole] & mask) == (prefix[whole] & mask);
}

static uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static addr_class classify_v6(const uint8_t a[16])
{
    for (size_t i = 0; i < sizeof v6_ranges / sizeof v6_ranges[0]; i++) {
        const v6_range *r = &v6_ranges[i];
        if (!prefix_match(a, r->prefix, r->bits)) continue;
        switch (r->kind) {
        case V6_PUBLIC:
            return ADDR_PUBLIC;
        case V6_LOOPBACK:
            return ADDR_LOOPBACK;
        case V6_NONPUBLIC:
            return ADDR_NONPUBLIC;
        case V6_MAPPED:
            return classify_v4(be32_at(a + 12));
        case V6_NAT64:
            return classify_v4(be32_at(a + 12)) == ADDR_PUBLIC ? ADDR_PUBLIC : ADDR_NONPUBLIC;
        case V6_6TO4:
            return classify_v4(be32_at(a + 2)) == ADDR_PUBLIC ? ADDR_PUBLIC : ADDR_NONPUBLIC;
        }
    }
    return ADDR_NONPUBLIC;
}

static addr_class classify(const struct sockaddr *sa)
{
    if (!sa) return ADDR_NONPUBLIC;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        return classify_v4(ntohl(in.sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        return classify_v6(in6.sin6_addr.s6_addr);
    }
    return ADDR_NONPUBLIC;
}

int vg_urlpolicy_addr_public(const struct sockaddr *sa)
{
    return classify(sa) == ADDR_PUBLIC;
}

int vg_urlpolicy_addr_allowed(const vg_url_policy *p, const struct sockaddr *sa)
{
    addr_class c = classify(sa);
    if (c == ADDR_PUBLIC || p->allow_private) return 1;
    return c == ADDR_LOOPBACK && p->allow_loopback;
}

/* ---------------------------------------------------------------------------------------------
 * Syntactic check
 * ------------------------------------------------------------------------------------------- */

static const vg_url_policy default_policy;

/* Length of the scheme prefix when allowed, 0 otherwise. */
static size_t allowed_scheme(const char *url, const vg_url_policy *p)
{
    if (strncmp(url, "https://", 8) == 0) return 8;
    if (p->allow_http && strncmp(url, "http://", 7) == 0) return 7;
    return 0;
}

/* A host written as a literal address: 1 allowed, 0 refused, -1 not a literal (a DNS name), -2 a
 * bracketed literal that is no IPv6 address. */
static int literal_allowed(const char *host, size_t n, const vg_url_policy *p)
{
    char text[HOST_MAX_BYTES + 1];
    if (host[0] == '[') {
        struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
        memcpy(text, host + 1, n - 2);
        text[n - 2] = '\0';
        if (inet_pton(AF_INET6, text, &in6.sin6_addr) != 1) return -2;
        return vg_urlpolicy_addr_allowed(p, (const struct sockaddr *)&in6);
    }
    /* inet_aton() accepts the same legacy forms libcurl does (0x7f000001, 2130706433, 0177.1);
     * a trailing dot is dropped so that "127.0.0.1." is judged as the address too. */
    memcpy(text, host, n);
    text[n] = '\0';
    if (n > 0 && text[n - 1] == '.') text[n - 1] = '\0';
    struct sockaddr_in in = {.sin_family = AF_INET};
    if (inet_aton(text, &in.sin_addr) == 0) return -1;
    return vg_urlpolicy_addr_allowed(p, (const struct sockaddr *)&in);
}

/* The host of [host, host + n): a name of the small alphabet, or "[v6]" of hex digits, ':', '.'. */
static int host_form_ok(const char *host, size_t n)
{
    if (n == 0 || n > HOST_MAX_BYTES) return 0;
    if (host[0] == '[')
        return n > 2 && host[n - 1] == ']' && strspn(host + 1, "0123456789abcdefABCDEF:.") == n - 2;
    return strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._") == n;
}

/* ":port" after the host: decimal 1..65535. */
static int port_ok(const char *s, size_t n)
{
    if (n == 0 || n > 5 || strspn(s, "0123456789") < n) return 0;
    long v = strtol(s, NULL, 10);
    return v >= 1 && v <= 65535;
}

static int refuse(vg_url_verdict *why, vg_url_verdict v)
{
    if (why) *why = v;
    return v == VG_URL_OK ? VG_OK : VG_INVALID;
}

int vg_urlpolicy_check(const char *url, const vg_url_policy *p, vg_url_verdict *why)
{
    if (!p) p = &default_policy;
    if (!url || !*url) return refuse(why, VG_URL_EMPTY);
    size_t len = strnlen(url, VG_MAX_URL_BYTES + 1);
    if (len > VG_MAX_URL_BYTES) return refuse(why, VG_URL_TOO_LONG);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f) return refuse(why, VG_URL_BAD_BYTE);
    size_t skip = allowed_scheme(url, p);
    if (skip == 0) return refuse(why, VG_URL_SCHEME);
    const char *auth = url + skip;
    size_t alen = strcspn(auth, "/?#");
    if (alen == 0) return refuse(why, VG_URL_NO_HOST);
    if (memchr(auth, '@', alen)) return refuse(why, VG_URL_USERINFO);
    /* host[:port]; an IPv6 literal carries its own colons inside the brackets */
    size_t hlen = alen;
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        hlen = close ? (size_t)(close - auth) + 1 : alen;
    } else {
        const char *colon = memchr(auth, ':', alen);
        if (colon) hlen = (size_t)(colon - auth);
    }
    if (hlen == 0) return refuse(why, VG_URL_NO_HOST);
    if (!host_form_ok(auth, hlen)) return refuse(why, VG_URL_BAD_HOST);
    if (hlen < alen && (auth[hlen] != ':' || !port_ok(auth + hlen + 1, alen - hlen - 1)))
        return refuse(why, VG_URL_BAD_PORT);
    int lit = literal_allowed(auth, hlen, p);
    if (lit == -2) return refuse(why, VG_URL_BAD_HOST);
    if (lit == 0) return refuse(why, VG_URL_NOT_PUBLIC);
    return refuse(why, VG_URL_OK);
}

const char *vg_urlpolicy_reason(vg_url_verdict why, const vg_url_policy *p)
{
    static const char *const text[] = {
        [VG_URL_OK] = "is acceptable",
        [VG_URL_EMPTY] = "is empty",
        [VG_URL_TOO_LONG] = "is longer than " STR(VG_MAX_URL_BYTES) " bytes",
        [VG_URL_BAD_BYTE] = "contains spaces or control characters",
        [VG_URL_SCHEME] = "scheme must be https",
        [VG_URL_NO_HOST] = "has no host",
        [VG_URL_USERINFO] = "must not contain credentials (user@)",
        [VG_URL_BAD_HOST] = "host is not a valid name or bracketed IPv6 address",
        [VG_URL_BAD_PORT] = "port must be a number from 1 to 65535",
        [VG_URL_NOT_PUBLIC] = "host is not a public address (loopback, private or reserved)",
    };
    if (why == VG_URL_SCHEME && p && p->allow_http) return "scheme must be http or https";
    return (unsigned)why < sizeof text / sizeof text[0] ? text[why] : "is not acceptable";
}
