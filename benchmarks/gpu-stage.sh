#!/usr/bin/env bash
# Packs what a GPU machine without .NET needs to run our programs into the git-ignored folder .gpu/ (called by
# `build.ps1 gpu-check`): .gpu/dotnet-rt.tar.xz, the .NET runtime of this machine (~25 MB, packed once), and
# .gpu/activate.sh, which unpacks it on the GPU machine and puts it and NVIDIA's libraries on the paths.
# Our own copy of the steps of ../shared/gpu/stage.sh, without its dependence on a .git/info folder (a CI checkout
# may have none, and the clone's .gitignore already ignores /.gpu/) or on shared/ being beside the clone.
#
#   bash benchmarks/gpu-stage.sh            run from the project's root
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p .gpu
dotnet_path=$(command -v dotnet) || { echo "gpu-stage: no dotnet on PATH" >&2; exit 1; }
dn=$(dirname "$(readlink -f "$dotnet_path")")
for part in dotnet host shared/Microsoft.NETCore.App; do
  [ -e "$dn/$part" ] || { echo "gpu-stage: $dn/$part is missing: cannot pack the .NET runtime" >&2; exit 1; }
done
if [ ! -s .gpu/dotnet-rt.tar.xz ]; then
  echo "packing the .NET runtime from $dn ..."
  tar -C "$dn" -cf - dotnet host shared/Microsoft.NETCore.App | xz -6 -T2 > .gpu/dotnet-rt.tar.xz.tmp
  mv .gpu/dotnet-rt.tar.xz.tmp .gpu/dotnet-rt.tar.xz
fi
cat > .gpu/activate.sh <<'ACT'
# source me on the GPU machine: puts the carried .NET runtime on PATH and NVIDIA's libraries on the loader path
if [ ! -x /tmp/dotnet/dotnet ]; then mkdir -p /tmp/dotnet && tar -C /tmp/dotnet -xJf "$(dirname "${BASH_SOURCE[0]}")/dotnet-rt.tar.xz"; fi
export DOTNET_ROOT=/tmp/dotnet PATH=/tmp/dotnet:$PATH DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
ACT
du -sh .gpu
