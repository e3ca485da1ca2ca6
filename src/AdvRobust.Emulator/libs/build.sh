#!/usr/bin/env bash
# Builds the emulator's cuBLAS and cuDNN stand-ins into OUTDIR:
#   libs/build.sh OUTDIR          libadvrobust-emu-cublas.so, libadvrobust-emu-cudnn.so, libadvrobust-emu-nccl.so
#   libs/build.sh --test [OUTDIR] the same, then builds and runs the self-tests (tests/*.cpp) against them, and
#                                 checks the exported signatures against NVIDIA's headers when they are present.
# Compiler: $CXX, else clang++-14, else g++. Only exported symbols are visible (-fvisibility=hidden).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
test=0
if [[ "${1:-}" == "--test" ]]; then test=1; shift; fi
out="${1:-$here/../build}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cxx="${CXX:-}"
if [[ -z "$cxx" ]]; then
  if command -v clang++-14 >/dev/null; then cxx=clang++-14; else cxx=g++; fi
fi
flags=(-std=c++17 -O2 -fPIC -Wall -Wextra -Werror -fvisibility=hidden -I"$here")
link=(-shared -Wl,--version-script="$here/exports.map" -Wl,--no-undefined -ldl -lpthread)

"$cxx" "${flags[@]}" -o "$out/libadvrobust-emu-cublas.so" -Wl,-soname,libadvrobust-emu-cublas.so \
  "$here/cublas_emu.cpp" "$here/emu_lib.cpp" "${link[@]}"
"$cxx" "${flags[@]}" -o "$out/libadvrobust-emu-cudnn.so" -Wl,-soname,libadvrobust-emu-cudnn.so \
  "$here"/cudnn_*.cpp "$here/emu_lib.cpp" "${link[@]}"
"$cxx" "${flags[@]}" -o "$out/libadvrobust-emu-nccl.so" -Wl,-soname,libadvrobust-emu-nccl.so \
  "$here/nccl_emu.cpp" "$here/emu_lib.cpp" "${link[@]}" -lrt
echo "built $out/libadvrobust-emu-cublas.so, $out/libadvrobust-emu-cudnn.so and $out/libadvrobust-emu-nccl.so ($cxx)"

if [[ $test == 1 ]]; then
  "$here/tests/run.sh" "$out" "$cxx"
fi
