#!/usr/bin/env bash
# bench/b3-status-1m.sh - B3: does a status poll stay flat with 1,000,000 tasks stored? Two servers
# from the same template (one live key, one real completed task): one database holds 1,000 tasks,
# all the key's; the other 1,000,000 over 1,000 keys, the key's 1,000 spread evenly among them.
# wrk polls the same 1,000 tasks of the key on each (bench/lib/rotate.lua cycles through them, so
# the lookups touch 1,000 rows, not one cached row), 64 keep-alive connections, the two runs
# alternating ROUNDS times. Figure: the rate with 1 M tasks; reference: the rate with 1,000.
# Target: ≥ 0.9×. Seeding 1 M tasks (bench/lib/seed.py) takes about a minute on a quiet machine.
#
#   bench/b3-status-1m.sh   DURATION=10s CONNECTIONS=64 WRK_THREADS=2 ROUNDS=2 TASKS=1000000
#                           SEED_LEDGER=0 (1: copy the ledger rows too, ~2× the seeding time)
source "$(dirname "$0")/lib/common.sh"
source "$LIB/seeded.sh"
need wrk sqlite3
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-2}
TASKS=${TASKS:-1000000}

make_template "$tmp/small"
cp -a "$tmp/small" "$tmp/large"
t0=$(date +%s)
seed_into "$tmp/small" 1000 1 1000 "$tmp/ids-small"
seed_into "$tmp/large" "$TASKS" 1000 1000 "$tmp/ids-large"
seed_s=$(( $(date +%s) - t0 ))
start_vidgated small "$tmp/small"; small=$VG_BASE
start_vidgated large "$tmp/large"; large=$VG_BASE

export VG_KEY=$SEED_KEY
run() { # run NAME BASE IDS ROUND
    VG_IDS=$3 wrk_run "$tmp/wrk-$1-$4.txt" -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" \
        -s bench/lib/rotate.lua "$2"
    [ "$(wrk_non2xx "$tmp/wrk-$1-$4.txt")" = 0 ] || die "non-2xx replies from the $1 server"
}
run small "$small" "$tmp/ids-small" warm >/dev/null
run large "$large" "$tmp/ids-large" warm >/dev/null
s_sum=0 l_sum=0
for r in $(seq "$ROUNDS"); do
    s=$(run small "$small" "$tmp/ids-small" "$r")
    l=$(run large "$large" "$tmp/ids-large" "$r")
    printf '  round %s: 1,000 tasks %8.0f req/s, %s tasks %8.0f req/s\n' "$r" "$s" "$TASKS" "$l"
    s_sum=$(calc "$s_sum + $s") l_sum=$(calc "$l_sum + $l")
done
s_rate=$(calc "$s_sum / $ROUNDS") l_rate=$(calc "$l_sum / $ROUNDS")
ratio=$(calc "'%.2f' % ($l_rate / $s_rate)")
db_mb=$(( $(stat -c %s "$tmp/large/vidgate.db") / 1048576 ))

printf '\nB3 status poll over 1,000 tasks of one key, wrk -t%s -c%s -d%s, %s event loops, %s cores\n' \
    "$WRK_THREADS" "$CONNECTIONS" "$DURATION" "$LOOPS" "$(nproc)"
printf '  seeding: %s s; the large database: %s MiB\n' "$seed_s" "$db_mb"
printf '  %9s tasks in the database: %10.0f req/s\n' 1,000 "$s_rate" "$TASKS" "$l_rate"
printf '  ratio:                            %10s\n' "$ratio"
result B3 "$(printf '%.0f req/s with %s tasks' "$l_rate" "$TASKS")" "$(printf '%.0f req/s with 1,000' "$s_rate")" \
    "$ratio" "≥ 0.9" "$(calc "'met' if $ratio >= 0.9 else 'not met'")"
