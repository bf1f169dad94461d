#!/usr/bin/env bash
# Runs every native fuzz target of the module for a short time each, so
# that bad input that crashes or hangs a parser is found in CI, not in
# production (issue 11). The seeds under each package's testdata/fuzz/ run
# first; a crasher found is written there and fails the run.
#
# Usage: scripts/fuzz.sh [FUZZTIME]   (default 5s per target)
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-5s}

# Every func FuzzX(f *testing.F) in a _test.go file, found anew each run so
# that a new target cannot be forgotten.
mapfile -t files < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' . | grep -v '/testdata/' | sort)
count=0
for file in "${files[@]}"; do
  pkg=./$(dirname "${file#./}")
  for name in $(grep -oE '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]*).*/\1/'); do
    echo "== fuzz $pkg $name ($fuzztime)"
    go test -run "^${name}\$" -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"
    count=$((count + 1))
  done
done
if [ "$count" -eq 0 ]; then
  echo "fuzz.sh: no fuzz target found" >&2
  exit 1
fi
echo "== fuzz: $count targets, $fuzztime each: ok"
