# bench/lib/common.sh - shared by the bench/b*.sh scripts (sourced, not run).
#
# What it gives a script: a temporary directory ($tmp) removed on exit with every process the
# script started (bg / pids), free loopback ports, vidgated started from $BUILD on a throwaway
# data directory, nginx with a generated configuration, RSS and CPU readings from /proc, and
# result() which prints the one machine-readable line bench/run-all collects:
#   RESULT <row> <figure> | <reference> | <ratio> | <target> | <met>
# Every wait here is bounded in count and time; nothing listens anywhere but 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
BUILD=${BUILD:-build}
LIB=bench/lib
LOOPS=${VG_THREADS:-$(nproc)}

tmp=$(mktemp -d /tmp/vg-bench-XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
need() { local c; for c in "$@"; do command -v "$c" >/dev/null || die "needs $c (scripts/install-deps --bench)"; done; }
need python3 curl
[ -x "$BUILD/vidgated" ] || die "no $BUILD/vidgated: run make first"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_vidgated NAME DATA_DIR [vidgated flags…]: starts it on a free port with a known admin key;
# sets VG_PID, VG_BASE and VG_ADMIN. FDS (env) raises the open-file limit first; VG_WRAP (env)
# runs the daemon under a tool, e.g. VG_WRAP=heaptrack (figures then include the tool's own cost).
VG_ADMIN="sk-bench-admin-$RANDOM$RANDOM$RANDOM"
start_vidgated() {
    local name=$1 data=$2
    shift 2
    local port
    port=$(free_port)
    mkdir -p "$data"
    (
        [ -n "${FDS:-}" ] && ulimit -n "$FDS"
        exec env VIDGATE_ADMIN_KEY="$VG_ADMIN" VIDGATE_LOG_LEVEL="${VG_LOG_LEVEL:-warn}" \
            ${VG_WRAP:-} "$BUILD/vidgated" --listen "127.0.0.1:$port" --data "$data" --threads "$LOOPS" "$@"
    ) >"$tmp/$name.log" 2>&1 &
    VG_PID=$!
    pids+=("$VG_PID")
    VG_BASE=http://127.0.0.1:$port
    for _ in $(seq 300); do
        curl -fs "$VG_BASE/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$VG_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -20 "$tmp/$name.log" >&2
    die "vidgated ($name) did not become ready"
}

# stop_pid PID: SIGTERM, then up to 10 s for it to exit.
stop_pid() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
}

# vg ARGS…: the Python helper (keys, tasks, waits) against $VG_BASE with $VG_ADMIN.
vg() { python3 "$LIB/vg.py" --base "$VG_BASE" --admin "$VG_ADMIN" "$@"; }

# start_nginx ROOT_DIR: nginx with $LOOPS workers serving ROOT_DIR on a free port; sets NG_BASE.
start_nginx() {
    need nginx
    local root=$1 port conf=$tmp/nginx
    port=$(free_port)
    mkdir -p "$conf"
    cat >"$conf/nginx.conf" <<CONF
worker_processes $LOOPS;
daemon off;
pid $conf/nginx.pid;
error_log $conf/error.log;
worker_rlimit_nofile 20000;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path $conf/body;
    proxy_temp_path $conf/proxy;
    fastcgi_temp_path $conf/fcgi;
    uwsgi_temp_path $conf/uwsgi;
    scgi_temp_path $conf/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$port reuseport;
        location / { default_type application/json; root $root; }
    }
}
CONF
    nginx -c "$conf/nginx.conf" -e "$conf/error.log" &
    pids+=($!)
    NG_BASE=http://127.0.0.1:$port
    for _ in $(seq 100); do curl -s -o /dev/null "$NG_BASE/" && return 0; sleep 0.1; done
    die "nginx did not start"
}

# rss_kib PID: resident set size in KiB (VmRSS).
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# cpu_ticks PID: user + system time of every thread, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
clk_tck() { getconf CLK_TCK; }

# wrk_run OUTFILE wrk-args…: runs wrk, keeps its output; prints requests/s.
wrk_run() {
    local out=$1
    shift
    need wrk
    wrk "$@" >"$out" 2>&1 || { cat "$out" >&2; die "wrk failed"; }
    awk '/Requests\/sec/ {print $2}' "$out"
}
# wrk_non2xx FILE: replies other than 2xx/3xx that wrk counted (0 when none).
wrk_non2xx() { awk '/Non-2xx or 3xx/ {n += $NF} END {print n + 0}' "$1"; }
# wrk_sockerr FILE: wrk's socket errors (connect, read, write, timeout: > 2 s without a reply).
wrk_sockerr() { awk '/Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$1"; }
# wrk_latency FILE PCT: a percentile (50, 99…) from wrk --latency output, in ms.
wrk_latency() {
    awk -v p="$2%" '$1 == p {v = $2; if (v ~ /us$/) {sub("us", "", v); v /= 1000}
        else if (v ~ /ms$/) sub("ms", "", v); else if (v ~ /s$/) {sub("s", "", v); v *= 1000}
        printf "%.2f\n", v}' "$1"
}

calc() { python3 -c "print($1)"; }

# result ROW FIGURE REFERENCE RATIO TARGET MET: the line bench/run-all collects (fields may hold
# spaces; "|" separates them).
result() { printf 'RESULT %s | %s | %s | %s | %s | %s\n' "$@"; }
