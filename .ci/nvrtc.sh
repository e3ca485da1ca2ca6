#!/usr/bin/env bash
# NVIDIA's runtime compiler without a GPU: installs NVRTC 11.8 from Debian's non-free component (libnvrtc11.2 and
# libnvrtc-builtins11.8, about 17 MB), first adding `contrib non-free` to the apt sources where they are missing.
# Does nothing when an NVRTC the engine can load (libnvrtc.so.13, .12 or .11.2; NativeLibraries.cs) is installed.
# Used by .ci/run and `build.ps1 kernels`. Needs root and apt-get; exits non-zero when NVRTC is still missing.
#
#   .ci/nvrtc.sh                      install if needed
#   .ci/nvrtc.sh --enable-only FILE   only add contrib non-free to FILE (deb822 *.sources or one-line sources.list)
set -euo pipefail

# Adds contrib and non-free to every deb822 "Components:" line and every one-line "deb"/"deb-src" entry that lacks
# them, keeping what is there ("main non-free-firmware" becomes "main non-free-firmware contrib non-free").
enable_components() {
  local file=$1 tmp
  tmp=$(mktemp)
  awk '
    function add(line, first,   i, n, w, c, nf) {
      n = split(line, w, /[ \t]+/); c = 0; nf = 0
      for (i = first; i <= n; i++) { if (w[i] == "contrib") c = 1; if (w[i] == "non-free") nf = 1 }
      sub(/[ \t]+$/, "", line)
      if (!c) line = line " contrib"
      if (!nf) line = line " non-free"
      return line
    }
    /^Components:/ { print add($0, 2); next }
    /^deb(-src)?[ \t]/ && $0 !~ /^deb(-src)?[ \t]+cdrom:/ { print add($0, 4); next }
    { print }
  ' "$file" >"$tmp"
  if cmp -s "$file" "$tmp"; then rm -f "$tmp"; return 1; fi
  cat "$tmp" >"$file" && rm -f "$tmp"
}

if [ "${1:-}" = "--enable-only" ]; then
  enable_components "$2" || true
  exit 0
fi

if ldconfig -p 2>/dev/null | grep -qE 'libnvrtc\.so\.(13|12|11\.2) '; then
  echo "NVRTC: $(ldconfig -p | grep -oE 'libnvrtc\.so\.(13|12|11\.2) ' | head -n 1)already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "NVRTC is missing and this is not a root Debian shell: install libnvrtc11.2 and libnvrtc-builtins11.8" \
       "(Debian non-free) or NVIDIA's cuda-nvrtc package" >&2
  exit 1
fi
changed=0
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
  [ -f "$f" ] || continue
  if enable_components "$f"; then echo "apt: added contrib non-free to $f"; changed=1; fi
done
echo "installing NVRTC 11.8 (libnvrtc11.2 libnvrtc-builtins11.8 from Debian non-free)"
if [ "$changed" = 1 ] || ! apt-cache show libnvrtc11.2 >/dev/null 2>&1; then apt-get update -qq >/dev/null; fi
apt-get install -y -qq --no-install-recommends libnvrtc11.2 libnvrtc-builtins11.8 >/dev/null
ldconfig -p | grep -qE 'libnvrtc\.so\.11\.2 ' || { echo "NVRTC install finished but libnvrtc.so.11.2 is not found" >&2; exit 1; }
echo "NVRTC 11.8 installed"
