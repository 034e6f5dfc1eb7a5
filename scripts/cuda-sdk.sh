#!/usr/bin/env bash
# cuda-sdk.sh [DEST]: install the CUDA headers, link stubs and the NVRTC runtime that building
# the cuda-tagged code needs on a machine without a GPU (or without a CUDA toolkit).
#
# It takes CUDA 11.8 from Debian's non-free component with apt-get download (the system's apt
# setup is left untouched) and unpacks it into DEST, by default
# ${CUDA_SDK:-$HOME/.cache/autoresearch/cuda-sdk}. It is idempotent: a finished DEST is kept.
#
# What DEST then holds:
#   include/     cuda.h, cublas_v2.h, nvrtc.h, cuda_bf16.h, ... (CUDA 11.8)
#   lib/stubs/   link-only libcuda.so, libcublas.so, libcublasLt.so, libnvrtc.so
#   lib/nvrtc/   the real NVRTC runtime: compiles CUDA C to PTX (sm_90 included) with no GPU
# A binary linked against the stubs cannot run GPU code; build the runnable one on the GPU
# machine against its own toolkit (make build-cuda there).
set -euo pipefail
DEST=${1:-${CUDA_SDK:-$HOME/.cache/autoresearch/cuda-sdk}}
if [ -f "$DEST/.complete" ]; then echo "cuda-sdk: $DEST is ready"; exit 0; fi

src=/etc/apt/sources.list.d/debian.sources
if [ ! -f "$src" ]; then
  echo "cuda-sdk: $src not found: this script needs a Debian machine with deb822 apt sources" >&2
  exit 1
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/parts" "$work/x"
# The machine's own Debian sources with contrib and non-free added, in a private apt state.
sed -E 's/^Components:.*/Components: main contrib non-free/' "$src" > "$work/parts/debian.sources"
opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$work/parts"
      -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache")
apt-get "${opts[@]}" -qq update 2>&1 | grep -v unsandboxed || true
(cd "$work/debs" && apt-get "${opts[@]}" -qq download nvidia-cuda-dev libnvrtc11.2 libnvrtc-builtins11.8 2>&1 | grep -v unsandboxed || true)
for p in nvidia-cuda-dev libnvrtc11.2 libnvrtc-builtins11.8; do
  if ! ls "$work/debs/${p}_"*.deb >/dev/null 2>&1; then
    echo "cuda-sdk: could not download the Debian package $p (is the package mirror reachable?)" >&2
    exit 1
  fi
done
for d in "$work"/debs/*.deb; do dpkg-deb -x "$d" "$work/x"; done

# Assemble in a temporary folder beside DEST, then rename: an interrupted run leaves no half SDK.
mkdir -p "$(dirname "$DEST")"
tmp=$(mktemp -d "$DEST.tmp.XXXXXX")
mkdir -p "$tmp/lib/stubs" "$tmp/lib/nvrtc"
cp -r "$work/x/usr/include" "$tmp/include"
lib="$work/x/usr/lib/x86_64-linux-gnu"
cp "$lib/stubs/"{libcuda.so,libcublas.so,libcublasLt.so,libnvrtc.so} "$tmp/lib/stubs/"
cp -P "$lib/"libnvrtc*.so* "$tmp/lib/nvrtc/"
ln -sf "$(cd "$tmp/lib/nvrtc" && ls libnvrtc.so.* | head -n1)" "$tmp/lib/nvrtc/libnvrtc.so"
touch "$tmp/.complete"
rm -rf "$DEST"
mv "$tmp" "$DEST"
echo "cuda-sdk: ready at $DEST ($(du -sh "$DEST" | cut -f1); CUDA 11.8 headers, link stubs, NVRTC)"
