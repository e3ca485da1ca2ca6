#!/usr/bin/env bash
# CPU throughput before/after, side by side with PyTorch, in one run (issue 13).
# For the working tree against PyTorch on all of issue 14's rows, use `build.ps1 bench --peer` instead; this script
# stays for comparing two commits (a before/after of one change) on the small CNN.
#
#   benchmarks/cpu-compare.sh [BEFORE]     BEFORE: a commit (default beb4ade, the last commit before issue 13's work)
#   env: ROUNDS (default 3), REPS timed calls per workload and round (default 2), BATCH (default 256),
#        PEER (default ../shared/bench/torch_peer_cpu.py next to the repository), PYTHON (default /usr/bin/python3)
#
# Builds benchmarks/CpuSteps (the Madry small CNN on 1×28×28 Fashion-MNIST shapes: a PGD-10 l-inf attack and a PGD-10
# adversarial-training step, the workloads of the PyTorch peer) twice: against BEFORE, checked out in a temporary git
# worktree (the current CpuSteps source is copied in, so both sides run the same timer over their own engine), and
# against the current working tree ("after", uncommitted changes included). Then ROUNDS rounds each run before, after
# and the PyTorch peer in a rotated order, and the script prints a markdown table of the medians (img/s) with the
# ratios after/before and after/PyTorch, the machine, the date and the commits. On a loaded machine the figures are
# noisy; the rotation and the medians only reduce that. A round costs about 2 minutes of CPU time (one to two minutes
# on two idle cores), plus the two builds once.
# PyTorch comes from Debian's python3-torch (+ libopenblas0-pthread, else it falls back to reference BLAS); where it
# is missing the script installs it when it can (root with apt-get) and otherwise leaves its column empty, saying why.
set -euo pipefail
# The whole script is one compound command, so bash parses it before running it and an edit during a run cannot
# derail it (bash reads a script file as it goes).
{

root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
before=${1:-beb4ade}
rounds=${ROUNDS:-3}
reps=${REPS:-2}
batch=${BATCH:-256}
peer=${PEER:-$root/../shared/bench/torch_peer_cpu.py}
python=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/cpu-compare.XXXXXX")

cleanup() {
    git -C "$root" worktree remove --force "$work/before" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

say() { echo "cpu-compare: $*" >&2; }

before_commit=$(git -C "$root" rev-parse --short "$before^{commit}") || { say "no commit '$before'"; exit 1; }
after_commit=$(git -C "$root" rev-parse --short HEAD)
[ -z "$(git -C "$root" status --porcelain --untracked-files=no)" ] || after_commit="$after_commit+changes"

# ---- PyTorch ----
torch_note=""
if ! "$python" -c 'import torch' >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "PyTorch is missing: installing Debian's python3-torch and libopenblas0-pthread"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            -o DPkg::Lock::Timeout=600 python3-torch libopenblas0-pthread; } >"$work/apt.log" 2>&1 ||
            { say "the install failed:"; tail -5 "$work/apt.log" >&2; }
    fi
    "$python" -c 'import torch' >/dev/null 2>&1 ||
        torch_note="PyTorch not measured: $python cannot import torch
(sudo apt-get install python3-torch libopenblas0-pthread)"
fi
[ -f "$peer" ] || torch_note="PyTorch not measured: no peer script at $peer"
torch_version=$([ -z "$torch_note" ] && "$python" -c 'import torch; print(torch.__version__)' || echo "-")

# ---- build both sides ----
say "building before ($before_commit) in a temporary worktree and after ($after_commit)"
git -C "$root" worktree prune
git -C "$root" worktree add --detach -q "$work/before" "$before_commit"
rm -rf "$work/before/benchmarks/CpuSteps"
mkdir -p "$work/before/benchmarks/CpuSteps"
cp "$root"/benchmarks/CpuSteps/{CpuSteps.csproj,Program.cs} "$work/before/benchmarks/CpuSteps/"
for side in before after; do
    src=$([ "$side" = before ] && echo "$work/before" || echo "$root")
    if ! dotnet build "$src/benchmarks/CpuSteps" -c Release -nologo -v:quiet -o "$work/bin-$side" \
        >"$work/build-$side.log" 2>&1; then
        say "the $side build failed:"; tail -20 "$work/build-$side.log" >&2; exit 1
    fi
done

# ---- rounds ----
run_ours() {  # side → "attack at"
    local out
    out=$(dotnet "$work/bin-$1/CpuSteps.dll" --reps "$reps" --batch "$batch" 2>&1) ||
        { say "the $1 run failed: $(tail -1 <<<"$out")"; echo "- -"; return; }
    local attack at
    attack=$(sed -n 's/^attack_img_s=//p' <<<"$out")
    at=$(sed -n 's/^at_img_s=//p' <<<"$out")
    echo "${attack:--} ${at:--}"
}
run_torch() {
    local out
    out=$("$python" "$peer" 2>&1) || { say "the PyTorch peer failed: $(tail -1 <<<"$out")"; echo "- -"; return; }
    local attack at
    attack=$(sed -n 's/^PGD-10 attack.*: \([0-9.]*\) img\/s$/\1/p' <<<"$out")
    at=$(sed -n 's/^PGD-10 AT step.*: \([0-9.]*\) img\/s$/\1/p' <<<"$out")
    echo "${attack:--} ${at:--}"
}
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
clock_start=$(date +%s)
: >"$work/results"
sides=(before after torch)
for ((r = 0; r < rounds; r++)); do
    for ((k = 0; k < 3; k++)); do
        side=${sides[$(((r + k) % 3))]}
        if [ "$side" = torch ]; then
            [ -n "$torch_note" ] && continue
            values=$(run_torch)
        else
            values=$(run_ours "$side")
        fi
        echo "$r $side $values" >>"$work/results"
        say "round $((r + 1))/$rounds $side: attack, AT step img/s = $values"
    done
done
seconds=$(($(date +%s) - clock_start))

# ---- table ----
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
"$python" - "$work/results" <<PY
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def median(side, col):
    v = [float(r[col]) for r in rows if r[1] == side and r[col] not in ("-", "")]
    return statistics.median(v) if v else None
def fmt(v): return f"{v:,.0f}" if v is not None else "-"
def ratio(a, b): return f"{a / b:.2f}×" if a is not None and b else "-"
print("| workload (small CNN, B=$batch, 1×28×28) | before $before_commit img/s | after $after_commit img/s "
      "| PyTorch $torch_version img/s | after / before | after / PyTorch | before / PyTorch |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, col in (("PGD-10 attack", 2), ("PGD-10 AT step", 3)):
    b, a, t = median("before", col), median("after", col), median("torch", col)
    print(f"| {name} | {fmt(b)} | {fmt(a)} | {fmt(t)} | {ratio(a, b)} | {ratio(a, t)} | {ratio(b, t)} |")
print()
print("Per round (attack, AT step img/s): " + "; ".join(f"{int(r[0]) + 1} {r[1]} {r[2]}, {r[3]}" for r in rows))
PY
echo
echo "Medians of $rounds rounds (order rotated each round), $reps timed calls per workload after one untimed call;"
echo "machine: $cpu, $(nproc) cores; load average at start $load_start, at end $(cut -d' ' -f1-3 /proc/loadavg);"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $seconds s of rounds;" \
    "before = $before_commit, after = $after_commit (the working tree)."
[ -z "$torch_note" ] || echo "$torch_note"
exit
}
