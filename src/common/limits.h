/*
 * limits.h - every cap vidgate enforces, in one place, with units in the names.
 *
 * Anything that grows with input (bodies, arrays, strings, files, time) is bounded by one of these.
 * Operators can lower some of them through configuration (config.h); none can be raised past them.
 */
#ifndef VG_LIMITS_H
#define VG_LIMITS_H

/* HTTP front */
#define VG_MAX_JSON_BODY_BYTES      (1u << 20)  /* spec §9: JSON bodies */
#define VG_MAX_MULTIPART_BODY_BYTES (40u << 20) /* spec §9: multipart and asset Data */
#define VG_MAX_JSON_DEPTH           32
#define VG_MAX_HEADER_BYTES         (16u << 10)
#define VG_MAX_REQUEST_ID_BYTES     128
#define VG_IDLE_TIMEOUT_MS          30000
#define VG_REQUEST_TIMEOUT_MS       60000
#define VG_MAX_CONNECTIONS          4096

/* multipart/form-data (POST /v1/videos) */
#define VG_MP_MAX_PARTS             64
#define VG_MP_MAX_PART_BYTES        (30u << 20) /* one part's payload: an image < 30 MB (§6) */
#define VG_MP_MAX_PART_HEADER_BYTES (8u << 10)  /* one part's header block */
#define VG_MP_MAX_BOUNDARY_BYTES    70          /* RFC 2046 §5.1.1 */

/* Task input */
#define VG_MAX_PROMPT_BYTES          8000
#define VG_MAX_MEDIA_ITEMS           12
#define VG_MAX_IMAGES                9
#define VG_MAX_VIDEOS                3
#define VG_MAX_AUDIOS                3
#define VG_MAX_URL_BYTES             2048
#define VG_MAX_IDEMPOTENCY_KEY_BYTES 255
#define VG_MAX_MODEL_NAME_BYTES      63
#define VG_MAX_KEY_NAME_BYTES        128
#define VG_MAX_LIST_LIMIT            100
#define VG_MAX_WAIT_S                60

/* Fetching user-supplied URLs */
#define VG_FETCH_MAX_BYTES     (30u << 20)
#define VG_FETCH_TIMEOUT_MS    20000
#define VG_FETCH_CONNECT_MS    5000
#define VG_FETCH_MAX_REDIRECTS 5

/* Images the engine accepts (pixels per side) */
#define VG_IMAGE_MIN_SIDE_PX 16
#define VG_IMAGE_MAX_SIDE_PX 6000

/* Tasks and dispatch */
#define VG_TASK_LEASE_MS       60000
#define VG_MAX_TASK_ATTEMPTS   5 /* claims of one task; a crash mid-render counts */
#define VG_MAX_RENDER_WORKERS  64
#define VG_DEFAULT_RETENTION_S (7 * 24 * 3600)

#endif
