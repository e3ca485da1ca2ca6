#!/usr/bin/env bash
# gpu-check.sh — the one prepared check for the day a GPU is lent (issue 12 §4). It runs on the GPU machine, which has
# NVIDIA's stack but no .NET SDK, from the project root with .gpu/ carried (made by `dotnet pwsh ./build.ps1
# gpu-check`), inside 8 minutes of device time:
#
#   1. doctor       `advrobust doctor --json`: driver, NVRTC, cuBLAS, cuDNN, how kernels load
#   2. gpu-tests    every test of category Gpu (each GPU op against its CPU twin), TRX report
#   3. bench        our kernel and model cases (event-timed medians, `AdvRobust.Benchmarks --smoke --device cuda`)
#                   alternated with the PyTorch peer (../shared/bench/torch_peer_gpu.py), ROUNDS times each
#   4. train        one short PGD-AT and one short TLA run on Fashion-MNIST (img/s from the run folders)
#
# and writes everything under $OUT (the device tool brings it back): gpu-check.md (the summary to paste into
# benchmarks/RESULTS.md), steps.tsv, and each step's log. Every step has a time limit and the whole check a deadline,
# so a hung step costs its limit, not the lease; a step that fails is recorded and the next one still runs.
#
#   bash benchmarks/gpu-check.sh              on the GPU machine (device tool: carry [".gpu"])
#   bash benchmarks/gpu-check.sh --rehearse   here, against the CUDA emulator, small: what CI runs so that nothing in
#                                             this script can fail on the day (build.ps1 gpu-check --rehearse)
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mode=gpu
[ "${1:-}" = "--rehearse" ] && mode=rehearse
gpu="$root/.gpu"
out="${OUT:-$root/artifacts/gpu-check}"
mkdir -p "$out"
start=$(date +%s)
budget=${GPU_CHECK_BUDGET_S:-450}          # the whole check; the lease is 15 minutes with a start of a few
rounds=${GPU_CHECK_ROUNDS:-3}
steps="$out/steps.tsv"
printf 'step\tstatus\tseconds\tnote\n' > "$steps"

die() { echo "gpu-check: $*" >&2; printf 'setup\tfailed\t0\t%s\n' "$*" >> "$steps"; exit 2; }
[ -f "$gpu/app.tar.xz" ] || die "$gpu/app.tar.xz is missing: run \`dotnet pwsh ./build.ps1 gpu-check\` here first"
[ -f "$gpu/activate.sh" ] || die "$gpu/activate.sh is missing: run \`dotnet pwsh ./build.ps1 gpu-check\` here first"
# shellcheck source=/dev/null
source "$gpu/activate.sh"
app=$(mktemp -d /tmp/advrobust-app.XXXXXX)
tar -C "$app" -xJf "$gpu/app.tar.xz" || die "could not unpack $gpu/app.tar.xz"
data="$gpu/data/fashion-mnist"
dotnet --list-runtimes > "$out/dotnet.txt" 2>&1 || die "the carried .NET runtime does not start (see $out/dotnet.txt)"

if [ "$mode" = rehearse ]; then
  # Small everything, on the emulator where it is built (src/AdvRobust.Emulator); the peer needs PyTorch with CUDA.
  export ADVROBUST_CUDA=emulator
  export ADVROBUST_EMULATOR_DIR="${ADVROBUST_EMULATOR_DIR:-$root/src/AdvRobust.Emulator/build}"
  test_filter="TestCategory=Gpu&FullyQualifiedName~Parity.Elementwise"
  smoke_only="PgdStep,Distance"
  train_sets=(--set data.trainSize=100 --set data.evalSize=20 --set batchSize=50 --set evaluation.steps=1)
  budget=${GPU_CHECK_BUDGET_S:-900}
  rounds=${GPU_CHECK_ROUNDS:-1}
else
  test_filter="TestCategory=Gpu"
  smoke_only=""
  train_sets=(--set data.trainSize=20000 --set data.evalSize=1000)
fi

# step NAME LIMIT_S COMMAND...: runs with a time limit (never past the deadline), logs to $out/NAME.log.
step() {
  local name=$1 limit=$2; shift 2
  local left=$(( start + budget - $(date +%s) ))
  if [ "$left" -le 5 ]; then printf '%s\tskipped\t0\tdeadline reached\n' "$name" >> "$steps"; return 1; fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "== $name (limit ${limit}s)"
  local t0; t0=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$? secs=$(( $(date +%s) - t0 )) status=ok note=""
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then status=timeout; note="killed after ${limit}s";
  elif [ $rc -ne 0 ]; then status=failed; note="exit $rc"; fi
  printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$secs" "$note" >> "$steps"
  tail -n 3 "$out/$name.log"
  return $rc
}

