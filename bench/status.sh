#!/usr/bin/env bash
# bench/status.sh - how fast is a status poll? wrk against GET /v1/video/generations/{id} (API key
# check + SQLite lookup + JSON reply), and, in the same run, against nginx serving the very same
# JSON bytes as a static file: the reference. Prints both rates and their ratio.
#
#   bench/status.sh                 (DURATION=10s CONNECTIONS=64 WRK_THREADS=2 by default)
# Needs: build/vidgated, wrk, nginx (scripts/install-deps --bench). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
LOOPS=${VG_THREADS:-$(nproc)}

tmp=$(mktemp -d /tmp/vg-bench-XXXXXX)
chmod 755 "$tmp"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
vg_port=$(free_port)
ng_port=$(free_port)
admin="sk-bench-admin-$RANDOM$RANDOM"

VIDGATE_ADMIN_KEY=$admin VIDGATE_LOG_LEVEL=warn build/vidgated --listen 127.0.0.1:$vg_port \
    --data "$tmp/data" --threads "$LOOPS" >"$tmp/vidgated.log" 2>&1 &
pids+=($!)
base=http://127.0.0.1:$vg_port
for _ in $(seq 100); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.1; done

key=$(curl -fsS "$base/admin/keys" -H "Authorization: Bearer $admin" \
      -d '{"name":"bench","balance":"100"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
task=$(curl -fsS "$base/v1/video/generations" -H "Authorization: Bearer $key" \
      -d '{"model":"doubao-seedance-2-0-fast","prompt":"bench","seconds":"4","metadata":{"resolution":"480p"}}' |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 600); do
    curl -fsS "$base/v1/video/generations/$task" -H "Authorization: Bearer $key" | grep -q '"completed"' && break
    sleep 0.1
done
mkdir -p "$tmp/www"
curl -fsS "$base/v1/video/generations/$task" -H "Authorization: Bearer $key" >"$tmp/www/task.json"
bytes=$(wc -c <"$tmp/www/task.json")

cat >"$tmp/nginx.conf" <<CONF
worker_processes $LOOPS;
daemon off;
pid $tmp/nginx.pid;
error_log $tmp/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx-body;
    proxy_temp_path $tmp/nginx-proxy;
    fastcgi_temp_path $tmp/nginx-fcgi;
    uwsgi_temp_path $tmp/nginx-uwsgi;
    scgi_temp_path $tmp/nginx-scgi;
    server {
        listen 127.0.0.1:$ng_port reuseport;
        location = /task { default_type application/json; alias $tmp/www/task.json; }
    }
}
CONF
nginx -c "$tmp/nginx.conf" -e "$tmp/nginx-error.log" &
pids+=($!)
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$ng_port/task" >/dev/null && break; sleep 0.1; done

rate() { wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" "$@" | tee -a "$tmp/wrk.txt" |
         awk '/Requests\/sec/ {print $2}'; }
# A short warm-up for each, then the measured runs.
wrk -t1 -c8 -d1s -H "Authorization: Bearer $key" "$base/v1/video/generations/$task" >/dev/null
wrk -t1 -c8 -d1s "http://127.0.0.1:$ng_port/task" >/dev/null
vg=$(rate -H "Authorization: Bearer $key" "$base/v1/video/generations/$task")
ng=$(rate "http://127.0.0.1:$ng_port/task")
ratio=$(python3 -c "print('%.2f' % ($vg / $ng))")

printf '\nstatus poll, %s bytes of JSON, wrk -t%s -c%s -d%s, %s event loops / nginx workers, %s cores\n' \
    "$bytes" "$WRK_THREADS" "$CONNECTIONS" "$DURATION" "$LOOPS" "$(nproc)"
printf '  vidgated GET /v1/video/generations/{id}: %10.0f req/s\n' "$vg"
printf '  nginx static file of the same bytes:     %10.0f req/s\n' "$ng"
printf '  ratio vidgated / nginx:                  %10s\n' "$ratio"
