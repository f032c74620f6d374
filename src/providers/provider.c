/* provider.c - the provider-neutral helpers of provider.h. */
#include "providers/provider.h"

#include <stdlib.h>

void vg_up_task_free(vg_up_task *t)
{
    if (!t) return;
    free(t->video_url);
    free(t->last_frame_url);
    t->video_url = t->last_frame_url = NULL;
}

static const char *const g_up_status[] = {
    [VG_UP_QUEUED] = "queued",   [VG_UP_RUNNING] = "running",     [VG_UP_SUCCEEDED] = "succeeded",
    [VG_UP_FAILED] = "failed",   [VG_UP_CANCELLED] = "cancelled", [VG_UP_EXPIRED] = "expired",
    [VG_UP_UNKNOWN] = "unknown",
};

const char *vg_up_status_name(vg_up_status s)
{
    return (unsigned)s <= VG_UP_UNKNOWN ? g_up_status[s] : "unknown";
}
