#!/usr/bin/env bash
# bench/b4-rss-idle.sh - B4: resident memory of vidgated with 1,000,000 tasks stored and 10,000 idle
# keep-alive connections (each made one status poll, then went quiet). The database is seeded as
# for B3 (bench/lib/seed.py); a short wrk run over 1,000 of the tasks warms the caches first.
# Figure: VmRSS with the connections open (the highest of a few samples over HOLD seconds).
# Target: ≤ 64 MiB. Also printed: RSS after start and after the warm-up.
#
#   bench/b4-rss-idle.sh    CONNS=10000 TASKS=1000000 HOLD=5 SEED_LEDGER=0
# Raises the open-file limit of the server and of the client (needs a hard limit ≥ CONNS + 100).
source "$(dirname "$0")/lib/common.sh"
source "$LIB/seeded.sh"
need wrk
CONNS=${CONNS:-10000}
TASKS=${TASKS:-1000000}
HOLD=${HOLD:-5}
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge $((CONNS + 100)) ] || die "open-file hard limit $hard < CONNS + 100"
FDS=$((CONNS + 1000)); [ "$hard" = unlimited ] || [ "$FDS" -le "$hard" ] || FDS=$hard

make_seeded "$tmp/data" "$TASKS" 1000 1000
FDS=$FDS start_vidgated vg "$tmp/data" --max-connections $((CONNS + 500)) \
    --max-connections-per-ip $((CONNS + 500))
sleep 1
rss_start=$(rss_kib "$VG_PID")
VG_KEY=$SEED_KEY VG_IDS=$SEED_IDS wrk_run "$tmp/wrk.txt" -t2 -c64 -d3s -s bench/lib/rotate.lua "$VG_BASE" >/dev/null
sleep 1
rss_warm=$(rss_kib "$VG_PID")

task=$(head -1 "$SEED_IDS")
coproc CLIENT { python3 "$LIB/idle_conns.py" "${VG_BASE##*:}" "$CONNS" "/v1/video/generations/$task" \
                "Authorization: Bearer $SEED_KEY"; }
pids+=("$CLIENT_PID")
read -r -t 180 word open failed <&"${CLIENT[0]}" || die "the client did not get its connections up"
[ "$word" = ready ] || die "unexpected client output: $word"
peak=0
for _ in $(seq $((HOLD * 2))); do
    r=$(rss_kib "$VG_PID"); [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.5
done
echo >&"${CLIENT[1]}"
read -r -t 60 _ still <&"${CLIENT[0]}" || still="?"

mib() { calc "'%.1f' % ($1 / 1024)"; }
printf '\nB4 RSS of vidgated, %s tasks stored, %s event loops, %s cores\n' "$TASKS" "$LOOPS" "$(nproc)"
printf '  after start:                              %8s MiB\n' "$(mib "$rss_start")"
printf '  after 3 s of status polls over 1,000 tasks: %6s MiB\n' "$(mib "$rss_warm")"
printf '  with %s idle keep-alive connections:    %8s MiB (%s opened, %s failed, %s still open after %s s)\n' \
    "$CONNS" "$(mib "$peak")" "$open" "$failed" "$still" "$HOLD"
met=$(calc "'met' if $peak <= 64 * 1024 and $open >= $CONNS and '$still' == '$CONNS' else 'not met'")
[ "$open" -ge "$CONNS" ] || echo "  only $open of $CONNS connections were served"
result B4 "$(mib "$peak") MiB, $open idle conns" "$(mib "$rss_warm") MiB before them" "—" "≤ 64 MiB" "$met"
