#!/usr/bin/env bash
# modules.sh: what dynamic modules cost a worker. For 0, 1 and 3 modules
# that pass (modules/testdata/pass: every hook, request, response and log,
# returns at once), native and WebAssembly, it reports req/s and the
# worker's CPU time per request, for a small static file and for a
# proxied request.
#
#   bench/modules.sh [ROUNDS] [SECONDS]
#
# It builds nproxy and the module (.so and .wasm) from the tree it is in,
# with the go command on PATH, so that the plugin matches the binary. One
# worker (BACKEND, default epoll) pinned to CPU 0; wrk -t1 -c64 and, for
# the proxy case, an nginx backend pinned to CPU 1; SECONDS (default 5) per
# run, cases alternated within each of ROUNDS rounds (default 2). CPU per
# request = the worker's utime+stime from /proc over wrk's requests. The
# first line says the load average, the last lines each case's range.
# HOOKS (e.g. "request") limits the module to those hooks; CASES
# ("static:none static:wasmx1 ...") picks the cases.
set -euo pipefail
rounds=${1:-2}
secs=${2:-5}
backend=${BACKEND:-epoll}
root=$(cd "$(dirname "$0")/.." && pwd)
for c in wrk nginx taskset; do command -v $c >/dev/null || { echo "modules.sh: needs $c" >&2; exit 2; }; done
dir=$(mktemp -d /tmp/nproxy-modules.XXXXXX)
cleanup() {
  [ -n "${master:-}" ] && kill "$master" 2>/dev/null || true
  [ -f "$dir/be.pid" ] && kill "$(cat "$dir/be.pid")" 2>/dev/null || true
  sleep 0.3; rm -rf "$dir"
}
trap cleanup EXIT

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs); backend $backend; $rounds rounds of ${secs}s"
(cd "$root" && go build -o "$dir/nproxy" ./cmd/nproxy \
  && go build -buildmode=plugin -o "$dir/pass.so" ./modules/testdata/pass \
  && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$dir/pass.wasm" ./modules/testdata/pass)
mkdir -p "$dir/www"
head -c 1024 /dev/zero | tr '\0' 'x' > "$dir/www/index.html"
cat > "$dir/backend.conf" <<EOF
worker_processes 1; pid $dir/be.pid; error_log $dir/be.log; daemon on;
events { worker_connections 20000; }
http { access_log off; keepalive_requests 10000000;
  server { listen 127.0.0.1:18401; location / { return 200 "hello from the backend\n"; } } }
EOF
taskset -c 1 nginx -c "$dir/backend.conf"

# config CASE: the [server] of a case: static|proxy, then the modules.
config() {
  local kind=$1 mods=$2 form n i
  printf 'worker_processes = 1\nbackend = %s\nworker_connections = 20000\nerror_log = %s/err.log\n[server]\nlisten = 127.0.0.1:18402\nstatic_root = %s/www\n' "$backend" "$dir" "$dir"
  [ "$kind" = proxy ] && printf 'proxy_pass = 127.0.0.1:18401\n'
  if [ "$mods" != none ]; then
    form=${mods%x*}; n=${mods#*x}
    for i in $(seq "$n"); do printf 'module = %s/pass.%s %s\n' "$dir" "$([ "$form" = native ] && echo so || echo wasm)" "${HOOKS:-}"; done
  fi
}

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# run KIND MODS: one measurement, printed as "KIND MODS REQS CPU_US".
run() {
  local kind=$1 mods=$2 worker before after out reqs rps
  config "$kind" "$mods" > "$dir/nproxy.ini"
  taskset -c 0 "$dir/nproxy" -c "$dir/nproxy.ini" > "$dir/out.log" 2>&1 &
  master=$!
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/18402) 2>/dev/null && break; sleep 0.05; done
  worker=$(pgrep -P "$master" | head -1)
  [ -n "$worker" ] || { echo "modules.sh: no worker" >&2; cat "$dir/out.log" >&2; exit 2; }
  taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:18402/" >/dev/null # warm up
  before=$(cpu_ticks "$worker")
  out=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:18402/")
  after=$(cpu_ticks "$worker")
  kill "$master"; wait "$master" 2>/dev/null || true; master=
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  if echo "$out" | grep -q 'Non-2xx'; then echo "modules.sh: $kind $mods: non-2xx answers" >&2; echo "$out" >&2; exit 2; fi
  awk -v k="$kind" -v m="$mods" -v r="$reqs" -v s="$rps" -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%-6s %-9s %10.0f req/s %7.2f us CPU/request\n", k, m, s, t / hz / r * 1e6 }'
}

cases=${CASES:-"static:none static:nativex1 static:nativex3 static:wasmx1 static:wasmx3 proxy:none proxy:nativex1 proxy:wasmx1"}
for r in $(seq "$rounds"); do
  for c in $cases; do run "${c%%:*}" "${c#*:}" | tee -a "$dir/results"; done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "range over the rounds:"
awk '{ k = $1 " " $2; if (!(k in lo)) { order[n++] = k; lo[k] = hi[k] = $3; clo[k] = chi[k] = $5 }
       if ($3 < lo[k]) lo[k] = $3; if ($3 > hi[k]) hi[k] = $3; if ($5 < clo[k]) clo[k] = $5; if ($5 > chi[k]) chi[k] = $5 }
     END { for (i = 0; i < n; i++) { k = order[i]; printf "%-16s %8.0f-%-8.0f req/s  %5.2f-%-5.2f us CPU/request\n", k, lo[k], hi[k], clo[k], chi[k] } }' "$dir/results"
