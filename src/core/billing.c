/* billing.c - see billing.h. */
#include "core/billing.h"

#include "common/status.h"
#include "core/models.h"

#include <string.h>

int vg_billing_estimate(const vg_task_spec *s, bool test_mode, vg_billing_hold *out)
{
    memset(out, 0, sizeof *out);
    const vg_model *m = vg_model_find(s->model);
    if (!m) return VG_NOTFOUND;
    bool ref_video = vg_task_spec_has_role(s, VG_ROLE_REFERENCE_VIDEO);
    int seconds = s->seconds + (ref_video ? VG_BILLING_REF_VIDEO_HOLD_S : 0);
    if (s->ratio == VG_RATIO_ADAPTIVE) {
        /* the token formula at the tier's largest area: whichever ratio the frame picks fits */
        out->tokens = vg_max_area(s->resolution) * (VG_FPS * seconds + 1) / 1024;
    } else {
        vg_output_size(s->resolution, s->ratio, &out->width, &out->height);
        out->tokens = vg_tokens(out->width, out->height, seconds);
    }
    out->hold_micro = test_mode ? 0 : vg_price_micro(m, s->resolution, ref_video, out->tokens);
    return VG_OK;
}
