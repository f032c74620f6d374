/*
 * camera.h - camera moves over time, and sampling a picture through one.
 *
 * A pose says where the content sits on screen at one instant: scaled by zoom and turned by angle
 * about the frame centre, then shifted by (dx, dy) output pixels. Screen convention: x right,
 * y down, angle positive = clockwise on screen. Moves are eased (smoothstep) from t = 0 to t = 1,
 * so the camera starts and stops gently; the move table in camera.c is the one place the
 * magnitudes live (engine.h states them).
 *
 * Every move starts at the identity pose (zoom 1, no offset, no turn): a first-frame image is the
 * video's first frame.
 *
 * Sampling reads a two-level source, like a mipmap: the base level is the image's cover view at
 * output size, the detail level the same view scaled up by vg_cam_max_zoom(). Each frame mixes
 * the two by how far its zoom has gone from 1 towards the detail level's scale. So a frame at
 * zoom 1 (the start of every move, every static frame) reproduces the image exactly, a frame at
 * the largest zoom (the end of a push in, of a pan or tilt) reads the detail level 1:1 with full
 * sharpness, and the mix between them changes smoothly, with no pop. Moves at zoom >= 1 keep the
 * window inside the cover view, so no border shows; a pull out goes below zoom 1 and the border it
 * uncovers mirrors the image at its edges. Pure functions; thread-safe.
 */
#ifndef VG_ENGINE_CAMERA_H
#define VG_ENGINE_CAMERA_H

#include <libavutil/frame.h>

#include "engine/engine.h"

typedef struct {
    double zoom;   /* content scale relative to the cover view (< 1 only for a pull out) */
    double angle;  /* radians, clockwise on screen */
    double dx, dy; /* content offset in output pixels */
} vg_cam_pose;

/** The pose of move m at t in 0..1 for a w x h output. */
void vg_cam_pose_at(vg_camera_move m, double t, int w, int h, vg_cam_pose *pose);

/** The largest zoom move m reaches on a w x h output: how much larger the source must be. */
double vg_cam_max_zoom(vg_camera_move m, int w, int h);

/**
 * Renders dst (working format) by bilinear sampling through pose. base is the cover view at dst's
 * size; detail (may be NULL) the cover view scaled by detail->width / dst->width, centred.
 */
void vg_cam_sample(const AVFrame *base, const AVFrame *detail, const vg_cam_pose *pose,
                   AVFrame *dst);

/** The smoothstep ease used by the moves and the cross-fades: 0 -> 0, 1 -> 1, flat at both ends. */
double vg_cam_ease(double t);

#endif
