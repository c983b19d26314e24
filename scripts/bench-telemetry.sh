#!/usr/bin/env bash
# Measures what otelevstore costs: bash scripts/bench-telemetry.sh [ROUNDS]
# Runs otelevstore's benchmarks ROUNDS times (default 6), each round every
# tracer in turn (none, global, sdk, none-again), so that the rounds
# interleave and the machine's drift falls on all alike, then compares
# them with benchstat (golang.org/x/perf). none against none-again is the
# A/A comparison: the noise floor the other differences are read against.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-6}"
out="$(mktemp -d)"
go test -c -o "$out/otel.test" ./otelevstore
for i in $(seq "$rounds"); do
  "$out/otel.test" -test.run '^$' -test.bench . -test.benchtime 1s >> "$out/bench.txt"
done
go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da -col /tracer "$out/bench.txt"
echo "raw results: $out/bench.txt"
