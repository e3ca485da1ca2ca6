#!/usr/bin/env bash
# Compiles every stand-in source against NVIDIA's own cuBLAS/cuDNN headers (-DEMU_NVIDIA_HEADERS): each exported
# definition must then match NVIDIA's prototype, and every enum value and the perf struct layout are static_assert-ed
# equal to the header's. The headers' CUDA-runtime prerequisites that are not shipped with them are replaced by the
# few declarations in tests/header_shims/. Skipped, saying so, when the headers are absent.
# Headers: $CUDA_API_HEADERS, else ../shared/ref/cuda-api/include beside the repository.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cxx="${1:-clang++-14}"
repo="$(cd "$here/../../../.." && pwd)"
headers="${CUDA_API_HEADERS:-$repo/../shared/ref/cuda-api/include}"
if [[ ! -f "$headers/cublas_api.h" || ! -f "$headers/cudnn.h" ]]; then
  echo "check_headers: SKIPPED (no NVIDIA headers at $headers; set CUDA_API_HEADERS)"
  exit 0
fi
for src in "$here"/../cublas_emu.cpp "$here"/../cudnn_*.cpp; do
  "$cxx" -std=c++17 -fsyntax-only -Wall -Wextra -Werror -Wno-deprecated-declarations -Wno-switch \
    -DEMU_NVIDIA_HEADERS -I"$here/.." -I"$here/header_shims" -I"$headers" "$src"
done
echo "check_headers: every export and enum value matches NVIDIA's headers in $headers"
