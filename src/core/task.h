/*
 * task.h - the task: the validated request (vg_task_spec) and the stored row (vg_task), with the
 * state machine.
 *
 * The state machine is one table of named operations (task.c): each says from which statuses it
 * may run and which status it leaves (or that the status stays). Upstream tasks go
 * queued → dispatching → running → finalizing → completed; local renders go queued → running →
 * completed; queued|dispatching → cancelled; any non-final → failed; an interrupted local render
 * or a refused submit goes back to queued. Every store backend takes the "expected from" set of
 * each conditional update from vg_task_op_from() / vg_task_from(), so an impossible change
 * (completed → running, cancelled → anything) is refused in one place.
 *
 * Ownership: every char * in these structs is heap memory owned by the struct; release it with
 * vg_task_spec_free() / vg_task_free(). Fixed-size fields need no release.
 */
#ifndef VG_TASK_H
#define VG_TASK_H
#include "core/models.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    VG_TASK_QUEUED,
    VG_TASK_DISPATCHING, /* internal; shown as queued */
    VG_TASK_RUNNING,
    VG_TASK_FINALIZING, /* internal; shown as running */
    VG_TASK_COMPLETED,
    VG_TASK_FAILED,
    VG_TASK_CANCELLED,
    VG_TASK_STATUS_COUNT
} vg_task_status;

/** Internal name ("dispatching") for the store, and the public one ("queued") for replies. */
const char *vg_task_status_name(vg_task_status s);
const char *vg_task_status_public(vg_task_status s);
int vg_task_status_parse(const char *s); /* internal names; -1 when unknown */
bool vg_task_status_final(vg_task_status s);

/** A set of statuses: VG_TASK_BIT(s) of each member. */
typedef unsigned vg_task_status_set;
#define VG_TASK_BIT(s)  (1u << (s))
#define VG_TASK_SET_ALL ((1u << VG_TASK_STATUS_COUNT) - 1u)
#define VG_TASK_SET_FINAL                                                                          \
    (VG_TASK_BIT(VG_TASK_COMPLETED) | VG_TASK_BIT(VG_TASK_FAILED) | VG_TASK_BIT(VG_TASK_CANCELLED))
#define VG_TASK_SET_ACTIVE (VG_TASK_SET_ALL & ~VG_TASK_SET_FINAL)

/* What the store does to a task's status; the store operation that runs each is named. */
typedef enum {
    VG_TASK_OP_CLAIM, /* queued → running: a local render starts (task_claim, task_claim_local) */
    VG_TASK_OP_PROGRESS, /* running stays: progress and lease (task_progress) */
    VG_TASK_OP_REQUEUE, /* running → queued: a local render stopped (task_requeue, task_recover) */
    VG_TASK_OP_ROUTE,   /* queued stays: routed to a local channel (task_route_local) */
    VG_TASK_OP_SUBMIT,  /* queued → dispatching: a submit is written ahead (upstream_begin) */
    VG_TASK_OP_RETRY,   /* dispatching → queued: the submit created nothing (upstream_requeue) */
    VG_TASK_OP_ACCEPT,  /* dispatching → running: the upstream runs it (upstream_update) */
    VG_TASK_OP_DOWNLOAD, /* running → finalizing: the result is fetched (upstream_update) */
    VG_TASK_OP_COMPLETE, /* running|finalizing → completed, money settled (task_complete) */
    VG_TASK_OP_FAIL,     /* any non-final → failed, hold released (task_fail) */
    VG_TASK_OP_CANCEL,   /* queued|dispatching → cancelled, hold released (task_cancel) */
    VG_TASK_OP_FORGET,   /* final stays: the content is deleted (task_mark_deleted) */
    VG_TASK_OP_COUNT
} vg_task_op;

