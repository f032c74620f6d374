/*
 * camera.h - camera moves over time, and sampling a picture through one.
 *
 * A pose says where the content sits on screen at one instant: scaled by zoom and turned by angle
 * about the frame centre, then shifted by (dx, dy) output pixels. Screen convention: x right,
 * y down, angle positive = clockwise on screen. Moves are eased (smoothstep) from t = 0 to t = 1,
 * so the camera starts and stops gently; the move table in camera.c is the one place the
 * magnitudes live (engine.h states them).
 *
 * Sampling reads a source picture that is the cover view of the image scaled up by at least
 * vg_cam_max_zoom(), so every frame samples at or below 1:1 and never outside the source: no
 * borders, and no upscaling shimmer. Pure functions; thread-safe.
 */
#ifndef VG_ENGINE_CAMERA_H
#define VG_ENGINE_CAMERA_H

#include <libavutil/frame.h>

#include "engine/engine.h"

typedef struct {
    double zoom;   /* content scale relative to the cover view (>= 1 for image moves) */
    double angle;  /* radians, clockwise on screen */
    double dx, dy; /* content offset in output pixels */
} vg_cam_pose;

/** The pose of move m at t in 0..1 for a w x h output. */
void vg_cam_pose_at(vg_camera_move m, double t, int w, int h, vg_cam_pose *pose);

/** The largest zoom move m reaches on a w x h output: how much larger the source must be. */
double vg_cam_max_zoom(vg_camera_move m, int w, int h);

/**
 * Renders dst (working format) by bilinear sampling of src (working format) through pose: src is
 * the cover view scaled by src->width / dst->width horizontally (likewise vertically), centred.
 */
void vg_cam_sample(const AVFrame *src, const vg_cam_pose *pose, AVFrame *dst);

/** The smoothstep ease used by the moves and the cross-fades: 0 -> 0, 1 -> 1, flat at both ends. */
double vg_cam_ease(double t);

#endif
