/* settle.c - see settle.h. */
#include "dispatch/settle.h"

#include "common/clock.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/metrics.h"

#include <stdio.h>
#include <string.h>

int vg_settle_read_spec(const vg_task *t, vg_task_spec *spec)
{
    memset(spec, 0, sizeof *spec);
    json_t *params = json_loads(t->params ? t->params : "", 0, NULL);
    int ok = params && vg_task_spec_from_json(params, spec) == 0;
    json_decref(params);
    return ok ? VG_OK : VG_ERR;
}

int vg_settle_publish(vg_content *content, const char *tmp, const char *task_id, char *err,
                      size_t errlen)
{
    int rc = vg_content_publish_dir(content, tmp, task_id, err, errlen);
    if (rc) vg_metrics_inc(VG_MC_CONTENT_WRITE_ERROR);
    return rc;
}

void vg_settle_fail(vg_store *s, const char *task_id, const char *code, const char *msg)
{
    int rc = vg_store_task_fail(s, task_id, code, msg, vg_now_s());
    if (rc == VG_OK)
        vg_info("task %s failed: %s: %s", task_id, code, msg);
    else if (rc != VG_CONFLICT) /* a task that ended meanwhile is not a fault */
        vg_warn("task %s: cannot record failure (%d)", task_id, rc);
}
