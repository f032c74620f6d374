/*
 * console.c - GET /console/ and /console/{file}: the web console's static files, from the
 * directory resolved at start (config console_dir; api/console.h). Read-only, no key: the
 * console signs in with an API key in the browser and then calls the public JSON API like any
 * client, so these files hold nothing secret.
 *
 * Safety: a file name is one path segment of [A-Za-z0-9_-] characters and one extension of the
 * type table; anything else ("..", "%2e%2e", a hidden file, a subdirectory, an unknown type) is a
 * 404 before the file system is touched, so no request can name a file outside the directory.
 * Every answer of these routes (errors included) carries a strict Content-Security-Policy (no
 * inline or foreign scripts; media and images from this origin, the public URL's origin where the
 * presigned links point, blob: and data:), X-Frame-Options DENY, X-Content-Type-Options nosniff
 * and Referrer-Policy no-referrer. Files stream through http/sendfile.h on the event loop (ETag,
 * Last-Modified, 304), with Cache-Control no-cache: the names carry no version, so a browser
 * revalidates each time and pays a 304 when nothing changed.
 */
#include "api/console.h"

#include "api/env.h"
#include "api/handlers.h"
#include "common/log.h"
#include "http/sendfile.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *ext;
    const char *mime;
} file_type;

static const file_type types[] = {
    {".html", "text/html; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
};

/* The MIME type of a safe file name, or NULL when the name is not one the console may serve. */
static const char *safe_name_type(const char *name)
{
    const char *dot = strchr(name, '.');
    if (!dot || dot == name) return NULL;
    for (const char *p = name; p < dot; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext)) return types[i].mime;
    return NULL;
}

/* The origin (scheme://host[:port]) of url into out, or "" when it is not a plain one: it goes
 * into a header, so only characters an origin needs pass. */
static void origin_of(const char *url, char *out, size_t outlen)
{
    out[0] = '\0';
    const char *host = strstr(url, "://");
    if (!host) return;
    size_t n = strcspn(host + 3, "/?#") + (size_t)(host + 3 - url);
    if (n >= outlen) return;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/.-[]", url[i]))
            return;
    memcpy(out, url, n);
    out[n] = '\0';
}

static void security_headers(vg_ctx *c)
{
    const vg_api_env *env = c->app;
    char origin[600], csp[1600];
    origin_of(env->public_url ? env->public_url : "", origin, sizeof origin);
    snprintf(csp, sizeof csp,
             "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' %s blob: "
             "data:; media-src 'self' %s blob: data:; connect-src 'self'; object-src 'none'; "
             "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
             origin, origin);
    vg_ctx_header(c, "content-security-policy", csp);
    vg_ctx_header(c, "x-frame-options", "DENY");
    vg_ctx_header(c, "x-content-type-options", "nosniff");
    vg_ctx_header(c, "referrer-policy", "no-referrer");
}

static int send_console_file(vg_ctx *c, const char *name)
{
    const vg_api_env *env = c->app;
    security_headers(c);
    const char *mime = safe_name_type(name);
    if (!env->console_dir || !env->console_dir[0] || !mime)
        return vg_reply_error(c, 404, "not_found", "", "no such console file");
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", env->console_dir, name) >= (int)sizeof path)
        return vg_reply_error(c, 404, "not_found", "", "no such console file");
    vg_ctx_header(c, "cache-control", "no-cache");
    if (vg_send_file(c, path, mime))
        return vg_reply_error(c, 404, "not_found", "", "no such console file");
    return 0;
}

static int console_index(vg_ctx *c)
{
    return send_console_file(c, "index.html");
}

static int console_file(vg_ctx *c)
{
    return send_console_file(c, c->params[0]);
}

/* /console without the slash: relative links in the page need the directory form. */
static int console_redirect(vg_ctx *c)
{
    security_headers(c);
    vg_ctx_header(c, "location", "/console/");
    return vg_reply_json(c, 301, json_pack("{s:s}", "location", "/console/"));
}

static int has_index(const char *dir)
{
    char p[PATH_MAX];
    struct stat st;
    if (snprintf(p, sizeof p, "%s/index.html", dir) >= (int)sizeof p) return 0;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

void vg_console_dir_resolve(const char *configured, char *out, size_t outlen)
{
    out[0] = '\0';
    if (configured && !strcmp(configured, "off")) return;
    char exe[PATH_MAX], cand[3][PATH_MAX + 16];
    int ncand = 0;
    if (configured && configured[0]) {
        snprintf(cand[ncand++], sizeof cand[0], "%s", configured);
    } else {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n > 0) {
            exe[n] = '\0';
            char *slash = strrchr(exe, '/');
            if (slash) *slash = '\0';
            snprintf(cand[ncand++], sizeof cand[0], "%s/../console", exe);
            snprintf(cand[ncand++], sizeof cand[0], "%s/console", exe);
        }
        snprintf(cand[ncand++], sizeof cand[0], "%s", VG_CONSOLE_INSTALLED_DIR);
    }
    for (int i = 0; i < ncand; i++) {
        char real[PATH_MAX];
        if (!has_index(cand[i]) || !realpath(cand[i], real) || strlen(real) >= outlen) continue;
        snprintf(out, outlen, "%s", real);
        vg_info("console: serving %s at /console/", out);
        return;
    }
    if (configured && configured[0])
        vg_warn("console: %s holds no index.html; /console/ is not served", configured);
    else
        vg_info("console: no console directory found; /console/ is not served");
}

const vg_route vg_routes_console[] = {
    {"GET", "/console", VG_AUTH_NONE, console_redirect},
    {"GET", "/console/", VG_AUTH_NONE, console_index},
    {"GET", "/console/{file}", VG_AUTH_NONE, console_file},
};
const size_t vg_routes_console_n = sizeof vg_routes_console / sizeof vg_routes_console[0];
