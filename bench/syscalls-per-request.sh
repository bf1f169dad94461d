#!/usr/bin/env bash
# syscalls-per-request.sh: the system calls one nproxy worker makes per
# request under wrk, counted by perf's syscall tracepoints while wrk runs.
#
#   bench/syscalls-per-request.sh NPROXY_BIN BACKEND [CONNS]
#
# Static 1 KiB file, one worker pinned to CPU 0, wrk -t1 on CPU 1 for 4 s
# after a 1 s warm-up; CHURN=1 sends Connection: close (a new connection
# per request). Needs perf (linux-perf) and root or perf_event_paranoid <= 1.
set -euo pipefail
bin=$(readlink -f "${1:?nproxy binary}"); backend=${2:?epoll|io_uring}; conns=${3:-64}
wx=(); [ -n "${CHURN:-}" ] && wx=(-H "Connection: close")
dir=$(mktemp -d /tmp/nproxy-sc.XXXXXX); mkdir -p "$dir/www"; chmod 755 "$dir" "$dir/www"
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 > "$dir/www/index.html"; chmod 644 "$dir/www/"*
p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'worker_processes = 1\nerror_log = %s/np.log\nworker_connections = 20000\n\n[server]\nlisten = 127.0.0.1:%s\nstatic_root = %s/www\n' "$dir" "$p" "$dir" > "$dir/np.ini"
taskset -c 0 "$bin" -c "$dir/np.ini" --backend "$backend" > "$dir/np.out" 2>&1 & m=$!
trap 'kill $m 2>/dev/null || true; sleep 0.3; rm -rf "$dir"' EXIT
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
w=$(pgrep -P $m | head -1)
url=http://127.0.0.1:$p/index.html
taskset -c 1 wrk -t1 -c"$conns" -d1s "${wx[@]}" "$url" > /dev/null
ev=nanosleep,futex,io_uring_enter,epoll_pwait,read,write,getsockopt,setsockopt,tgkill,accept4,close,epoll_ctl,shutdown,sendto,sendfile64,openat,newfstat,newfstatat,statx,mmap,munmap,madvise
perf stat -x, -e "$(echo $ev | sed 's/\([a-z_0-9]*\)/syscalls:sys_enter_\1/g')" -p "$w" -o "$dir/stat" -- \
  taskset -c 1 wrk -t1 -c"$conns" -d4s "${wx[@]}" "$url" > "$dir/wrk" 2>&1
n=$(awk '/requests in/ {print $1}' "$dir/wrk")
echo "$backend: $(awk '/Requests\/sec/ {print $2}' "$dir/wrk") req/s, $n requests; system calls per request:"
grep syscalls "$dir/stat" | awk -F, -v n="$n" '$1+0 > 0 {split($3, a, ":"); printf "  %-14s %8.4f\n", substr(a[2], 11), $1/n}'
