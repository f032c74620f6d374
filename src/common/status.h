/*
 * status.h - the one status-code enum returned by functions across vidgate (store, providers,
 * engine, fetch). Results travel through out-parameters; the reason for a failure is recorded once,
 * where it happens, into a caller-supplied vg_err or message buffer.
 */
#ifndef VG_STATUS_H
#define VG_STATUS_H

typedef enum {
    VG_OK = 0,
    VG_ERR = -1,       /* failed; the reason was recorded where it failed */
    VG_NOTFOUND = -2,  /* no such object (or not visible to this caller) */
    VG_CONFLICT = -3,  /* the object's state does not allow it (or a concurrent change won) */
    VG_NOFUNDS = -4,   /* the balance cannot cover a hold */
    VG_AGAIN = -5,     /* transient: try again later */
    VG_INVALID = -6,   /* bad input */
    VG_TOOLARGE = -7,  /* over a cap of limits.h */
    VG_DUPLICATE = -8, /* a unique constraint was hit (e.g. idempotency key) */
    VG_LIMITED = -9,   /* a per-key limit (active tasks, rate) was reached */
} vg_status;

#endif