/** The statuses op may run from (0 for an unknown op). */
vg_task_status_set vg_task_op_from(vg_task_op op);
/** The status op leaves, or -1 when the status stays. */
int vg_task_op_to(vg_task_op op);
const char *vg_task_op_name(vg_task_op op);
/** The statuses some operation moves to `to` from (the union over the table). */
vg_task_status_set vg_task_from(vg_task_status to);
/** Whether some operation moves a task from → to. */
bool vg_task_transition_ok(vg_task_status from, vg_task_status to);

typedef enum { VG_MEDIA_IMAGE, VG_MEDIA_VIDEO, VG_MEDIA_AUDIO } vg_media_type;
typedef enum {
    VG_ROLE_FIRST_FRAME,
    VG_ROLE_LAST_FRAME,
    VG_ROLE_REFERENCE_IMAGE,
    VG_ROLE_REFERENCE_VIDEO,
    VG_ROLE_REFERENCE_AUDIO
} vg_media_role;

typedef struct {
    vg_media_type type;
    vg_media_role role;
    char *url; /* https://…, http://… (when allowed), data:…;base64,… or asset://… ; owned */
    /* the field it was submitted in, as a 400 would name it ("images[0]",
     * "metadata.content[1].image_url.url", "input_reference"); "" when unknown */
    char param[48];
} vg_media;

typedef struct {
    char model[64];
    char *prompt; /* owned */
    int seconds;
    vg_resolution resolution;
    vg_ratio ratio; /* may be VG_RATIO_ADAPTIVE until the first frame is known */
    int64_t seed;   /* -1 = pick one; the dispatcher stores the one it picked */
    bool generate_audio, return_last_frame, watermark, camera_fixed;
    char *callback_url; /* owned, NULL when absent */
    int n_media;
    vg_media media[12]; /* VG_MAX_MEDIA_ITEMS */
} vg_task_spec;

void vg_task_spec_free(vg_task_spec *s);
/** Serialises the spec for storage (new reference), and back. from_json returns 0 or -1. */
json_t *vg_task_spec_to_json(const vg_task_spec *s);
int vg_task_spec_from_json(const json_t *j, vg_task_spec *out);
/** Whether any media item has the given role. */
bool vg_task_spec_has_role(const vg_task_spec *s, vg_media_role role);
/**
 * The distinct content hashes a stored spec (vg_task.params) refers to through
 * "asset://<id>?sha256=<hex>" media: what a store records as the task's asset references so that
 * the collector keeps those bytes while the task may still render from them. Returns how many were
 * written to out (at most VG_MAX_MEDIA_ITEMS); 0 for text that is not a stored spec.
 */
int vg_task_params_asset_hashes(const char *params, char (*out)[65]);

typedef struct {
    char id[48];
    char key_id[48];
    char model[64];
    vg_task_status status;
    int version;  /* bumped by every update; conditional updates compare it */
    int progress; /* 0..100, monotone */
    int64_t created_at, updated_at, completed_at, expires_at; /* unix seconds; 0 = null */
    int seconds;
    vg_resolution resolution;
    vg_ratio ratio; /* concrete once rendered */
    int width, height;
    int64_t seed;
    char *params; /* the vg_task_spec as JSON text; owned */
    int64_t hold_micro;
    int64_t cost_micro; /* -1 until captured */
    int64_t tokens;     /* usage.completion_tokens; 0 until completed */
    char error_code[64];
    char error_message[256];
    int attempts;
    int64_t lease_until_ms;
    bool has_last_frame;
    bool content_deleted;
    bool test_mode;
} vg_task;

void vg_task_free(vg_task *t);

/* What a finished render/upstream run reports. */
typedef struct {
    int width, height;
    vg_ratio ratio;
    int64_t seed;
    int64_t tokens;     /* usage.completion_tokens */
    int64_t cost_micro; /* price of those tokens (0 for test-mode keys) */
    bool has_last_frame;
    int64_t expires_at; /* when the stored content will be removed */
} vg_task_result;

#endif
