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
#define VG_MAX_HEADER_BYTES         (16u << 10) /* a request head, request line included */
#define VG_MAX_HEADERS              64          /* header fields of one request */
#define VG_MAX_REQUEST_ID_BYTES     128
#define VG_HEADER_TIMEOUT_MS        5000  /* a new connection's first request head */
#define VG_IDLE_TIMEOUT_MS          30000 /* keep-alive idle (and each later request's arrival) */
#define VG_REQUEST_TIMEOUT_MS       60000 /* an unauthenticated connection's one request body */
#define VG_MAX_CONNECTIONS          4096
#define VG_MAX_CONNECTIONS_PER_IP   128  /* per IPv4 address or IPv6 /64 */
#define VG_ACCEPT_PAUSE_MS          100  /* no accepting after EMFILE or at max_connections */
#define VG_LINGER_MS                2000 /* input dropped after a refusal, so it is seen */
#define VG_LINGER_MAX_BYTES         (64u << 20) /* ... and at most this much of it */
#define VG_PARKED_INPUT_MAX_BYTES   (16u << 10) /* kept from a client while its request is parked */
#define VG_PARKED_SHRINK_MAX_BYTES  (4u << 10) /* a parked head this small leaves its read buffer */
#define VG_TASK_JSON_BUF_BYTES      8192 /* a task object written directly (larger: jansson) */

/* File descriptors kept back from connections (the rest of RLIMIT_NOFILE is for connections) */
#define VG_FD_RESERVE_BASE 64 /* listener, log, wake pipes, the store of the main thread */
#define VG_FD_PER_RENDER   16 /* a render: inputs, output, temporary files, FFmpeg's own */
#define VG_FD_PER_FETCHER  4  /* an upstream or asset worker: socket, DNS, file, store */
#define VG_FD_PER_LOOP     8  /* an event loop: epoll, queues, its store (db, wal, shm) */
#define VG_MIN_CONNECTIONS 16 /* below this many the server refuses to start */

/* multipart/form-data (POST /v1/videos) */
#define VG_MP_MAX_PARTS             64
#define VG_MP_MAX_PART_BYTES        (30u << 20) /* one part's payload: an image < 30 MB (§6) */
#define VG_MP_MAX_PART_HEADER_BYTES (8u << 10)  /* one part's header block */
#define VG_MP_MAX_BOUNDARY_BYTES    70          /* RFC 2046 §5.1.1 */

/* Task input */
#define VG_MAX_PROMPT_BYTES          8000
#define VG_MAX_MEDIA_ITEMS           12
#define VG_DATAURL_PARSE_CHECK_BYTES (64u << 10) /* larger data: payloads decode off the loop */
#define VG_MAX_IMAGES                9
#define VG_MAX_VIDEOS                3
#define VG_MAX_AUDIOS                3
#define VG_MAX_URL_BYTES             2048
#define VG_MAX_IDEMPOTENCY_KEY_BYTES 255
#define VG_MAX_MODEL_NAME_BYTES      63
/* Task creations committed in one transaction by the submit writer (store/batch.h): enough for
 * every connection of a busy moment, small enough that one commit stays a few milliseconds. */
#define VG_MAX_SUBMIT_BATCH 256
/* A replaced model table (a reload) is freed this long after the swap; no reader holds a model
 * longer (one request, one job). */
#define VG_MODELS_GRACE_S     600
#define VG_MAX_KEY_NAME_BYTES 128
#define VG_MAX_LIST_LIMIT     100
/* Money: every amount parsed and every balance a credit makes stays within VG_MAX_BALANCE_MICRO
 * (10^9 units in micro-units, 10^15), 9,000 times below INT64_MAX: a balance plus an amount, a
 * balance minus its holds and the audit's running sums of a key's ledger cannot overflow. */
#define VG_MAX_BALANCE_MICRO 1000000000000000 /* a plain literal: the audit's SQL spells it too */
#define VG_MAX_WAIT_S        60

/* Fetching user-supplied URLs */
#define VG_FETCH_MAX_BYTES     (30u << 20)
#define VG_FETCH_TIMEOUT_MS    20000
#define VG_FETCH_CONNECT_MS    5000
#define VG_FETCH_MAX_REDIRECTS 5

/* Images the engine accepts (pixels per side) */
#define VG_IMAGE_MIN_SIDE_PX 16
#define VG_IMAGE_MAX_SIDE_PX 6000

/* Tasks and dispatch */
/* A claimed render's lease (the default of task_lease_s): renewed every third of it while the
 * task runs or its result is published, so a node that dies gives its renders back within it. */
#define VG_TASK_LEASE_MS       20000
#define VG_TASK_LEASE_MIN_MS   3000 /* a shorter task_lease_s is raised to this */
#define VG_MAX_TASK_ATTEMPTS   5    /* claims of one task; a crash mid-render counts */
#define VG_MAX_RENDER_WORKERS  64
#define VG_DEFAULT_RETENTION_S (7 * 24 * 3600)

