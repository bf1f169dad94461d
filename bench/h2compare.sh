#!/usr/bin/env bash
# h2compare.sh: nproxy's HTTP/2 side by side with nginx and HAProxy, same
# machine, same run, runs alternated; the HTTP/2 counterpart of
# ../shared/bench/compare.sh, whose setup it follows (one worker or thread
# each pinned to SERVER_CPUS, the load generator and the backend to
# CLIENT_CPUS, everything on 127.0.0.1, a throwaway ECDSA P-256
# certificate, TLS 1.3).
#
#   bench/h2compare.sh SCENARIO NPROXY_BIN [ROUNDS] [REQUESTS]
#
# SCENARIO: static   1 KiB file over h2 (TLS, ALPN h2)
#           proxy    h2 to the server, HTTP/1.1 to one nginx backend
#                    (keep-alive pool) answering a 23-byte body
#           idle     memory per idle h2 connection (TLS): bench/h2idle
#                    opens CONNS (default 4000) connections, one request
#                    each, and holds them; RSS delta / CONNS. One round
#                    per run (a server's RSS does not shrink back after
#                    the first): run the script again to repeat.
# Load: h2load -t1 -c CONNS(64) -m STREAMS(10) -n REQUESTS (default
# 200000) per round and target. Besides req/s, every round reports the server's CPU
# time per request (user+system of its process tree, from /proc), the
# steadier figure on a busy machine. HAProxy serves "static" with
# http-request return ... file (the file loaded at start, from memory).
# Env: SERVER_CPUS (default 0), CLIENT_CPUS (default 1), CONNS, BACKEND
# (nproxy --backend), STREAMS. Last lines: "ratio nproxy/REF = X".
set -euo pipefail
scenario=${1:?scenario: static|proxy|idle}
bin=$(readlink -f "${2:?path to the nproxy binary}")
rounds=${3:-3}
nreq=${4:-200000}
scpu=${SERVER_CPUS:-0}
ccpu=${CLIENT_CPUS:-1}
here=$(cd "$(dirname "$0")" && pwd)

need() { command -v "$1" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 || true; apt-get install -y -qq "$2" >/dev/null 2>&1; }; command -v "$1" >/dev/null || { echo "h2compare.sh: cannot install $2" >&2; exit 2; }; }
need h2load nghttp2-client
need nginx nginx-light
need haproxy haproxy

