#!/usr/bin/env bash
# bench/b2-submit.sh - B2: durable submits. wrk (Lua: bench/lib/submit.lua) POSTs text-to-video
# tasks over 64 keep-alive connections; each 200 means the task and its hold are committed. The
# reference is B1's: nginx serving a completed task's JSON as a static file, in the same run.
# Targets: ≥ 0.3 × nginx, p99 ≤ 10 ms.
#
# So that no task renders during the measurement (rendering would take the cores), the server runs
# with one Ark channel (build/ark-sim on loopback) limited to one task in flight, and that task stays
# queued upstream for an hour: every other task waits in the queue, as when a channel is full. A
# live key with a large balance submits (test-mode keys always render locally). The one completed
# task whose JSON nginx serves is rendered by a test-mode key before the measurement.
#
#   bench/b2-submit.sh     DURATION=10s CONNECTIONS=64 WRK_THREADS=2 by default
source "$(dirname "$0")/lib/common.sh"
need wrk nginx
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
source "$LIB/fullchannel.sh"
start_full_channel
ARK_KEY=sim-key start_vidgated vg "$tmp/data" --config "$tmp/vidgate.json"

body='{"model":"doubao-seedance-2-0-fast","prompt":"bench","seconds":"4","metadata":{"resolution":"480p"}}'
read -r _ tkey < <(vg key --mode test)
task=$(vg submit "$tkey" "$body")
[ "$(vg wait "$tkey" "$task" --timeout 120)" = completed ] || die "the reference task did not complete"
mkdir -p "$tmp/www"
curl -fsS "$VG_BASE/v1/video/generations/$task" -H "Authorization: Bearer $tkey" >"$tmp/www/task.json"
start_nginx "$tmp/www"

read -r key_id key < <(vg key --balance 1000000000)
fill_channel "$key"

export VG_KEY=$key
wrk -t1 -c4 -d1s -s bench/lib/submit.lua "$VG_BASE" >/dev/null
wrk -t1 -c8 -d1s "$NG_BASE/task.json" >/dev/null
vg_rate=$(wrk_run "$tmp/wrk-vg.txt" -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency --timeout 30s \
          -s bench/lib/submit.lua "$VG_BASE")
ng_rate=$(wrk_run "$tmp/wrk-ng.txt" -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" "$NG_BASE/task.json")
non2xx=$(wrk_non2xx "$tmp/wrk-vg.txt") sockerr=$(wrk_sockerr "$tmp/wrk-vg.txt")
p50=$(wrk_latency "$tmp/wrk-vg.txt" 50) p99=$(wrk_latency "$tmp/wrk-vg.txt" 99)
ratio=$(calc "'%.2f' % ($vg_rate / $ng_rate)")
# Every 200 was a commit: the tasks are in the store, all queued but the channel's one.
queued=$(python3 - "$tmp/data/vidgate.db" "$key_id" <<'PY'
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True, timeout=30)
print(c.execute("SELECT count(*) FROM tasks WHERE key_id = ? AND status = 'queued'", (sys.argv[2],)).fetchone()[0])
PY
)

printf '\nB2 durable submit, wrk -t%s -c%s -d%s, %s event loops / nginx workers, %s cores\n' \
    "$WRK_THREADS" "$CONNECTIONS" "$DURATION" "$LOOPS" "$(nproc)"
printf '  vidgated POST /v1/video/generations: %10.0f req/s, latency p50 %s ms, p99 %s ms\n' \
    "$vg_rate" "$p50" "$p99"
printf '  replies other than 2xx:              %10s; wrk socket errors (timeouts > 2 s…): %s\n' "$non2xx" "$sockerr"
printf '  nginx static file (a task JSON):     %10.0f req/s\n' "$ng_rate"
printf '  ratio vidgated / nginx:              %10s\n' "$ratio"
printf '  tasks queued in the store:           %10s (warm-up and measured submits)\n' "$queued"
[ "$non2xx" = 0 ] || { grep -A3 "Non-2xx" "$tmp/wrk-vg.txt" >&2; die "vidgated answered $non2xx non-2xx replies"; }
result B2 "$(printf '%.0f req/s, p50 %s ms, p99 %s ms' "$vg_rate" "$p50" "$p99")$([ "$sockerr" = 0 ] || echo ", $sockerr timeouts")" \
    "$(printf 'nginx %.0f req/s' "$ng_rate")" "$ratio" "≥ 0.3, p99 ≤ 10 ms" \
    "$(calc "'met' if $ratio >= 0.3 and $p99 <= 10 else 'not met'")"
