#!/usr/bin/env bash
# Open MPI for the multi-rank tests (issue 15): openmpi-bin (mpirun) and libopenmpi3 (libmpi.so.40, which the engine
# loads through its own bindings) from Debian main. Does nothing when both are there. Then one bounded 2-rank launch
# on loopback, so a container that cannot run mpirun is named here rather than in a test timeout.
# Used by .ci/run. Needs root and apt-get to install; exits non-zero when Open MPI is still missing or cannot launch.
set -euo pipefail

have() { command -v mpirun >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libmpi\.so\.40 '; }

if have; then
  echo "Open MPI: $(mpirun --version 2>/dev/null | head -n 1) already installed"
else
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    echo "Open MPI is missing and this is not a root Debian shell: install openmpi-bin and libopenmpi3" >&2
    exit 1
  fi
  echo "installing Open MPI (openmpi-bin libopenmpi3 from Debian main)"
  if ! apt-cache show openmpi-bin >/dev/null 2>&1; then apt-get update -qq >/dev/null; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openmpi-bin libopenmpi3 >/dev/null
  have || { echo "Open MPI install finished but mpirun or libmpi.so.40 is not found" >&2; exit 1; }
  echo "Open MPI: $(mpirun --version 2>/dev/null | head -n 1) installed"
fi

# The launch MpiRunTests and the README use: 2 ranks on any core count, as root, shared memory, loopback only.
if timeout 60 mpirun --oversubscribe --allow-run-as-root -n 2 --mca btl self,vader \
     --mca btl_vader_single_copy_mechanism none --mca oob_tcp_if_include lo true; then
  echo "Open MPI: a 2-rank launch on loopback works"
else
  echo "Open MPI: a 2-rank launch failed or took over 60 s (exit $?)" >&2
  exit 1
fi
