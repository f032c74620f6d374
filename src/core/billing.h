/*
 * billing.h - what a task will cost before it runs: the estimate a submit holds against the
 * key's balance (spec §7). The charge itself is computed when the task completes, from the size
 * actually produced, with the same token formula and price table (core/models.h).
 *
 * The estimate is never too small: while the ratio is still adaptive (the first frame decides it)
 * the largest area of the tier is assumed, and reference videos, whose length is unknown before
 * they are fetched, count as the longest allowed (VG_BILLING_REF_VIDEO_HOLD_S).
 *
 * Pure: reads the model table (read-only after start-up), no I/O; thread-safe.
 */
#ifndef VG_CORE_BILLING_H
#define VG_CORE_BILLING_H
#include "core/task.h"

#include <stdbool.h>
#include <stdint.h>

/** Reference videos add their own seconds to the token count; the hold assumes this many. */
#define VG_BILLING_REF_VIDEO_HOLD_S 15

typedef struct {
    int width, height;  /* the declared output size; 0 x 0 while the ratio is adaptive */
    int64_t tokens;     /* the tokens the hold is priced at */
    int64_t hold_micro; /* the amount to hold, micro-units of the currency; 0 in test mode */
} vg_billing_hold;

/**
 * Prices the hold of a validated spec (its model is in the table). test_mode keys hold nothing.
 * Returns VG_OK, or VG_NOTFOUND when the spec's model is not in the table (out zeroed).
 */
int vg_billing_estimate(const vg_task_spec *s, bool test_mode, vg_billing_hold *out);

#endif
