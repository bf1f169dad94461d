#!/usr/bin/env bash
# h2window.sh: memory a worker holds per proxied HTTP/2 stream whose
# client cannot take more (SETTINGS_INITIAL_WINDOW_SIZE = 0, nothing
# read). bench/h2window opens CONNS h2c connections with STREAMS GETs
# each, proxied to a backend that streams SIZE bytes per response in
# 16 KiB pieces 1 ms apart; the worker's RSS is read before and after
# HOLD seconds of holding them.
#
#   bench/h2window.sh NPROXY_BIN BACKEND [CONNS] [STREAMS] [HOLD] [SIZE]
#
# BACKEND: epoll or io_uring. Defaults: 8 connections x 128 streams,
# 20 s, 16 MiB. Last line: "per stream: N bytes".
set -euo pipefail
bin=$(readlink -f "${1:?path to the nproxy binary}")
backend=${2:?epoll or io_uring}
conns=${3:-8}
streams=${4:-128}
hold=${5:-20}
size=${6:-16777216}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/nproxy-h2window.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
(cd "$here/.." && go build -o "$dir/h2window" ./bench/h2window)
np=$(port); be=$(port)
cat > "$dir/nproxy.ini" <<INI
worker_processes = 1
error_log = $dir/nproxy.log
worker_connections = 20000

[server]
listen = 127.0.0.1:$np
http2 = on
[location /]
proxy_pass = 127.0.0.1:$be
INI
"$dir/h2window" backend "127.0.0.1:$be" "$size" & pids+=($!)
"$bin" -c "$dir/nproxy.ini" --backend "$backend" >"$dir/nproxy.out" 2>&1 & pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$np") 2>/dev/null && break; sleep 0.1; done
worker=$(pgrep -P "${pids[1]}" | head -1)
rss() { awk '/^VmRSS/ {print $2}' "/proc/$worker/status"; }
before=$(rss)
"$dir/h2window" client "127.0.0.1:$np" "$conns" "$streams" / "$hold" > "$dir/client.out" & cl=$!; pids+=($cl)
sleep "$hold"
after=$(rss)
echo "backend $backend: $(head -1 "$dir/client.out" || true) streams of $conns x $streams; worker rss before ${before} KiB, after ${after} KiB"
echo "per stream: $(( (after-before)*1024/(conns*streams) )) bytes"
