/* isotime.c - see isotime.h. Fixed-width fields are read by hand rather than with strptime():
 * strptime() ignores trailing text and its %z differs between libcs. */
#include "common/isotime.h"

#include "common/status.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* n decimal digits at *p into *out; advances *p. */
static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* "Z", "+hh:mm", "+hhmm", "+hh" (or '-') into seconds east of UTC; "" is UTC too. */
static bool offset(const char *p, int64_t *east)
{
    int hh = 0, mm = 0;
    *east = 0;
    if (!*p || ((*p == 'Z' || *p == 'z') && !p[1])) return true;
    if (*p != '+' && *p != '-') return false;
    int sign = *p++ == '-' ? -1 : 1;
    if (!digits(&p, 2, &hh)) return false;
    if (*p == ':') p++;
    if (*p && !digits(&p, 2, &mm)) return false;
    if (*p || hh > 23 || mm > 59) return false;
    *east = sign * (hh * 3600 + mm * 60);
    return true;
}

static int parse_iso(const char *p, int64_t *out)
{
    int y, mo, d, h = 0, mi = 0, s = 0;
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return VG_ERR;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return VG_ERR;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)) return VG_ERR;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &s)) return VG_ERR;
            if (*p == '.') /* fractions of a second are dropped */
                for (p++; isdigit((unsigned char)*p); p++)
                    ;
        }
        if (h > 23 || mi > 59 || s > 60) return VG_ERR;
    }
    int64_t east;
    if (!offset(p, &east)) return VG_ERR;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};
    *out = (int64_t)timegm(&tm) - east;
    return VG_OK;
}

int vg_isotime_parse(const char *s, int64_t *out)
{
    if (!s || !*s) return VG_ERR;
    size_t n = strspn(s, "0123456789");
    if (n && !s[n]) { /* all digits: unix seconds */
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE) return VG_ERR;
        *out = v;
        return VG_OK;
    }
    return parse_iso(s, out);
}
