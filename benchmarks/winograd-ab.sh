#!/usr/bin/env bash
# Winograd F(2x2,3x3) against im2col on the CPU's ResNet-18 rows (issue 14): ResNetGradientBenchmarks (eval forward +
# input gradient, B = 8 and 32) run by BenchmarkDotNet in-process as `build.ps1 bench --peer` runs them (1 warm-up +
# 5 iterations, median), with ADVROBUST_CPU_WINOGRAD=0 and =1 alternated for ROUNDS rounds. Prints one line per run.
# Usage: bash benchmarks/winograd-ab.sh [ROUNDS]   (after `dotnet build AdvRobust.Native.sln -c Release`; idle machine)
set -euo pipefail
rounds=${1:-3}
cd "$(dirname "$0")/.."
dll=benchmarks/AdvRobust.Benchmarks/bin/Release/net10.0/AdvRobust.Benchmarks.dll
[ -f "$dll" ] || { echo "winograd-ab: $dll is missing; run: dotnet build AdvRobust.Native.sln -c Release" >&2; exit 2; }
out=$(mktemp -d)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git rev-parse --short HEAD); $(date -u +%Y-%m-%dT%H:%MZ)"
for r in $(seq 1 "$rounds"); do
  for w in 0 1; do
    ADVROBUST_CPU_WINOGRAD=$w dotnet "$dll" --peer-round --filter "*ResNetGradient*" --launchCount 1 --warmupCount 1 \
      --iterationCount 5 --artifacts "$out/$r-$w" > "$out/$r-$w.log" 2>&1 \
      || { echo "winograd-ab: round $r (ADVROBUST_CPU_WINOGRAD=$w) failed; log: $out/$r-$w.log" >&2; exit 1; }
    echo "round $r winograd=$w: $(grep -E '^\| ForwardInputGradient' "$out/$r-$w.log" | awk -F'|' '{print $3, $5}' | tr -s ' ' | tr '\n' ';')"
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg); logs in $out"
