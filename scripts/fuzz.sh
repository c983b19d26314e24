#!/usr/bin/env bash
# Runs every fuzz target for a while (default 30s each): bash scripts/fuzz.sh [DURATION]
# A failing input is saved under the package's testdata/fuzz and then runs
# as a regression case with every go test.
set -euo pipefail
cd "$(dirname "$0")/.."
time="${1:-30s}"
for target in FuzzLike:. FuzzParseTimestamp:./sqlite FuzzFilter:./sqlite FuzzMetadataRoundTrip:./sqlite FuzzStreamIDAndType:./sqlite; do
  name="${target%%:*}" pkg="${target#*:}"
  echo "== $name ($pkg, $time)"
  go test "$pkg" -run '^$' -fuzz "^${name}\$" -fuzztime "$time"
done
