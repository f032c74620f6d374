/*
 * urlpolicy.h - the one rule for which web URLs vidgate accepts from a client and later fetches:
 * request validation (core/spec.c, the Assets API) and the fetcher (net/fetch.c) both ask here, so
 * a URL accepted at submit is never refused by the fetch for a reason of form, and the other way
 * round.
 *
 * A URL is acceptable when all of these hold (first failure wins, in this order):
 *   - it is not empty and at most VG_MAX_URL_BYTES long;
 *   - it has no byte <= 0x20 (spaces, control characters) and no 0x7f;
 *   - the scheme is "https://", or "http://" when allow_http; lower case only, so every later
 *     layer can rely on one spelling (RFC 3986 calls lower case the canonical form);
 *   - an authority follows: no userinfo ('@' anywhere before the path, even an empty "@");
 *   - the host is a DNS name of letters, digits, '-', '.' and '_' (at most 253 bytes; no
 *     percent-escapes, no backslash, no IDN bytes - clients send the punycode form), or an IPv6
 *     literal in brackets (no zone id);
 *   - the port, when written, is decimal 1..65535 (an empty "host:" port is refused);
 *   - a host that is a literal address - in any form libcurl would connect to: dotted, decimal,
 *     hex, octal, short forms, a trailing dot, IPv6 and IPv4-mapped IPv6 - is public, unless
 *     allow_private (any address) or allow_loopback (loopback only).
 * DNS names are not resolved here: the fetcher judges the address it actually connects to with
 * vg_urlpolicy_addr_allowed() (that also covers DNS rebinding and redirects).
 *
 * Pure: no I/O, no allocation; thread-safe.
 */
#ifndef VG_CORE_URLPOLICY_H
#define VG_CORE_URLPOLICY_H
#include <stdbool.h>
#include <sys/socket.h>

typedef struct {
    bool allow_http;     /* accept http:// as well as https:// (tests, closed networks) */
    bool allow_private;  /* accept any non-public destination: loopback, private, link-local, ... */
    bool allow_loopback; /* accept loopback only (127/8, ::1, ::ffff:127/104): a same-host setup */
} vg_url_policy;

/** Why a URL was refused (VG_URL_OK when it was not). */
typedef enum {
    VG_URL_OK,
    VG_URL_EMPTY,
    VG_URL_TOO_LONG,
    VG_URL_BAD_BYTE,
    VG_URL_SCHEME,
    VG_URL_NO_HOST,
    VG_URL_USERINFO,
    VG_URL_BAD_HOST,
    VG_URL_BAD_PORT,
    VG_URL_NOT_PUBLIC,
} vg_url_verdict;

/**
 * Judges url against p (NULL = the defaults: https only, public hosts only). Returns VG_OK, or
 * VG_INVALID with the reason in *why (why may be NULL).
 */
int vg_urlpolicy_check(const char *url, const vg_url_policy *p, vg_url_verdict *why);

/**
 * The reason as a phrase that follows the name of the thing checked ("url", "images[0]"):
 * "has no host", "scheme must be https", ... Never echoes the URL. Static storage.
 */
const char *vg_urlpolicy_reason(vg_url_verdict why, const vg_url_policy *p);

/**
 * 1 when sa is a public unicast destination, 0 otherwise (including NULL and families other
 * than AF_INET/AF_INET6). sa must point at a whole sockaddr_in or sockaddr_in6. IPv4 refuses 0/8,
 * 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.0.2/24, 192.88.99/24, 192.168/16,
 * 198.18/15, 198.51.100/24, 203.0.113/24, 224/4, 240/4 (with 255.255.255.255). IPv6 accepts only
 * global unicast 2000::/3 (so ::, ::1, 100::/64, fc00::/7, fe80::/10, fec0::/10, ff00::/8 are
 * refused) minus 2001::/23, 2001:db8::/32 and 3fff::/20; ::ffff:0:0/96, 64:ff9b::/96 and 2002::/16
 * are judged by their embedded IPv4 address.
 */
int vg_urlpolicy_addr_public(const struct sockaddr *sa);

/** 1 when p lets a connection go to sa (public, or allowed by allow_private / allow_loopback). */
int vg_urlpolicy_addr_allowed(const vg_url_policy *p, const struct sockaddr *sa);

#endif
