/*
 * scene.h - the animated scene rendered when a job has no first frame.
 *
 * A scene is a pure function of (prompt, seed): a palette and a set of motions drawn from a hash of
 * both, so the same pair always gives the same video and another seed a visibly different one.
 * It is described in resolution-independent terms (fractions of the frame), and rendered straight
 * into the working format (BT.709 limited yuv420p) with integer arithmetic per pixel: a drifting,
 * slowly turning multi-stop gradient, with soft glowing orbs moving across it, all seen through a
 * camera pose (camera.h) so the prompt's camera move applies here too.
 *
 * A vg_scene is immutable after vg_scene_new; rendering from several threads at once is safe.
 */
#ifndef VG_ENGINE_SCENE_H
#define VG_ENGINE_SCENE_H
#include <stdint.h>

#include <libavutil/frame.h>

#include "engine/camera.h"

typedef struct vg_scene vg_scene;

/** Builds the scene for prompt (may be NULL) and seed. Never NULL (allocation failure aborts). */
vg_scene *vg_scene_new(const char *prompt, uint64_t seed);
/** Renders the scene at t_sec seconds through pose into dst (working format, any even size). */
void vg_scene_render(const vg_scene *sc, double t_sec, const vg_cam_pose *pose, AVFrame *dst);
void vg_scene_free(vg_scene *sc);

#endif
