#!/usr/bin/env bash
# cpu-per-request.sh: the server's own CPU time per request under wrk, a
# figure that survives a busy machine better than req/s (another job on the
# server's CPU lowers req/s but not the CPU each request costs).
#
#   bench/cpu-per-request.sh NPROXY_BIN [ROUNDS]
#
# For each round: nproxy (epoll), nproxy (io_uring), nginx and, for the
# proxy case, HAProxy, one worker each pinned to CPU 0, wrk -t1 pinned to
# CPU 1 for 5 s; CPU = utime+stime of the worker process from /proc.
# Cases: static 1 KiB (64 connections), static 1 MiB (16), proxy to an
# nginx backend on CPU 1 (64). Needs wrk, nginx and haproxy installed.
set -euo pipefail
bin=$(readlink -f "${1:?nproxy binary}")
rounds=${2:-2}
dir=$(mktemp -d /tmp/nproxy-cpu.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; sleep 0.3; rm -rf "$dir"' EXIT
mkdir -p "$dir/www"
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 > "$dir/www/index.html"
head -c 1048576 /dev/urandom > "$dir/www/big.bin"
chmod -R a+rX "$dir"

cat > "$dir/backend.conf" <<EOF
worker_processes 1; pid $dir/be.pid; error_log $dir/be.log; daemon on;
events { worker_connections 20000; }
http { access_log off; keepalive_requests 10000000;
  server { listen 127.0.0.1:18391; location / { return 200 "hello from the backend\n"; } } }
EOF
cat > "$dir/nginx.conf" <<EOF
worker_processes 1; pid $dir/ng.pid; error_log $dir/ng.log; daemon off;
events { worker_connections 20000; }
http { access_log off; sendfile on; tcp_nopush on; tcp_nodelay on; keepalive_requests 10000000;
  default_type application/octet-stream; open_file_cache max=1000 inactive=20s;
  upstream be { server 127.0.0.1:18391; keepalive 128; }
  server { listen 127.0.0.1:18392; root $dir/www;
    location /proxy/ { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
EOF
cat > "$dir/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 9000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:18393
  default_backend be
backend be
  http-reuse always
  server s1 127.0.0.1:18391
EOF
for b in epoll io_uring; do
  printf 'worker_processes = 1\nbackend = %s\nworker_connections = 20000\nerror_log = %s\n[server]\nlisten = 127.0.0.1:%s\nstatic_root = %s\nproxy_pass = 127.0.0.1:18391\nproxy_prefix = /proxy/\n' \
    "$b" "$dir/$b.log" "$([ $b = epoll ] && echo 18394 || echo 18395)" "$dir/www" > "$dir/$b.ini"
done
taskset -c 1 nginx -c "$dir/backend.conf"

cpu() { awk '{print $14+$15}' "/proc/$1/stat"; }
# measure NAME WORKER_PID URL CONNS
measure() {
  local t0 t1 out req rps
  t0=$(cpu "$2")
  out=$(taskset -c 1 wrk -t1 -c"$4" -d5s "$3")
  t1=$(cpu "$2")
  req=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  awk -v n="$1" -v r="$rps" -v c="$(( (t1 - t0) * 10000 ))" -v q="$req" -v u="$3" \
    'BEGIN {printf "%-16s %-28s %9s req/s %9.1f us CPU/request\n", n, u, r, c / q}'
}
# child PID of a master, or the process itself when it has none
worker() { local c; c=$(pgrep -P "$1" | head -1 || true); echo "${c:-$1}"; }
start() { "$@" >/dev/null 2>&1 & sleep 1; }

for r in $(seq "$rounds"); do
  echo "round $r"
  for case in "/index.html 64" "/big.bin 16" "/proxy/x 64"; do
    set -- $case
    taskset -c 0 "$bin" -c "$dir/epoll.ini" >/dev/null 2>&1 & p=$!; sleep 1
    measure nproxy-epoll "$(worker $p)" "http://127.0.0.1:18394$1" "$2"; kill $p; wait $p 2>/dev/null || true
    taskset -c 0 "$bin" -c "$dir/io_uring.ini" >/dev/null 2>&1 & p=$!; sleep 1
    measure nproxy-io_uring "$(worker $p)" "http://127.0.0.1:18395$1" "$2"; kill $p; wait $p 2>/dev/null || true
    taskset -c 0 nginx -c "$dir/nginx.conf" & p=$!; sleep 1
    measure nginx "$(worker $p)" "http://127.0.0.1:18392$1" "$2"; kill $p; wait $p 2>/dev/null || true
    if [ "$1" = /proxy/x ]; then
      taskset -c 0 haproxy -f "$dir/haproxy.cfg" >/dev/null 2>&1 & p=$!; sleep 1
      measure haproxy "$p" "http://127.0.0.1:18393$1" "$2"; kill $p; wait $p 2>/dev/null || true
    fi
    sleep 0.3
  done
done
kill "$(cat "$dir/be.pid")" 2>/dev/null || true
