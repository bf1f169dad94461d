#!/usr/bin/env bash
# The fault run of issue 11: a master with two workers under steady mixed
# load (keep-alive and one-request connections to static files, proxied
# downloads and uploads, WebSocket sessions, responses their backend cuts
# short) while a reload comes every 2 s, a worker is killed with SIGKILL
# at 30% and 70% of the run and a backend restarts at 50%. It prints
# requests sent, completed and failed by kind, the failures blamed on each
# fault, and the master's and workers' RSS and open descriptors before
# and after; it fails on any failure no fault explains, or when the master
# holds more descriptors after than before. The run itself is
# TestFaultRun in proc/faultrun_test.go.
#
# Usage: scripts/faultrun.sh [DURATION]   (default 60s; CI runs 10s)
#        NPROXY_TEST_BACKEND=epoll scripts/faultrun.sh 30s
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-60s}
echo "== fault run: $duration (backend: ${NPROXY_TEST_BACKEND:-auto})"
NPROXY_FAULT_RUN=$duration go test -count=1 -timeout 30m -run '^TestFaultRun$' -v ./proc |
  grep -v -e '^=== RUN' -e 'closed the connection mid-response'
