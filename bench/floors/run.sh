#!/usr/bin/env bash
# run.sh: the io_uring levers of issue 12 measured on the floors (minimal C
# responders that parse nothing), so that what the kernel offers a lever is
# known before nproxy pays for it. Builds every variant of uring_levers.c
# and epoll_churn.c, then runs bench/ab-builds.sh (alternated rounds, CPU per
# request of one process pinned to CPU 0, wrk -t1 on CPU 1):
#
#   bench/floors/run.sh [ROUNDS] [SECONDS] [NPROXY_BIN]
#
# keep-alive (64 connections): floor_uring.c as is, then FIXED, FIXED+REGFD,
# COOP, NOSKIP, and floor.c (epoll); churn (Connection: close): the
# io_uring floor, FIXED+REGFD, the epoll floor. With NPROXY_BIN, nproxy on
# both backends joins each set. Needs cc and liburing-dev.
set -euo pipefail
ulimit -n 20000 2>/dev/null || true # FIXED registers a 16,384-slot file table
here=$(dirname "$(readlink -f "$0")"); rounds=${1:-7}; secs=${2:-4}; np=${3:-}
out=$(mktemp -d /tmp/nproxy-floors.XXXXXX); trap 'rm -rf "$out"' EXIT
u() { cc -O2 "${@:2}" -o "$out/$1" "$here/uring_levers.c" -luring; }
u base; u fixed -DFIXED; u fixedreg -DFIXED -DREGFD; u coop -DCOOP; u noskip -DNOSKIP
u churn -DCHURN; u churn_fixed -DCHURN -DFIXED -DREGFD
cc -O2 -o "$out/epoll" "$here/epoll_churn.c"; cc -O2 -DCHURN -o "$out/epoll_churn" "$here/epoll_churn.c"
npk=(); [ -n "$np" ] && npk=("np_uring=$np:io_uring" "np_epoll=$np:epoll")
echo "== keep-alive, 64 connections"
"$here/../ab-builds.sh" static "$rounds" "$secs" base=@"$out/base" fixed=@"$out/fixed" fixedreg=@"$out/fixedreg" \
  coop=@"$out/coop" noskip=@"$out/noskip" epoll=@"$out/epoll" "${npk[@]}"
echo "== churn (Connection: close)"
"$here/../ab-builds.sh" churn "$rounds" "$secs" uring=@"$out/churn" fixed=@"$out/churn_fixed" epoll=@"$out/epoll_churn" "${npk[@]}"
