#!/usr/bin/env bash
# bench/b5-download-rss.sh - B5: does memory stay flat while 100 clients download a 50 MB result at
# once? A real 480p task is rendered, then its video file is replaced by 50 MB (50,000,000 bytes)
# of random data (content is streamed from the file; nothing else about the task changes). CLIENTS
# curl processes fetch GET /v1/videos/{id}/content together, each limited to RATE so that the
# downloads overlap for a known time (50 MB at 10 MB/s: ~5 s). VmRSS is sampled every 100 ms.
# Figure: the peak RSS during the downloads minus the idle RSS just before. Target: ≤ +16 MiB.
#
#   bench/b5-download-rss.sh   CLIENTS=100 SIZE=50000000 RATE=10M
source "$(dirname "$0")/lib/common.sh"
CLIENTS=${CLIENTS:-100}
SIZE=${SIZE:-50000000}
RATE=${RATE:-10M}

start_vidgated vg "$tmp/data"
read -r _ key < <(vg key --balance 100)
task=$(vg submit "$key" '{"model":"doubao-seedance-2-0-fast","prompt":"bench","seconds":"4","metadata":{"resolution":"480p"}}')
[ "$(vg wait "$key" "$task" --timeout 120)" = completed ] || die "the task did not complete"
video=$tmp/data/files/$task/video.mp4
[ -f "$video" ] || die "no $video (has the content layout changed?)"
head -c "$SIZE" /dev/urandom >"$video.new" && mv "$video.new" "$video"
url=$VG_BASE/v1/videos/$task/content
[ "$(curl -fsS -o /dev/null -w '%{size_download}' "$url" -H "Authorization: Bearer $key")" = "$SIZE" ] ||
    die "the content route does not serve the new $SIZE bytes"
sleep 1
idle=$(rss_kib "$VG_PID")

mkdir -p "$tmp/dl"
t0=$(date +%s.%N)
dl=()
for i in $(seq "$CLIENTS"); do
    curl -sS --max-time 300 --limit-rate "$RATE" -o /dev/null -w '%{http_code} %{size_download}\n' \
        -H "Authorization: Bearer $key" "$url" >"$tmp/dl/$i" 2>&1 &
    dl+=($!)
done
pids+=("${dl[@]}")
peak=$idle samples=0
for _ in $(seq 3000); do # 300 s at most
    r=$(rss_kib "$VG_PID"); [ "$r" -gt "$peak" ] && peak=$r
    samples=$((samples + 1))
    [ "$(cat "$tmp/dl"/* | wc -l)" -ge "$CLIENTS" ] && break # curl writes its line when done
    sleep 0.1
done
secs=$(calc "'%.1f' % ($(date +%s.%N) - $t0)")
wait "${dl[@]}" 2>/dev/null || true
ok=$(cat "$tmp/dl"/* | awk -v s="$SIZE" '$1 == 200 && $2 == s' | wc -l)
after=$(rss_kib "$VG_PID")
delta=$(calc "'%.1f' % (($peak - $idle) / 1024)")

printf '\nB5 RSS while %s clients download %s bytes each (curl --limit-rate %s), %s event loops\n' \
    "$CLIENTS" "$SIZE" "$RATE" "$LOOPS"
printf '  idle before:        %8.1f MiB\n' "$(calc "$idle / 1024")"
printf '  peak during:        %8.1f MiB (%s samples over %s s; %s of %s downloads complete and exact)\n' \
    "$(calc "$peak / 1024")" "$samples" "$secs" "$ok" "$CLIENTS"
printf '  after:              %8.1f MiB\n' "$(calc "$after / 1024")"
printf '  growth:             %8s MiB\n' "+$delta"
[ "$ok" = "$CLIENTS" ] || echo "  some downloads failed: $(cat "$tmp/dl"/* | sort | uniq -c | head -5)"
result B5 "+$delta MiB (peak $(calc "'%.1f' % ($peak / 1024)") MiB)" "idle $(calc "'%.1f' % ($idle / 1024)") MiB" "—" \
    "≤ +16 MiB" "$(calc "'met' if ($peak - $idle) <= 16 * 1024 and $ok == $CLIENTS else 'not met'")"
