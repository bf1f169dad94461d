#!/usr/bin/env bash
# reload.sh: what a reload costs a client under load, nproxy beside nginx.
# Each server runs 2 workers on SERVER_CPUS (default 0,1) serving a 1 KiB
# file; wrk -t1 -c64 (CLIENT_CPUS, default 1) runs SECONDS with a reload
# (nproxy -s reload / nginx -s reload) at the middle, ROUNDS times
# alternated; per run: req/s, p99, wrk's socket errors and non-2xx
# answers. A lossless reload shows 0 errors and 0 non-2xx.
#
#   bench/reload.sh NPROXY_BIN [ROUNDS] [SECONDS] [BACKEND]
set -euo pipefail
bin=$(readlink -f "${1:?path to the nproxy binary}")
rounds=${2:-3}
secs=${3:-10}
backend=${4:-io_uring}
scpu=${SERVER_CPUS:-0,1}
ccpu=${CLIENT_CPUS:-1}
for t in wrk nginx curl; do command -v $t >/dev/null || { echo "reload.sh: needs $t" >&2; exit 2; }; done
dir=$(mktemp -d /tmp/nproxy-reload.XXXXXX)
pids=()
cleanup() { [ -f "$dir/nginx.pid" ] && kill "$(cat "$dir/nginx.pid")" 2>/dev/null; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$dir/www"; head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 > "$dir/www/index.html"; chmod 755 "$dir" "$dir/www"; chmod 644 "$dir/www/index.html"
np=$(port); ng=$(port)
cat > "$dir/nproxy.ini" <<INI
worker_processes = 2
backend = $backend
error_log = $dir/nproxy.log
pid_file = $dir/nproxy.pid
worker_connections = 20000

[server]
listen = 127.0.0.1:$np
static_root = $dir/www
INI
cat > "$dir/nginx.conf" <<NGX
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log;
events { worker_connections 20000; }
http {
  access_log off; sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 10000000; default_type application/octet-stream;
  server { listen 127.0.0.1:$ng reuseport; root $dir/www; }
}
NGX
taskset -c "$scpu" "$bin" -c "$dir/nproxy.ini" >"$dir/nproxy.out" 2>&1 & pids+=($!)
taskset -c "$scpu" nginx -c "$dir/nginx.conf"
for p in $np $ng; do for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/index.html" && break; sleep 0.1; done; done
run() { # run NAME PORT RELOAD_CMD...
  local name=$1 port=$2; shift 2
  taskset -c "$ccpu" wrk -t1 -c64 -d"${secs}s" --latency "http://127.0.0.1:$port/index.html" >"$dir/wrk.out" 2>&1 &
  local w=$!
  sleep "$(echo "$secs / 2" | bc -l)"
  "$@" >"$dir/reload.out" 2>&1 || { echo "reload.sh: $name reload failed:" >&2; cat "$dir/reload.out" >&2; }
  wait $w
  awk -v n="$name" '
    /Requests\/sec/ {rps=$2}
    / 99%/ {p99=$2}
    /Socket errors/ {err=$0; sub(/.*Socket errors: /, "", err)}
    /Non-2xx/ {non2xx=$NF}
    END {printf "%-8s req/s %9.0f  p99 %-8s  socket errors: %s  non-2xx: %s\n", n, rps, p99, (err==""?"none":err), (non2xx==""?0:non2xx)}' "$dir/wrk.out"
}
for r in $(seq "$rounds"); do
  run nproxy "$np" "$bin" -s reload -c "$dir/nproxy.ini"
  run nginx "$ng" nginx -c "$dir/nginx.conf" -s reload
done
