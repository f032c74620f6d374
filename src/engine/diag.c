/* diag.c - see diag.h. */
#include "engine/diag.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/error.h>
#include <libavutil/log.h>

static pthread_once_t diag_once = PTHREAD_ONCE_INIT;
static _Thread_local char diag_avline[160];

static void diag_callback(void *avcl, int level, const char *fmt, va_list vl)
{
    (void)avcl;
    if (level > AV_LOG_ERROR || diag_avline[0]) return; /* the first error explains the failure */
    vsnprintf(diag_avline, sizeof diag_avline, fmt, vl);
    size_t n = strlen(diag_avline);
    while (n && (diag_avline[n - 1] == '\n' || diag_avline[n - 1] == ' '))
        diag_avline[--n] = '\0';
}

static void diag_install(void)
{
    av_log_set_level(AV_LOG_ERROR);
    av_log_set_callback(diag_callback);
}

void vg_diag_init(void)
{
    pthread_once(&diag_once, diag_install);
}

void vg_diag_reset(void)
{
    diag_avline[0] = '\0';
}

void vg_diag_set(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen || err[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void vg_diag_av(char *err, size_t errlen, int averr, const char *what)
{
    char buf[AV_ERROR_MAX_STRING_SIZE];
    const char *why = diag_avline;
    if (!why[0]) why = av_make_error_string(buf, sizeof buf, averr);
    vg_diag_set(err, errlen, "%s: %s", what, why);
}
