#!/usr/bin/env bash
# bench/b7-longpoll.sh - B7: 10,000 parked long-poll clients (GET /v1/video/generations/{id}?wait=60)
# on TASKS queued tasks (they stay queued: bench/lib/fullchannel.sh), then the tasks are cancelled
# one after another and every waiter should be answered at once (bench/lib/longpoll.py).
# Figures: extra RSS with the clients parked (over the RSS just before), and the wake latency p99
# (reply time minus the time its task's DELETE was sent). Targets: ≤ 50 MiB extra, p99 ≤ 100 ms.
# A probe first: when the server answers ?wait=3 on a queued task in under 1.5 s, long-poll is not
# there (yet) and the script prints "not available" (exit 0).
#
#   bench/b7-longpoll.sh   CLIENTS=10000 TASKS=100
source "$(dirname "$0")/lib/common.sh"
source "$LIB/fullchannel.sh"
CLIENTS=${CLIENTS:-10000}
TASKS=${TASKS:-100}
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge $((CLIENTS + 100)) ] || die "open-file hard limit $hard < CLIENTS + 100"
FDS=$((CLIENTS + 1000)); [ "$hard" = unlimited ] || [ "$FDS" -le "$hard" ] || FDS=$hard

start_full_channel
ARK_KEY=sim-key FDS=$FDS start_vidgated vg "$tmp/data" --config "$tmp/vidgate.json" \
    --max-connections $((CLIENTS + 500)) --max-connections-per-ip $((CLIENTS + 500))
read -r _ key < <(vg key --balance 1000000)
fill_channel "$key"
mapfile -t ids < <(vg submit "$key" --count "$TASKS" \
    '{"model":"doubao-seedance-2-0-fast","prompt":"wait for me","seconds":"4","metadata":{"resolution":"480p"}}')
[ "${#ids[@]}" = "$TASKS" ] || die "could not submit $TASKS tasks"

t=$(curl -fsS -o /dev/null -w '%{time_total}' --max-time 10 \
    -H "Authorization: Bearer $key" "$VG_BASE/v1/video/generations/${ids[0]}?wait=3")
if [ "$(calc "int($t < 1.5)")" = 1 ]; then
    printf '\nB7 long-poll: not available (GET …?wait=3 on a queued task answered in %s s)\n' "$t"
    result B7 "not available" "—" "—" "≤ +50 MiB, wake p99 ≤ 100 ms" "n/a"
    exit 0
fi

sleep 1
before=$(rss_kib "$VG_PID")
coproc CLIENT { python3 "$LIB/longpoll.py" "${VG_BASE##*:}" "$key" "$CLIENTS" 60 "${ids[@]}"; }
pids+=("$CLIENT_PID")
read -r -t 180 word parked early <&"${CLIENT[0]}" || die "the clients did not park"
[ "$word" = parked ] || die "unexpected client output: $word"
peak=0
for _ in $(seq 6); do r=$(rss_kib "$VG_PID"); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.5; done
echo >&"${CLIENT[1]}"
read -r -t 120 _ woken _ p50 _ p99 _ max _ unanswered <&"${CLIENT[0]}" || die "no wake report"
extra=$(calc "'%.1f' % (($peak - $before) / 1024)")

printf '\nB7 long-poll, %s clients parked on %s queued tasks (?wait=60), %s event loops\n' "$CLIENTS" "$TASKS" "$LOOPS"
printf '  RSS before: %.1f MiB, parked: %.1f MiB (+%s MiB); %s parked, %s answered early\n' \
    "$(calc "$before / 1024")" "$(calc "$peak / 1024")" "$extra" "$parked" "$early"
printf '  wake after DELETE: p50 %s ms, p99 %s ms, max %s ms; %s woken, %s not answered in 20 s\n' \
    "$p50" "$p99" "$max" "$woken" "$unanswered"
result B7 "+$extra MiB, wake p99 $p99 ms" "RSS before $(calc "'%.1f' % ($before / 1024)") MiB" "—" \
    "≤ +50 MiB, wake p99 ≤ 100 ms" \
    "$(calc "'met' if $extra <= 50 and $p99 <= 100 and $unanswered == 0 and $early == 0 else 'not met'")"