step doctor 60 dotnet "$app/advrobust.dll" doctor --json
cp "$out/doctor.log" "$out/doctor.json" 2>/dev/null
cuda_ok=0
tr -d ' \n' < "$out/doctor.json" 2>/dev/null | grep -q '"Component":"CUDAbackend","Ok":true' && cuda_ok=1
dotnet "$app/advrobust.dll" eval --help > /dev/null 2>&1 || die "advrobust does not start"
if [ "$mode" = rehearse ] && [ $cuda_ok = 0 ]; then
  # Without the emulator built there is no CUDA here: say so for each CUDA step instead of failing it. On the GPU
  # machine the steps always run, so a broken stack shows up as failed steps with their logs.
  skip_cuda() { printf '%s\tskipped\t0\tno CUDA backend here (doctor.json); build the emulator first\n' "$1" >> "$steps"; }
else
  skip_cuda() { return 1; }
fi

skip_cuda gpu-tests || step gpu-tests 240 dotnet "$app/AdvRobust.Tests.dll" --filter "$test_filter" \
  --report-trx --report-trx-filename gpu-tests.trx --results-directory "$out/tests"

peer="$root/../shared/bench/torch_peer_gpu.py"
have_peer=0
if [ -f "$peer" ] && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  have_peer=1
fi
for r in $(seq 1 "$rounds"); do
  if [ $have_peer = 1 ]; then OUT="$out/peer-$r" step "peer-$r" 120 python3 "$peer"; fi
  only=(); [ -n "$smoke_only" ] && only=(--only "$smoke_only")
  skip_cuda "bench-$r" || step "bench-$r" 150 dotnet "$app/AdvRobust.Benchmarks.dll" --smoke --device cuda "${only[@]}"
done
[ $have_peer = 1 ] || printf 'peer\tskipped\t0\tno PyTorch with CUDA here (python3 -c "import torch")\n' >> "$steps"

for recipe in pgd-at tla; do
  skip_cuda "train-$recipe" || step "train-$recipe" 120 dotnet "$app/advrobust.dll" train --config "configs/fashion-mnist-$recipe.json" \
    --device cuda --data "$data" --set epochs=1 --set optimizer.schedule.kind=constant "${train_sets[@]}" \
    --out "$out/train-$recipe"
done

# The summary: what ran, where, and the figures, in one file.
{
  echo "# GPU check $(date -u +%Y-%m-%dT%H:%MZ) ($mode)"
  echo
  echo "- commit: $(cat "$app/COMMIT" 2>/dev/null || echo unknown)"
  echo "- device: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi (ADVROBUST_CUDA=${ADVROBUST_CUDA:-unset})")"
  echo "- CUDA usable per doctor: $([ $cuda_ok = 1 ] && echo yes || echo no)"
  echo
  echo "| step | status | seconds | note |"
  echo "|---|---|---:|---|"
  tail -n +2 "$steps" | awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }'
  echo
  trx=$(find "$out/tests" -name '*.trx' 2>/dev/null | head -n 1)
  if [ -n "$trx" ]; then
    echo "Gpu tests: $(grep -o '<Counters [^>]*>' "$trx" | head -n 1 | sed 's/<Counters //; s/ *\/*>$//')"
    echo
  fi
  for f in "$out"/bench-*.log; do
    [ -f "$f" ] || continue
    echo "## $(basename "$f" .log)"; echo; echo '```'; grep -v '^$' "$f" | tail -n 60; echo '```'; echo
  done
  for f in "$out"/peer-*/anchors_torch.json; do
    [ -f "$f" ] || continue
    echo "## $(basename "$(dirname "$f")") (PyTorch)"; echo; echo '```json'; cat "$f"; echo; echo '```'; echo
  done
  for recipe in pgd-at tla; do
    m="$out/train-$recipe/metrics.jsonl"
    [ -f "$m" ] || continue
    echo "## train-$recipe"; echo; echo '```'; tail -n 2 "$m"; echo '```'; echo
  done
} > "$out/gpu-check.md"
rm -rf "$app"
echo "gpu-check: wrote $out/gpu-check.md"
column -t -s $'\t' "$steps" 2>/dev/null || cat "$steps"
# Exit status: 0 when every step that ran succeeded (skips are not failures; a rehearsal without the emulator skips
# nothing silently: its CUDA steps fail and say why in their logs).
if grep -qP '\t(failed|timeout)\t' "$steps"; then exit 1; fi
exit 0
