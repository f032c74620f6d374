#!/usr/bin/env bash
# bench/b1-status.sh - B1: how fast is a status poll? wrk against GET /v1/video/generations/{id}
# (API key check + store lookup + JSON reply) and, in the same run, against nginx serving the very
# same JSON bytes as a static file with as many workers as vidgated has event loops: the reference.
# Target: vidgated ≥ 0.7 × nginx.
#
#   bench/b1-status.sh     DURATION=10s CONNECTIONS=64 WRK_THREADS=2 ROUNDS=1 by default
# ROUNDS > 1 alternates vidgated and nginx runs and sums them (less sensitive to a busy machine).
# Needs: build/vidgated, wrk, nginx (scripts/install-deps --bench). Loopback only.
source "$(dirname "$0")/lib/common.sh"
need wrk nginx
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-1}

start_vidgated vg "$tmp/data"
read -r _ key < <(vg key --balance 100)
task=$(vg submit "$key" '{"model":"doubao-seedance-2-0-fast","prompt":"bench","seconds":"4","metadata":{"resolution":"480p"}}')
[ "$(vg wait "$key" "$task" --timeout 120)" = completed ] || die "the task did not complete"
mkdir -p "$tmp/www"
curl -fsS "$VG_BASE/v1/video/generations/$task" -H "Authorization: Bearer $key" >"$tmp/www/task.json"
bytes=$(wc -c <"$tmp/www/task.json")
start_nginx "$tmp/www"
cmp -s "$tmp/www/task.json" <(curl -fsS "$NG_BASE/task.json") || die "nginx does not serve the same bytes"

# A short warm-up for each, then the measured runs.
wrk -t1 -c8 -d1s -H "Authorization: Bearer $key" "$VG_BASE/v1/video/generations/$task" >/dev/null
wrk -t1 -c8 -d1s "$NG_BASE/task.json" >/dev/null
vg_sum=0 ng_sum=0
for r in $(seq "$ROUNDS"); do
    v=$(wrk_run "$tmp/wrk-vg-$r.txt" -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" \
        -H "Authorization: Bearer $key" "$VG_BASE/v1/video/generations/$task")
    n=$(wrk_run "$tmp/wrk-ng-$r.txt" -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" "$NG_BASE/task.json")
    [ "$(wrk_non2xx "$tmp/wrk-vg-$r.txt")" = 0 ] || { cat "$tmp/wrk-vg-$r.txt" >&2; die "vidgated answered errors"; }
    printf '  round %s: vidgated %8.0f req/s, nginx %8.0f req/s\n' "$r" "$v" "$n"
    vg_sum=$(calc "$vg_sum + $v") ng_sum=$(calc "$ng_sum + $n")
done
vg_rate=$(calc "$vg_sum / $ROUNDS") ng_rate=$(calc "$ng_sum / $ROUNDS")
ratio=$(calc "'%.2f' % ($vg_rate / $ng_rate)")

printf '\nB1 status poll, %s bytes of JSON, wrk -t%s -c%s -d%s, %s event loops / nginx workers, %s cores\n' \
    "$bytes" "$WRK_THREADS" "$CONNECTIONS" "$DURATION" "$LOOPS" "$(nproc)"
printf '  vidgated GET /v1/video/generations/{id}: %10.0f req/s\n' "$vg_rate"
printf '  nginx static file of the same bytes:     %10.0f req/s\n' "$ng_rate"
printf '  ratio vidgated / nginx:                  %10s\n' "$ratio"
result B1 "$(printf '%.0f req/s' "$vg_rate")" "$(printf 'nginx %.0f req/s' "$ng_rate")" "$ratio" "≥ 0.7" \
    "$(calc "'met' if $ratio >= 0.7 else 'not met'")"