dir=$(mktemp -d /tmp/nproxy-h2compare.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
            for f in "$dir"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
            sleep 0.3; rm -rf "$dir"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitport() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; echo "h2compare.sh: nothing listens on $1" >&2; tail -q -n 3 "$dir"/*.log >&2 2>/dev/null; exit 2; }

mkdir -p "$dir/www"; chmod 755 "$dir" "$dir/www"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1 || { echo "h2compare.sh: openssl could not make a certificate" >&2; exit 2; }
cat "$dir/cert.pem" "$dir/key.pem" > "$dir/both.pem"
chmod 644 "$dir"/*.pem
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 > "$dir/www/index.html"; chmod 644 "$dir/www/index.html"

np=$(port); ng=$(port); hp=$(port); be=$(port)
cat > "$dir/nproxy.ini" <<EOF
worker_processes = 1
error_log = $dir/nproxy.log
worker_connections = 20000

[server]
listen = 127.0.0.1:$np
tls_cert = $dir/cert.pem
tls_key = $dir/key.pem
static_root = $dir/www
[location /proxy/]
proxy_pass = 127.0.0.1:$be
EOF
cat > "$dir/nginx.conf" <<NGX
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx.log;
events { worker_connections 20000; }
http {
  access_log off; sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_requests 10000000; default_type application/octet-stream;
  open_file_cache max=1000 inactive=20s;
  upstream be { server 127.0.0.1:$be; keepalive 128; }
  server { listen 127.0.0.1:$ng ssl http2 reuseport; ssl_certificate $dir/cert.pem; ssl_certificate_key $dir/key.pem;
           ssl_protocols TLSv1.3; ssl_session_cache shared:S:10m; root $dir/www;
           location /proxy/ { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
NGX
cat > "$dir/backend.conf" <<NGX
worker_processes 1; pid $dir/backend.pid; error_log $dir/backend.log;
events { worker_connections 20000; }
http { access_log off; keepalive_requests 10000000;
  server { listen 127.0.0.1:$be reuseport; location / { return 200 "hello from the backend\n"; } } }
NGX
cat > "$dir/haproxy.cfg" <<HAP
global
  nbthread 1
  maxconn 9000
  pidfile $dir/haproxy.pid
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$hp ssl crt $dir/both.pem alpn h2,http/1.1 ssl-min-ver TLSv1.3
  http-request return status 200 content-type text/html file $dir/www/index.html if { path /index.html }
  default_backend be
backend be
  http-reuse always
  server s1 127.0.0.1:$be
HAP

taskset -c "$ccpu" nginx -c "$dir/backend.conf"; waitport "$be"
args=(-c "$dir/nproxy.ini"); [ -n "${BACKEND:-}" ] && args+=(--backend "$BACKEND")
taskset -c "$scpu" "$bin" "${args[@]}" >"$dir/nproxy.out" 2>&1 & pids+=($!)
taskset -c "$scpu" nginx -c "$dir/nginx.conf"
taskset -c "$scpu" haproxy -f "$dir/haproxy.cfg" -D 2>"$dir/haproxy.log"
waitport "$np"; waitport "$ng"; waitport "$hp"
targets=(nproxy nginx haproxy)
portof() { case $1 in nproxy) echo "$np";; nginx) echo "$ng";; haproxy) echo "$hp";; esac; }
root_of() { case $1 in nproxy) echo "${pids[0]}";; nginx) cat "$dir/nginx.pid";; haproxy) cat "$dir/haproxy.pid";; esac; }
case $scenario in
  static|idle) path=/index.html ;;
  proxy) path=/proxy/x ;;
  *) echo "h2compare.sh: unknown scenario $scenario" >&2; exit 2 ;;
esac
for t in "${targets[@]}"; do
  v=$(curl -sk --http2 -o /dev/null -w '%{http_version} %{http_code}' "https://127.0.0.1:$(portof "$t")$path")
  [ "$v" = "2 200" ] || { echo "h2compare.sh: $t answered \"$v\" for $path" >&2; cat "$dir"/*.log "$dir/nproxy.out" >&2; exit 1; }
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

tree_pids() { local all=("$1") i=0; while [ $i -lt ${#all[@]} ]; do for c in $(pgrep -P "${all[$i]}" || true); do all+=("$c"); done; i=$((i+1)); done; echo "${all[@]}"; }
tree_rss_kb() { ps -o rss= -p "$(tree_pids "$1" | tr ' ' ,)" | awk '{s+=$1} END {print s+0}'; }
tree_ticks() { local s=0 p; for p in $(tree_pids "$1"); do [ -r "/proc/$p/stat" ] && s=$((s + $(awk '{sub(/.*\) /,""); print $12+$13}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $s; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

if [ "$scenario" = idle ]; then
  conns=${CONNS:-4000}
  (cd "$here/.." && go build -o "$dir/h2idle" ./bench/h2idle)
  for t in "${targets[@]}"; do : > "$dir/idle.$t"; done
  for r in 1; do
    for t in "${targets[@]}"; do
      root=$(root_of "$t"); before=$(tree_rss_kb "$root")
      taskset -c "$ccpu" "$dir/h2idle" "127.0.0.1:$(portof "$t")" "$conns" "$path" 30 > "$dir/out.$t" & ip=$!
      for _ in $(seq 600); do grep -q open "$dir/out.$t" 2>/dev/null && break; sleep 0.1; done
      sleep 1; after=$(tree_rss_kb "$root"); kill $ip 2>/dev/null || true; wait $ip 2>/dev/null || true
      echo "round $r $t: $(cat "$dir/out.$t") rss_before=${before}KiB rss_after=${after}KiB bytes_per_idle_conn=$(( (after-before)*1024/conns ))"
      echo $(( (after-before)*1024/conns )) >> "$dir/idle.$t"
    done
  done
  printf '%-10s %22s   (idle h2 connections over TLS, %s each)\n' target bytes_per_idle_conn "$conns"
  for t in "${targets[@]}"; do printf '%-10s %22.0f\n' "$t" "$(median < "$dir/idle.$t")"; done
  for ref in nginx haproxy; do
    awk -v a="$(median < "$dir/idle.nproxy")" -v b="$(median < "$dir/idle.$ref")" -v r=$ref 'BEGIN {printf "ratio nproxy/%s = %.2f (bytes per idle h2 connection; lower is better)\n", r, (b>0? a/b : 0)}'
  done
  exit 0
fi

conns=${CONNS:-64}
streams=${STREAMS:-10}
hz=$(getconf CLK_TCK)
for t in "${targets[@]}"; do : > "$dir/rps.$t"; : > "$dir/cpu.$t"; done
for r in $(seq "$rounds"); do
  for t in "${targets[@]}"; do
    root=$(root_of "$t"); c0=$(tree_ticks "$root")
    out=$(taskset -c "$ccpu" h2load -t1 -c"$conns" -m"$streams" -n"$nreq" "https://127.0.0.1:$(portof "$t")$path" 2>&1)
    c1=$(tree_ticks "$root")
    rps=$(echo "$out" | awk '/^finished in/ {print $4}')
    ok=$(echo "$out" | awk '/^requests:/ {print $8}')
    bad=$(echo "$out" | awk '/^status codes:/ {print $5+$7+$9}')
    [ "${ok:-0}" -gt 0 ] || { echo "round $r $t: no request succeeded:"; echo "$out" | tail -8; exit 1; }
    [ "${bad:-0}" = 0 ] && [ "$ok" = "$nreq" ] || echo "  round $r $t: $ok of $nreq succeeded, $bad non-2xx"
    echo "$rps" >> "$dir/rps.$t"
    awk -v d=$((c1-c0)) -v hz="$hz" -v n="$ok" 'BEGIN {printf "%.3f\n", (n>0 ? d*1e6/hz/n : 0)}' >> "$dir/cpu.$t"
    echo "  round $r $t: $rps req/s, $(tail -1 "$dir/cpu.$t") us CPU/request"
  done
done
printf '%-10s %12s %14s   (scenario=%s h2 over TLS, -c %s -m %s -n %s, %s rounds, median)\n' target req/s server_cpu_us "$scenario" "$conns" "$streams" "$nreq" "$rounds"
for t in "${targets[@]}"; do
  printf '%-10s %12.0f %14.2f\n' "$t" "$(median < "$dir/rps.$t")" "$(median < "$dir/cpu.$t")"
done
for ref in nginx haproxy; do
  paste "$dir/cpu.nproxy" "$dir/cpu.$ref" | awk '$2>0 {print $1/$2}' | median | awk -v d="$ref" '{printf "cpu ratio nproxy/%s = %.2f (server CPU per request, median of per-round ratios; lower is better)\n", d, $1}'
  paste "$dir/rps.nproxy" "$dir/rps.$ref" | awk '{print $1/$2}' | median | awk -v d="$ref" '{printf "ratio nproxy/%s = %.2f (req/s, median of per-round ratios)\n", d, $1}'
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