/* Assets (spec §6). Sizes are decimal megabytes, as the spec writes them (30 MB = 30,000,000). */
#define VG_ASSET_IMAGE_MAX_BYTES   (30000000 - 1) /* images: < 30 MB */
#define VG_ASSET_VIDEO_MAX_BYTES   50000000       /* video: <= 50 MB (a URL: VG_FETCH_MAX_BYTES) */
#define VG_ASSET_AUDIO_MAX_BYTES   15000000       /* audio: <= 15 MB */
#define VG_ASSET_IMAGE_MIN_SIDE_PX 300
#define VG_ASSET_IMAGE_MAX_SIDE_PX 6000
#define VG_ASSET_MIN_MEDIA_MS      2000
#define VG_ASSET_MAX_MEDIA_MS      15000
#define VG_ASSET_DURATION_SLACK_MS 50 /* container rounding: 15.04 s still counts as 15 s */
#define VG_ASSET_NAME_MAX_CHARS    64
#define VG_ASSET_DESC_MAX_CHARS    300
#define VG_ASSET_MAX_PAGE_SIZE     100
#define VG_ASSET_MAX_FILTER_ITEMS  100    /* GroupIds[] / Statuses[] of a list filter */
#define VG_ASSET_ID_RANDOM_CHARS   16     /* lowercase alnum: 82 random bits */
#define VG_ASSET_WORKERS           2      /* processing threads */
#define VG_ASSET_STAGE_WORKERS     2      /* threads decoding and storing uploads off the loops */
#define VG_ASSET_LEASE_MS          120000 /* a claimed asset is re-claimed after this */
#define VG_ASSET_MAX_ATTEMPTS      5      /* claims of one asset; a crash mid-processing counts */
#define VG_ASSET_GC_GRACE_S        60     /* a deleted asset's bytes outlive it by at least this */
#define VG_ASSET_GC_EVERY_MS       10000
#define VG_ASSET_QUOTA_BYTES       (1LL << 30) /* default per-key asset storage (config) */
#define VG_ASSET_URL_TTL_S         86400 /* presigned asset URLs stay valid at least this long */

/* Webhooks (Standard Webhooks deliveries of final task statuses) */
#define VG_WEBHOOK_TIMEOUT_MS      10000   /* one delivery attempt, connect included */
#define VG_WEBHOOK_RETRY_WINDOW_S  86400   /* retried this long after the final status */
#define VG_WEBHOOK_SECRET_GRACE_S  86400   /* a rotated-out secret still signs this long */
#define VG_WEBHOOK_BACKOFF_MAX_MS  3600000 /* the longest gap between two attempts */
#define VG_WEBHOOK_LEASE_MS        60000   /* a claimed delivery is re-claimed after this */
#define VG_WEBHOOK_IDLE_MS         250     /* a worker with nothing due looks again after */
#define VG_WEBHOOK_MAX_SECRETS     4       /* secrets that sign one delivery at most */
#define VG_WEBHOOK_MAX_WORKERS     64
#define VG_WEBHOOK_MAX_REPLY_BYTES (64u << 10) /* of a receiver's reply (read and dropped) */

/* Upstream (Ark) channels */
#define VG_MAX_CHANNELS             32
#define VG_MAX_CHANNEL_MODELS       32
#define VG_UPSTREAM_MAX_REPLY_BYTES (4u << 20) /* one Ark API reply (a list page of 500 tasks) */
#define VG_UPSTREAM_TIMEOUT_MS      30000      /* one Ark API call; channels may lower it */
#define VG_UPSTREAM_CONNECT_MS      5000
#define VG_UPSTREAM_MAX_WORKERS     64
#define VG_UPSTREAM_POLL_BATCH      100 /* task ids per list call (Ark allows 500 per page) */
#define VG_UPSTREAM_MAX_RETRIES     8   /* transient refusals before acceptance, then failed */
#define VG_UPSTREAM_LOOKUP_PAGES    5   /* list pages searched for a lost submit */
#define VG_UPSTREAM_MAX_BACKOFF_MS  300000
#define VG_UPSTREAM_TOKEN_BYTES     64 /* safety_identifier we send (Ark's cap is not published) */
/* The "upstream" leader lease (store lease_hold): one node of a shared store plans upstream work
 * while it holds it; another takes over within this long after the leader dies. */
#define VG_UPSTREAM_LEADER_TTL_MS 10000
/* A job's lease on its rows (a poll, download, lookup or cancel), at most: what a restarted node
 * or a new leader waits for at worst (a submit's lease is its call's, see upstream_sched.c). */
#define VG_UPSTREAM_JOB_LEASE_MAX_MS 30000

/* Metrics (GET /metrics; common/metrics.h) */
#define VG_METRICS_MAX_ROUTES      128  /* route templates counted apart (the table has ~60) */
#define VG_METRICS_MAX_CHANNELS    64   /* channel names counted apart; later ones share "other" */
#define VG_METRICS_STORE_CACHE_MS  1000 /* the store's counts are read at most once a second */
#define VG_METRICS_MAX_TOKEN_BYTES 256  /* metrics_token */
/* Content in an S3-compatible bucket (net/content.h) */
#define VG_CONTENT_WORKERS            2  /* threads fetching into the cache and deleting */
#define VG_CONTENT_FETCHES_MAX        64 /* distinct keys being fetched for requests at once */
#define VG_CONTENT_CONNECT_TIMEOUT_MS 5000
#define VG_CONTENT_STALL_MS           30000 /* a transfer with no byte for this long fails */
#define VG_CONTENT_STAGED_WAIT_MS     15000 /* a worker waits this long for another node's upload */
#define VG_CONTENT_WAIT_S             60    /* a request waits this long for a fetch */

/* Many nodes on one database (http/events.h, http/router.c) */
#define VG_UNAVAILABLE_RETRY_AFTER_S 1    /* Retry-After of a 503 for an unreachable store */
#define VG_EVENTS_WAIT_MS            200  /* the listener looks at its stop flag this often */
#define VG_EVENTS_BACKOFF_MIN_MS     100  /* first wait before reconnecting the listener */
#define VG_EVENTS_BACKOFF_MAX_MS     1000 /* longest wait between two reconnection attempts */
#define VG_EVENTS_TOPIC_BYTES        128  /* one event's topic (the NOTIFY payload) */

#endif
