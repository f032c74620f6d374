#!/usr/bin/env bash
# bench/b9-store-pg.sh - B9: one node with its store in PostgreSQL against the same node on SQLite,
# in the same run: the status poll of B1 (GET /v1/video/generations/{id}: key check + store lookup
# + JSON reply, wrk), durable submits as in B2 (wrk + lib/submit.lua; the tasks stay queued behind
# a full Ark channel on build/ark-sim, so nothing renders meanwhile), and the claim path's latency
# (lib/claim_latency.py: CLAIMS local renders one after another, submit reply to claimed, seen by
# long-poll). The PostgreSQL server is a throwaway cluster on loopback (scripts/pg-test-cluster:
# fsync off, so its commits are cheaper than a production server's; SQLite keeps
# synchronous=FULL).
#
#   bench/b9-store-pg.sh     DURATION=10s CONNECTIONS=64 WRK_THREADS=2 ROUNDS=1 CLAIMS=20
# Needs: build/vidgated, build/ark-sim, wrk, the PostgreSQL server binaries. Loopback only.
source "$(dirname "$0")/lib/common.sh"
need wrk psql
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-1}
CLAIMS=${CLAIMS:-20}
source "$LIB/fullchannel.sh"
start_full_channel

mkdir -p "$tmp/pg"
trap 'scripts/pg-test-cluster stop "$tmp/pg"; cleanup' EXIT
pg_url=$(scripts/pg-test-cluster start "$tmp/pg") || die "cannot start a PostgreSQL cluster"
psql "$pg_url" -qc "CREATE DATABASE bench" >/dev/null
bench_url=${pg_url/\/postgres\?/\/bench\?}

# One node per store, each with a finished task to poll.
declare -A base key task live
for store in sqlite postgresql; do
    args=()
    [ "$store" = postgresql ] && args=(--database "$bench_url")
    ARK_KEY=sim-key start_vidgated "vg-$store" "$tmp/data-$store" --config "$tmp/vidgate.json" "${args[@]}"
    base[$store]=$VG_BASE
    read -r _ k < <(vg key --mode test) # test-mode keys render locally, past the full channel
    t=$(vg submit "$k" '{"model":"doubao-seedance-2-0-fast","prompt":"bench","seconds":"4","metadata":{"resolution":"480p"}}')
    [ "$(vg wait "$k" "$t" --timeout 120)" = completed ] || die "the task did not complete ($store)"
    key[$store]=$k task[$store]=$t
    read -r _ live[$store] < <(vg key --balance 1000000000)
    wrk -t1 -c8 -d1s -H "Authorization: Bearer $k" "$VG_BASE/v1/video/generations/$t" >/dev/null
done

sq_sum=0 pg_sum=0
for r in $(seq "$ROUNDS"); do
    for store in sqlite postgresql; do
        v=$(wrk_run "$tmp/wrk-$store-$r.txt" -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" \
            -H "Authorization: Bearer ${key[$store]}" "${base[$store]}/v1/video/generations/${task[$store]}")
        [ "$(wrk_non2xx "$tmp/wrk-$store-$r.txt")" = 0 ] || { cat "$tmp/wrk-$store-$r.txt" >&2; die "$store: errors"; }
        if [ "$store" = sqlite ]; then sq_sum=$(calc "$sq_sum + $v"); else pg_sum=$(calc "$pg_sum + $v"); fi
        printf '  round %s: %-10s %8.0f req/s\n' "$r" "$store" "$v"
    done
done
declare -A sub p99 claim
# The claim path (first, while the queue is empty): local renders one at a time (test-mode
# key), nothing else running.
for store in sqlite postgresql; do
    claim[$store]=$(python3 "$LIB/claim_latency.py" "${base[$store]}" "${key[$store]}" "$CLAIMS" \
        '{"model":"doubao-seedance-2-0-fast","prompt":"claim","seconds":"4","metadata":{"resolution":"480p"}}') ||
        die "$store: claim latency"
    printf '  claimed: %-10s p50/p95/max %s ms\n' "$store" "${claim[$store]}"
done
# Durable submits: each node's first task takes its channel's one slot, the rest stay queued.
for store in sqlite postgresql; do
    VG_BASE=${base[$store]} VG_KEY=${live[$store]}
    vg submit "$VG_KEY" '{"model":"doubao-seedance-2-0-fast","prompt":"slot","seconds":"4","metadata":{"resolution":"480p"}}' >/dev/null
    export VG_KEY
    wrk -t1 -c4 -d1s -s bench/lib/submit.lua "${base[$store]}" >/dev/null
    sub[$store]=$(wrk_run "$tmp/sub-$store.txt" -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
        --timeout 30s -s bench/lib/submit.lua "${base[$store]}")
    [ "$(wrk_non2xx "$tmp/sub-$store.txt")" = 0 ] || { cat "$tmp/sub-$store.txt" >&2; die "$store: submit errors"; }
    p99[$store]=$(wrk_latency "$tmp/sub-$store.txt" 99)
    printf '  submits: %-10s %8.0f req/s, p99 %s ms\n' "$store" "${sub[$store]}" "${p99[$store]}"
done

sq=$(calc "$sq_sum / $ROUNDS") pg=$(calc "$pg_sum / $ROUNDS")
ratio=$(calc "'%.2f' % ($pg / $sq)")
printf '\nB9 status poll by store, wrk -t%s -c%s -d%s, %s event loops, %s cores\n' \
    "$WRK_THREADS" "$CONNECTIONS" "$DURATION" "$LOOPS" "$(nproc)"
printf '  SQLite (DATA/vidgate.db):      %10.0f req/s\n' "$sq"
printf '  PostgreSQL (loopback, 1 node): %10.0f req/s\n' "$pg"
printf '  ratio PostgreSQL / SQLite:     %10s\n' "$ratio"
sratio=$(calc "'%.2f' % (${sub[postgresql]} / ${sub[sqlite]})")
printf '  durable submits, SQLite:       %10.0f req/s, p99 %s ms\n' "${sub[sqlite]}" "${p99[sqlite]}"
printf '  durable submits, PostgreSQL:   %10.0f req/s, p99 %s ms (ratio %s)\n' "${sub[postgresql]}" "${p99[postgresql]}" "$sratio"
read -r c50s c95s _ <<<"${claim[sqlite]}"
read -r c50p c95p _ <<<"${claim[postgresql]}"
printf '  submit to claimed, SQLite:     p50 %s ms, p95 %s ms\n' "$c50s" "$c95s"
printf '  submit to claimed, PostgreSQL: p50 %s ms, p95 %s ms (p50 %+.1f ms)\n' "$c50p" "$c95p" "$(calc "$c50p - $c50s")"
result B9 "$(printf 'status %.0f req/s, submits %.0f req/s, claimed p50 %s ms' "$pg" "${sub[postgresql]}" "$c50p")" \
    "$(printf 'SQLite: status %.0f, submits %.0f req/s, claimed p50 %s ms' "$sq" "${sub[sqlite]}" "$c50s")" \
    "$ratio / $sratio" "-" "-"
