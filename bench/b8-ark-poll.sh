#!/usr/bin/env bash
# bench/b8-ark-poll.sh - B8: how vidgated polls Ark with several hundred tasks in flight. One Ark
# channel on build/ark-sim (tasks QUEUE_MS queued + RUN_MS running upstream: 16 s by default,
# inside the 10-20 s of the row; tiny result videos; no callbacks: polling alone), vidgated at its
# default poll settings (upstream_poll_min_ms INTERVAL_MS), a request budget of 100/s for the
# channel. bench/lib/ark_load.py submits RATE tasks a second (400 in flight at 25/s), then measures
# for MEASURE seconds:
#   figure 1: upstream list/get requests ÷ task states they returned (each returned state = one
#             task refreshed in one polling cycle); target ≤ 0.02 (lists of 50+ ids);
#   figure 2: poll lag p99, from the end of a task upstream to vidgated showing it final;
#             target ≤ 2 × the interval.
#
#   bench/b8-ark-poll.sh   RATE=25 RAMP=20 MEASURE=30 QUEUE_MS=4000 RUN_MS=12000 INTERVAL_MS=2000
source "$(dirname "$0")/lib/common.sh"
RATE=${RATE:-25}
RAMP=${RAMP:-20}
MEASURE=${MEASURE:-30}
QUEUE_MS=${QUEUE_MS:-4000}
RUN_MS=${RUN_MS:-12000}
INTERVAL_MS=${INTERVAL_MS:-2000}
[ -x "$BUILD/ark-sim" ] || die "no $BUILD/ark-sim"

sim_port=$(free_port)
"$BUILD/ark-sim" --listen "127.0.0.1:$sim_port" --data "$tmp/sim" --key sim-key --video tiny \
    --queue-ms "$QUEUE_MS" --run-ms "$RUN_MS" >"$tmp/sim.log" 2>&1 &
pids+=($!)
sim=http://127.0.0.1:$sim_port
for _ in $(seq 100); do curl -fs "$sim/sim/stats" >/dev/null && break; sleep 0.1; done
cat >"$tmp/vidgate.json" <<CONF
{"channels": [{"name": "ark", "type": "ark", "base_url": "$sim/api/v3", "api_key_env": "ARK_KEY",
  "requests_per_s": 100,
  "models": {"doubao-seedance-2-0-fast": "doubao-seedance-2-0-fast-260128",
             "doubao-seedance-2-0": "doubao-seedance-2-0-260128"}}]}
CONF
ARK_KEY=sim-key VIDGATE_UPSTREAM_POLL_MIN_MS=$INTERVAL_MS start_vidgated vg "$tmp/data" --config "$tmp/vidgate.json"

out=$(python3 "$LIB/ark_load.py" --base "$VG_BASE" --admin "$VG_ADMIN" --sim "$sim" --rate "$RATE" \
      --ramp "$RAMP" --measure "$MEASURE" --queue-ms "$QUEUE_MS" --run-ms "$RUN_MS")
get() { awk -v k="$1" '{for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1)}' <<<"$out"; }
rpr=$(calc "'%.3f' % $(get req_per_refresh)")
lag99=$(calc "'%.2f' % $(get lag_p99)")
limit=$(calc "2 * $INTERVAL_MS / 1000")
errs=$(grep -c ' ERROR ' "$tmp/vg.log" || true)

printf '\nB8 Ark polling, %s tasks/s of %s+%s ms upstream, interval %s ms, %s s window\n' \
    "$RATE" "$QUEUE_MS" "$RUN_MS" "$INTERVAL_MS" "$(get window_s)"
printf '  in flight upstream: min %s, avg %.0f; %s submitted, %s errors, %s ERROR lines in the log\n' \
    "$(get inflight_min)" "$(get inflight_avg)" "$(get submitted)" "$(get errors)" "$errs"
printf '  upstream calls in the window: %s creates, %s lists (%s by ids, %s lookups), %s gets\n' \
    "$(get creates)" "$(get list_calls)" "$(get batch_calls)" "$(get lookups)" "$(get get_calls)"
printf '  task refreshes: %s, %.1f ids per list by ids; requests per refresh: %s\n' \
    "$(get refreshes)" "$(get ids_per_list)" "$rpr"
printf '  poll lag (upstream end -> final at vidgated), %s tasks: p50 %.2f s, p99 %s s, max %.2f s; %s not seen final\n' \
    "$(get lag_n)" "$(get lag_p50)" "$lag99" "$(get lag_max)" "$(get lag_missing)"
[ "$(get inflight_min)" -ge 300 ] || echo "  fewer than 300 tasks in flight at some point: raise RATE"
result B8 "$rpr req/refresh, lag p99 $lag99 s" "interval $(calc "$INTERVAL_MS / 1000") s" "—" \
    "≤ 0.02, lag p99 ≤ $limit s" \
    "$(calc "'met' if $rpr <= 0.02 and $lag99 <= $limit and $(get lag_missing) == 0 else 'not met'")"
