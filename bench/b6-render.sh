#!/usr/bin/env bash
# bench/b6-render.sh - B6: CPU cost of a local render, 5 s of 720p (121 frames at 24 fps), a camera
# move ("push in") over a 1920x1080 first-frame image sent as a data: URL. vidgated runs with one
# event loop and one render worker; the figure is the CPU time (user + system, every thread, from
# /proc) the process spent between the submit and the completed status. The reference, in the same
# run: ffmpeg (the Debian package) encoding the very frames vidgated produced (decoded from its MP4
# into raw YUV 4:2:0 beforehand) with the settings of src/engine/encode.c: libx264, preset
# veryfast, crf 23, a keyframe every 48 frames, one thread. Target: ≤ 1.2 ×
# ffmpeg.
#
# The figure is the best of ROUNDS renders by one process against the best of as many ffmpeg runs:
# what a running service spends per render. A process's first render also pays for its fresh
# memory (about 17,000 page faults against 5,000-7,000 for the next ones, and ffmpeg's 11,000):
# about 0.2 CPU s more, printed as round 1.
#
#   bench/b6-render.sh     ROUNDS=3 (the best of each), IMAGE=path (default: generated)
source "$(dirname "$0")/lib/common.sh"
need ffmpeg ffprobe /usr/bin/time
ROUNDS=${ROUNDS:-3}
PROMPT=${PROMPT:-"the camera slowly pushes in on the scene"}

image=${IMAGE:-$tmp/first.jpg}
if [ -z "${IMAGE:-}" ]; then # a detailed, deterministic picture: a test pattern over a fractal
    ffmpeg -loglevel error -f lavfi -i "mandelbrot=size=1920x1080:end_pts=1" -f lavfi \
        -i "testsrc2=size=1920x1080" -filter_complex "[0][1]blend=all_mode=average" \
        -frames:v 1 -q:v 3 -y "$image"
fi
python3 - "$image" "$PROMPT" >"$tmp/body.json" <<'PY'
import base64, json, sys
data = open(sys.argv[1], "rb").read()
kind = "png" if data[:4] == b"\x89PNG" else "jpeg"
print(json.dumps({"model": "doubao-seedance-2-0", "prompt": sys.argv[2], "seconds": "5",
                  "images": ["data:image/%s;base64,%s" % (kind, base64.b64encode(data).decode())],
                  "metadata": {"resolution": "720p", "ratio": "16:9"}}))
PY

VG_THREADS=1 LOOPS=1 start_vidgated vg "$tmp/data" --render-workers 1
read -r _ key < <(vg key --mode test)
tck=$(clk_tck)
best_vg="" best_ff=""
for r in $(seq "$ROUNDS"); do
    sleep 1
    c0=$(cpu_ticks "$VG_PID")
    task=$(vg submit "$key" "@$tmp/body.json")
    [ "$(vg wait "$key" "$task" --timeout 300)" = completed ] || die "the render did not complete"
    c1=$(cpu_ticks "$VG_PID")
    vg_cpu=$(calc "'%.2f' % (($c1 - $c0) / $tck)")
    curl -fsS -o "$tmp/out.mp4" "$VG_BASE/v1/videos/$task/content" -H "Authorization: Bearer $key"
    geom=$(ffprobe -v error -select_streams v:0 -count_frames \
           -show_entries stream=width,height,nb_read_frames -of csv=p=0 "$tmp/out.mp4")
    IFS=, read -r w h frames <<<"$geom"
    ffmpeg -loglevel error -i "$tmp/out.mp4" -f rawvideo -pix_fmt yuv420p -y "$tmp/frames.yuv"
    /usr/bin/time -f '%U %S' -o "$tmp/time.txt" ffmpeg -loglevel error -f rawvideo -pix_fmt yuv420p \
        -s "${w}x$h" -framerate 24 -i "$tmp/frames.yuv" -c:v libx264 -preset veryfast -crf 23 -g 48 \
        -threads 1 -pix_fmt yuv420p -f mp4 -y "$tmp/ref.mp4"
    ff_cpu=$(awk '{printf "%.2f", $1 + $2}' "$tmp/time.txt")
    rm -f "$tmp/frames.yuv"
    printf '  round %s: vidgated %s CPU s, ffmpeg %s CPU s (%sx%s, %s frames)\n' "$r" "$vg_cpu" "$ff_cpu" "$w" "$h" "$frames"
    [ "$r" = 1 ] && first_vg=$vg_cpu
    [ -z "$best_vg" ] || [ "$(calc "int($vg_cpu < $best_vg)")" = 1 ] && best_vg=$vg_cpu
    [ -z "$best_ff" ] || [ "$(calc "int($ff_cpu < $best_ff)")" = 1 ] && best_ff=$ff_cpu
done
ratio=$(calc "'%.2f' % ($best_vg / $best_ff)")

printf '\nB6 local render, 720p 5 s push-in over a %s image, one render worker, %s cores\n' \
    "$(ffprobe -v error -show_entries stream=width,height -of csv=s=x:p=0 "$image")" "$(nproc)"
printf '  vidgated (submit to completed), CPU:   %6s s (best of %s; the process'"'"'s first: %s s)\n' \
    "$best_vg" "$ROUNDS" "$first_vg"
printf '  ffmpeg x264 on the same frames, CPU:   %6s s (best of %s)\n' "$best_ff" "$ROUNDS"
printf '  ratio:                                 %6s\n' "$ratio"
result B6 "$best_vg CPU s (best of $ROUNDS; first render $first_vg)" "ffmpeg $best_ff CPU s" "$ratio" "≤ 1.2" "$(calc "'met' if $ratio <= 1.2 else 'not met'")"
