/*
 * engine.h - the local render engine: turns a prompt and optional first/last frame images into a
 * real H.264 MP4 (the "local" provider's backend).
 *
 * Output: H.264 (libx264, CRF 23, one encoder thread), yuv420p BT.709 limited range, MP4 with the
 * index up front (faststart), 24 fps constant, exactly 24*seconds+1 frames of exactly
 * width x height, duration (24*seconds+1)/24 s. Identical jobs draw identical frames; the encoded files
 * differ at most by x264's heap-dependent choices (see encode.c).
 *
 * What is rendered:
 *   - with a first frame: the image, scaled and centre-cropped to COVER the output, under a smooth
 *     eased camera move named in the prompt (vg_camera_from_prompt). Every move starts exactly
 *     on the cover view, so the first frame is the given image. Direction convention, in screen
 *     terms (x right, y down):
 *       push in    content grows about the centre by 15%
 *       pull out   content shrinks about the centre to 1/1.15; the border it uncovers mirrors
 *                  the image at its edges
 *       pan left   the camera turns left, so content moves RIGHT (+x) by 12% of the width
 *       pan right  content moves LEFT (-x) by 12% of the width
 *       tilt up    the camera turns up, so content moves DOWN (+y) by 12% of the height
 *       tilt down  content moves UP (-y) by 12% of the height
 *       orbit      content turns clockwise on screen by 4 degrees, zoomed just enough that no
 *                  border shows
 *       static     no move; every frame is the cover view
 *     Pans and tilts zoom in to 1.24x about the centre while they travel (the zoom leads), so
 *     the travel never uncovers a border.
 *   - with a last frame as well: the moving first frame cross-fades (eased) into the cover-scaled
 *     last frame, which is the final frame exactly (it does not move).
 *     Input images are turned upright by their EXIF orientation; transparency shows white.
 *   - without a first frame: an animated scene (colour palette, drifting gradient, soft moving
 *     orbs) generated from a hash of prompt and seed, seen through the same camera move; with a
 *     last frame it cross-fades into that image.
 *
 * Thread-safety: every function may be called from several threads at once. A render runs entirely
 * on the calling thread and streams frame by frame (memory is bounded by a few frames plus the
 * scaled input images). The first call into the engine replaces FFmpeg's process-wide log
 * callback: FFmpeg's messages are captured (never printed) and folded into the error messages of
 * the job that caused them.
 */
#ifndef VG_ENGINE_H
#define VG_ENGINE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Caps on the job itself (images have theirs in common/limits.h). */
#define VG_RENDER_MIN_SIDE_PX     16
#define VG_RENDER_MAX_SIDE_PX     4096
#define VG_RENDER_MAX_SECONDS     60
#define VG_RENDER_FPS             24
#define VG_RENDER_MAX_IMAGE_BYTES (64u << 20)

typedef enum {
    VG_MOVE_PUSH_IN,
    VG_MOVE_PULL_OUT,
    VG_MOVE_PAN_LEFT,
    VG_MOVE_PAN_RIGHT,
    VG_MOVE_TILT_UP,
    VG_MOVE_TILT_DOWN,
    VG_MOVE_ORBIT,
    VG_MOVE_STATIC
} vg_camera_move;

/**
 * Camera move named in the prompt (English or Chinese), matched case-insensitively; English
 * phrases only as whole words ("ecstatic" is not "static"). When several are named, the earliest in
 * the prompt wins. Default (nothing named, or NULL): VG_MOVE_PUSH_IN.
 */
vg_camera_move vg_camera_from_prompt(const char *prompt);
/** Stable lowercase name of a move ("push_in", "pan_left", ...); "unknown" when out of range. */
const char *vg_camera_name(vg_camera_move m);

/**
 * Decodes just enough of an image (any of jpeg/png/webp/bmp/gif/tiff, detected from the bytes,
 * never the name) to report its size as displayed (after any EXIF orientation). 0, or -1 with a
 * reason in err (which may be NULL). Images with a side outside
 * VG_IMAGE_MIN_SIDE_PX..VG_IMAGE_MAX_SIDE_PX are reported as errors.
 */
int vg_image_probe(const unsigned char *data, size_t len, int *w, int *h, char *err, size_t errlen);

typedef struct {
    int width, height, seconds; /* output size (exact, even) and duration; frames = 24*seconds+1 */
    uint64_t seed; /* scene generation without an image: same seed+prompt => same video */
    const char *prompt;
    const unsigned char *first_frame; /* encoded image bytes or NULL */
    size_t first_frame_len;
    const unsigned char *last_frame; /* encoded image bytes or NULL */
    size_t last_frame_len;
    bool camera_fixed;      /* forces VG_MOVE_STATIC */
    bool return_last_frame; /* also write last_frame.png */
    const char *out_dir; /* existing directory: writes video.mp4, thumbnail.jpg, [last_frame.png] */
    /* Called about every 5% with 0..100; a non-zero return aborts the render (returns VG_AGAIN).
     * May be NULL. Called on the rendering thread. */
    int (*progress)(void *ud, int percent);
    void *ud;
} vg_render_job;

typedef struct {
    int frames;
    int64_t tokens; /* width*height*frames/1024, rounded down */
    vg_camera_move move;
    /* static string on failure: "invalid_image", "render_failed" ("render_aborted" for VG_AGAIN) */
    const char *error_code;
    /* on failure, what the task's owner may read: the image's fault in our words, or for an
     * internal failure (VG_ERR) only that it happened, never system or FFmpeg text */
    char error[256];
    char detail[256]; /* on failure, the full reason, for the operator's log */
} vg_render_result;

/**
 * Renders the job synchronously on the calling thread (thread-safe: several renders may run at once
 * on different threads). Returns VG_OK, VG_INVALID (bad input image: error_code "invalid_image"),
 * VG_AGAIN (aborted by progress: "render_aborted"), or VG_ERR ("render_failed", also for a
 * malformed job). frames, tokens and move are filled in for any well-formed job, whatever the
 * outcome. On any failure the output files this call may have created are removed.
 */
int vg_render(const vg_render_job *job, vg_render_result *res);

#endif
