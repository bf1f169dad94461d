#!/usr/bin/env bash
# ab-builds.sh: two or more nproxy builds (or backends) side by side, runs
# alternated, the server's CPU per request compared round by round. It is
# compare.sh's AB mode for different binaries: the way to measure a change
# to the reactor on a shared machine, where only same-run ratios mean
# anything.
#
#   bench/ab-builds.sh SCENARIO ROUNDS SECONDS NAME=BIN:BACKEND...
#
# SCENARIO: static (1 KiB file), churn (the same, Connection: close) or
# proxy (to an nginx backend on CPU 1). Every target runs one worker pinned
# to CPU 0 (SERVER_CPUS), wrk -t1 to CPU 1 (CLIENT_CPUS), CONNS connections
# (default 64). CPU = utime+stime of the target's process tree from /proc.
# Prints, per target, the median req/s and CPU per request and each round's
# CPU, then the median of the per-round CPU ratios of each target to the
# first. Example:
#
#   bench/ab-builds.sh static 9 3 old=/tmp/np-old:io_uring new=/tmp/np:io_uring
#
# A target NAME=@BIN is a plain responder started as `BIN PORT` (floor.c,
# floor_uring.c or a variant of them), for the static and churn scenarios.
set -euo pipefail
scen=${1:?static|churn|proxy}; rounds=${2:?rounds}; secs=${3:?seconds}; shift 3
[ $# -ge 2 ] || { echo "ab-builds.sh: name two targets or more (NAME=BIN:BACKEND)" >&2; exit 2; }
conns=${CONNS:-64}; scpu=${SERVER_CPUS:-0}; ccpu=${CLIENT_CPUS:-1}
dir=$(mktemp -d /tmp/nproxy-ab.XXXXXX); mkdir -p "$dir/www"; chmod 755 "$dir" "$dir/www"
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 > "$dir/www/index.html"; chmod 644 "$dir/www/"*
pids=(); names=(); ports=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
            [ -f "$dir/be.pid" ] && kill "$(cat "$dir/be.pid")" 2>/dev/null; sleep 0.3; rm -rf "$dir"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitport() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done
             echo "ab-builds.sh: nothing listens on $1" >&2; exit 2; }
path=/index.html; extra=()
case $scen in
  static) ;;
  churn) extra=(-H "Connection: close") ;;
  proxy)
    be=$(port); path=/proxy/x
    cat > "$dir/be.conf" <<NGX
worker_processes 1; pid $dir/be.pid; error_log $dir/be-error.log;
events { worker_connections 20000; }
http { access_log off; keepalive_requests 10000000;
  server { listen 127.0.0.1:$be reuseport; location / { return 200 "hello from the backend\n"; } } }
NGX
    taskset -c "$ccpu" nginx -c "$dir/be.conf"; waitport "$be" ;;
  *) echo "ab-builds.sh: unknown scenario $scen" >&2; exit 2 ;;
esac
for t in "$@"; do
  name=${t%%=*}; rest=${t#*=}; p=$(port)
  if [ "${rest:0:1}" = @ ]; then
    taskset -c "$scpu" "$(readlink -f "${rest:1}")" "$p" > "$dir/$name.out" 2>&1 & pids+=($!)
    names+=("$name"); ports+=("$p"); continue
  fi
  bin=$(readlink -f "${rest%%:*}"); backend=${rest##*:}
  { echo "worker_processes = 1"; echo "error_log = $dir/$name.log"; echo "worker_connections = 20000"; echo
    echo "[server]"; echo "listen = 127.0.0.1:$p"
    if [ "$scen" = proxy ]; then echo "proxy_pass = 127.0.0.1:$be"; else echo "static_root = $dir/www"; fi; } > "$dir/$name.ini"
  taskset -c "$scpu" "$bin" -c "$dir/$name.ini" --backend "$backend" > "$dir/$name.out" 2>&1 & pids+=($!)
  names+=("$name"); ports+=("$p")
done
for p in "${ports[@]}"; do waitport "$p"; done
tree_ticks() { local s=0 q; for q in $1 $(pgrep -P "$1" || true); do
  [ -r "/proc/$q/stat" ] && s=$((s + $(awk '{sub(/.*\) /,""); print $12+$13}' "/proc/$q/stat"))); done; echo $s; }
hz=$(getconf CLK_TCK)
for r in $(seq "$rounds"); do
  for i in "${!names[@]}"; do
    c0=$(tree_ticks "${pids[$i]}")
    out=$(taskset -c "$ccpu" wrk -t1 -c"$conns" -d"${secs}s" "${extra[@]}" "http://127.0.0.1:${ports[$i]}$path")
    c1=$(tree_ticks "${pids[$i]}")
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    echo "$r ${names[$i]} $(echo "$out" | awk '/Requests\/sec/ {print $2}') $(awk -v d=$((c1-c0)) -v hz="$hz" -v n="$n" 'BEGIN{printf "%.3f", (n>0 ? d*1e6/hz/n : 0)}')" >> "$dir/res"
  done
done
python3 - "$dir/res" "${names[@]}" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
names = sys.argv[2:]
by = {n: {int(r[0]): (float(r[2]), float(r[3])) for r in rows if r[1] == n} for n in names}
for n in names:
    v = list(by[n].values())
    print(f"{n:14s} req/s {st.median(a for a, _ in v):9.0f}  cpu_us {st.median(b for _, b in v):6.2f}  rounds: {' '.join(f'{b:.2f}' for _, b in v)}")
first = names[0]
for n in names[1:]:
    rs = [by[n][k][1] / by[first][k][1] for k in by[first] if by[first][k][1] > 0]
    print(f"cpu ratio {n}/{first} = {st.median(rs):.3f} (per round: {' '.join(f'{x:.2f}' for x in rs)})")
PY
