/*
 * asset.h - the asset domain (spec §6), free of HTTP, SQL and FFmpeg: what an asset and an asset
 * group are, their names on the wire, the id format, the validation rules of each AssetType, and
 * how a task refers to an asset's bytes.
 *
 * Ids: "asset-YYYYMMDDhhmmss-" / "group-YYYYMMDDhhmmss-" (UTC creation time) followed by
 * VG_ASSET_ID_RANDOM_CHARS random lowercase letters and digits (82 bits: the spec's example shows
 * 5, which a determined caller could enumerate; ids are also isolated per API key).
 *
 * Bytes: an Active asset's content lives content-addressed in DATA/files/assets/<sha256> (identical
 * uploads share one file). A Data upload waits in DATA/files/assets/staging/<asset id> until the
 * processing worker has validated it (DATA/tmp is wiped at start-up; staging is not, so a pending
 * upload survives a restart).
 *
 * References: a task's stored spec keeps "asset://<id>?sha256=<hex>" (written at submit), so the
 * bytes a task renders from are fixed when it is accepted, whatever happens to the asset later.
 * Inline media of a submit (data: URLs, uploaded files) are stored the same way, content-addressed,
 * and named "asset://inline?sha256=<hex>": "inline" is no asset id (ids start "asset-"), so a
 * client cannot name it (an asset:// URL of a submit must be an asset of its key).
 *
 * Ownership: vg_asset.source_url is heap memory owned by the struct (vg_asset_free()); everything
 * else is fixed-size. All functions are pure and thread-safe.
 */
#ifndef VG_CORE_ASSET_H
#define VG_CORE_ASSET_H
#include "common/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_ASSET_ID_MAX     48
#define VG_ASSET_NAME_MAX   (VG_ASSET_NAME_MAX_CHARS * 4 + 1) /* bytes, UTF-8 */
#define VG_ASSET_DESC_MAX   (VG_ASSET_DESC_MAX_CHARS * 4 + 1)
#define VG_ASSET_REF_MAX    160 /* "asset://<id>?sha256=<64 hex>" */
#define VG_ASSET_GROUP_TYPE "AIGC"

typedef enum { VG_ASSET_IMAGE, VG_ASSET_VIDEO, VG_ASSET_AUDIO, VG_ASSET_TYPE_COUNT } vg_asset_type;
typedef enum {
    VG_ASSET_PROCESSING,
    VG_ASSET_ACTIVE,
    VG_ASSET_FAILED,
    VG_ASSET_STATUS_COUNT
} vg_asset_status;

/** "Image", "Video", "Audio"; parse gives -1 for anything else (case-sensitive). */
const char *vg_asset_type_name(vg_asset_type t);
int vg_asset_type_parse(const char *s);
/** "Processing", "Active", "Failed"; parse gives -1 for anything else. */
const char *vg_asset_status_name(vg_asset_status s);
int vg_asset_status_parse(const char *s);

/** What probing an asset's bytes found. */
typedef struct {
    char format[8];      /* "jpeg", "png", "webp", "bmp", "gif", "mp4", "mov", "wav", "mp3" */
    int64_t size_bytes;  /* of the whole file */
    int width, height;   /* as displayed (EXIF orientation applied); images and video */
    int64_t duration_ms; /* video and audio */
} vg_asset_media;

typedef struct {
    char id[VG_ASSET_ID_MAX];
    char key_id[48];
    char group_id[VG_ASSET_ID_MAX];
    char name[VG_ASSET_NAME_MAX];
    vg_asset_type type;
    vg_asset_status status;
    char *source_url; /* the URL to fetch; NULL for a Data upload; owned */
    char sha256[65];  /* content hash, "" until Active */
    vg_asset_media media;
    char error_code[32]; /* when Failed */
    char error_message[256];
    int attempts;                               /* processing claims so far */
    int64_t created_at, updated_at, deleted_at; /* unix seconds; deleted_at 0 = live */
} vg_asset;

void vg_asset_free(vg_asset *a);

typedef struct {
    char id[VG_ASSET_ID_MAX];
    char key_id[48];
    char name[VG_ASSET_NAME_MAX];
    char description[VG_ASSET_DESC_MAX];
    char group_type[16];
    bool is_default; /* the key's group for assets created without a GroupId */
    int64_t created_at, updated_at;
} vg_asset_group;

/** A page of a key's assets or groups, newest first. Fields that do not apply are ignored. */
typedef struct {
    const char *key_id;
    const char *const *group_ids; /* assets only; n_group_ids == 0 = any group */
    size_t n_group_ids;
    const char *name;       /* substring, ASCII case-insensitive; NULL = any */
    unsigned statuses;      /* assets only: bits (1u << vg_asset_status); 0 = any */
    const char *group_type; /* NULL = any */
    int page;               /* 1-based */
    int page_size;          /* 1..VG_ASSET_MAX_PAGE_SIZE */
} vg_asset_filter;

/** Writes "<prefix>-YYYYMMDDhhmmss-<random>" for the UTC time now_s into out. */
void vg_asset_id_new(const char *prefix, int64_t now_s, char out[VG_ASSET_ID_MAX]);
/** 1 when s has the shape vg_asset_id_new() gives for prefix ("asset" or "group"). */
int vg_asset_id_valid(const char *s, const char *prefix);

/** The number of characters (UTF-8 code points) of a valid UTF-8 string. */
size_t vg_utf8_chars(const char *s);

/** The largest file an AssetType accepts, in bytes (inclusive). */
int64_t vg_asset_max_bytes(vg_asset_type t);
/** The Content-Type of a probed format ("image/png"…), "application/octet-stream" if unknown. */
const char *vg_asset_format_mime(const char *format);

/**
 * Checks probed media against the rules of AssetType t: the format, the size, and for images each
 * side VG_ASSET_IMAGE_MIN_SIDE_PX..VG_ASSET_IMAGE_MAX_SIDE_PX and w/h within 0.4..2.5, for video
 * and audio a duration of 2..15 s. VG_OK, or VG_INVALID with *code (a static Error.Code:
 * "UnsupportedFormat", "FileTooLarge", "InvalidDimensions", "InvalidAspectRatio",
 * "InvalidDuration") and a message.
 */
int vg_asset_check(vg_asset_type t, const vg_asset_media *m, const char **code, char *msg,
                   size_t msglen);

#define VG_ASSET_INLINE_ID "inline"

/** "asset://<id>?sha256=<hex>" into out (VG_ASSET_REF_MAX bytes). */
void vg_asset_ref_format(const char *id, const char *sha256, char out[VG_ASSET_REF_MAX]);
/**
 * Splits "asset://<id>" or "asset://<id>?sha256=<64 hex>": 0 with the id and the hash ("" when
 * absent), -1 when url is not of that shape.
 */
int vg_asset_ref_parse(const char *url, char id[VG_ASSET_ID_MAX], char sha256[65]);
/** 1 when url is the reference of inline media ("asset://inline?sha256=<hex>"). */
int vg_asset_ref_is_inline(const char *url);

/** DATA/files/assets (the content store), DATA/files/assets/<sha>, DATA/files/assets/staging/<id>.
 */
void vg_asset_store_dir(const char *data_dir, char *out, size_t outlen);
void vg_asset_blob_path(const char *data_dir, const char *sha256, char *out, size_t outlen);
void vg_asset_staging_dir(const char *data_dir, char *out, size_t outlen);
void vg_asset_staging_path(const char *data_dir, const char *id, char *out, size_t outlen);

#endif
