#!/usr/bin/env bash
# Builds and runs the stand-ins' self-tests against the libraries in OUTDIR, then checks the exported signatures and
# enum values against NVIDIA's headers when they are present ($CUDA_API_HEADERS, else ../shared/ref/cuda-api/include
# beside the repository). Usage: tests/run.sh OUTDIR [CXX]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$1"
cxx="${2:-clang++-14}"
flags=(-std=c++17 -O1 -g -Wall -Wextra -Werror -I"$here")
status=0
for suite in cublas cudnn_conv cudnn_bn; do
  lib=cublas
  [[ $suite == cudnn_* ]] && lib=cudnn
  "$cxx" "${flags[@]}" -rdynamic -o "$out/test_$suite" "$here"/test_${suite}*.cpp "$here/fake_runtime.cpp" \
    -L"$out" -ladvrobust-emu-$lib -Wl,-rpath,"$out"
  "$out/test_$suite" || status=1
done
# NCCL: ranks are forked processes meeting in shared memory; no fake runtime (host buffers, nothing range-checked).
"$cxx" "${flags[@]}" -o "$out/test_nccl" "$here/test_nccl.cpp" -L"$out" -ladvrobust-emu-nccl -Wl,-rpath,"$out"
"$out/test_nccl" || status=1
if [[ -f "$out/libadvrobust-emu-cuda.so" ]]; then
  "$cxx" "${flags[@]}" -o "$out/test_runtime_hooks" "$here/runtime_hooks.cpp" -ldl
  "$out/test_runtime_hooks" "$out" || status=1
else
  echo "runtime_hooks: SKIPPED (no libadvrobust-emu-cuda.so in $out; src/AdvRobust.Emulator/build.sh builds it)"
fi
"$here/check_headers.sh" "$cxx" || status=1
exit $status
