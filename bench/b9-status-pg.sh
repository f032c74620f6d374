#!/usr/bin/env bash
# bench/b9-status-pg.sh - B9: the status poll of B1 (GET /v1/video/generations/{id}: key check +
# store lookup + JSON reply) on one node with its store in PostgreSQL, against the same node on
# SQLite in the same run. The PostgreSQL server is a throwaway cluster on loopback
# (scripts/pg-test-cluster: fsync off, which does not matter to reads).
#
#   bench/b9-status-pg.sh     DURATION=10s CONNECTIONS=64 WRK_THREADS=2 ROUNDS=1 by default
# Needs: build/vidgated, wrk, the PostgreSQL server binaries. Loopback only.
source "$(dirname "$0")/lib/common.sh"
need wrk psql
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-1}

mkdir -p "$tmp/pg"
trap 'scripts/pg-test-cluster stop "$tmp/pg"; cleanup' EXIT
pg_url=$(scripts/pg-test-cluster start "$tmp/pg") || die "cannot start a PostgreSQL cluster"
psql "$pg_url" -qc "CREATE DATABASE bench" >/dev/null
bench_url=${pg_url/\/postgres\?/\/bench\?}

# One node per store, each with a finished task to poll.
declare -A base key task
for store in sqlite postgresql; do
    args=()
    [ "$store" = postgresql ] && args=(--database "$bench_url")
    start_vidgated "vg-$store" "$tmp/data-$store" "${args[@]}"
    base[$store]=$VG_BASE
    read -r _ k < <(vg key --balance 100)
    t=$(vg submit "$k" '{"model":"doubao-seedance-2-0-fast","prompt":"bench","seconds":"4","metadata":{"resolution":"480p"}}')
    [ "$(vg wait "$k" "$t" --timeout 120)" = completed ] || die "the task did not complete ($store)"
    key[$store]=$k task[$store]=$t
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
sq=$(calc "$sq_sum / $ROUNDS") pg=$(calc "$pg_sum / $ROUNDS")
ratio=$(calc "'%.2f' % ($pg / $sq)")
printf '\nB9 status poll by store, wrk -t%s -c%s -d%s, %s event loops, %s cores\n' \
    "$WRK_THREADS" "$CONNECTIONS" "$DURATION" "$LOOPS" "$(nproc)"
printf '  SQLite (DATA/vidgate.db):      %10.0f req/s\n' "$sq"
printf '  PostgreSQL (loopback, 1 node): %10.0f req/s\n' "$pg"
printf '  ratio PostgreSQL / SQLite:     %10s\n' "$ratio"
result B9 "$(printf '%.0f req/s' "$pg")" "$(printf 'SQLite %.0f req/s' "$sq")" "$ratio" "-" "-"
