#!/usr/bin/env bash
# 1 process against `mpirun -n 2` on this machine: small-CNN PGD-AT (configs/fashion-mnist-pgd-at.json, PGD-8) on a
# Fashion-MNIST subset, one epoch, alternated for R rounds; prints each run's training img/s (metrics.jsonl's
# imagesPerSecond, the epoch's training images over its training seconds) and the medians. Not run by CI.
#   bash benchmarks/mpi-throughput.sh [rounds=3] [trainSize=1280] [batchSize=128]
# Needs the CLI built (dotnet build -c Release), Open MPI (.ci/openmpi.sh) and Debian's dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3} n=${2:-1280} b=${3:-128}
cli=src/AdvRobust.Cli/bin/Release/net10.0/advrobust.dll
[ -f "$cli" ] || { echo "build the CLI first: dotnet build AdvRobust.Native.sln -c Release" >&2; exit 1; }
command -v mpirun > /dev/null || { echo "mpirun is missing: bash .ci/openmpi.sh" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
sets=(--set epochs=1 --set "data.trainSize=$n" --set data.evalSize=100 --set "batchSize=$b" --set evaluation.steps=1
      --set optimizer.schedule.kind=constant)
mpi=(mpirun -n 2 --oversubscribe --allow-run-as-root --bind-to core --mca btl self,vader
     --mca btl_vader_single_copy_mechanism none --mca oob_tcp_if_include lo)
rate() { python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])][-1]; print("%.1f" % r["imagesPerSecond"])' "$1/metrics.jsonl"; }
one=() two=()
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%F\ %H:%MZ); trainSize $n, batch $b, PGD-8 AT"
for r in $(seq 1 "$rounds"); do
  for side in one two; do
    if [ $(( r % 2 )) -eq 0 ]; then side=$([ "$side" = one ] && echo two || echo one); fi
    out="$work/$side-$r"
    if [ "$side" = one ]; then dotnet "$cli" train --config configs/fashion-mnist-pgd-at.json "${sets[@]}" --out "$out" > "$out.log" 2>&1
    else "${mpi[@]}" dotnet "$cli" train --config configs/fashion-mnist-pgd-at.json "${sets[@]}" --out "$out" > "$out.log" 2>&1; fi
    v=$(rate "$out"); echo "round $r: $([ "$side" = one ] && echo '1 process' || echo '2 ranks  ') $v img/s"
    if [ "$side" = one ]; then one+=("$v"); else two+=("$v"); fi
  done
done
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
m1=$(med "${one[@]}") m2=$(med "${two[@]}")
echo "median: 1 process $m1 img/s, 2 ranks $m2 img/s, ratio $(python3 -c "print(f'{$m2/$m1:.2f}')")×; load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
