#!/usr/bin/env bash
# device-pack.sh: prepare .device-pack/ so that a GPU machine with CUDA but no Go and no network
# can build and test this project. It packs a trimmed copy of this machine's Go toolchain and
# the module's dependencies (go mod vendor), and writes .device-pack/with-go, which runs a
# command there with that Go and the vendored modules:
#   here:   make device-pack            (again whenever go.mod or go.sum change)
#   there:  bash .device-pack/with-go make gpu-check
# .device-pack/ is ignored by git.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
cd "$root"
pack="$root/.device-pack"
mkdir -p "$pack"
goroot=$(go env GOROOT)
gover=$(go env GOVERSION)
if [ ! -f "$pack/go.tar.xz" ] || [ "$(cat "$pack/go.version" 2>/dev/null)" != "$gover" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/go/pkg/tool/linux_amd64"
  cp -r "$goroot/bin" "$goroot/VERSION" "$goroot/go.env" "$tmp/go/"
  # The tools a build and a test need; the rest of pkg/tool stays behind.
  for t in compile link asm cgo vet buildid; do
    [ -f "$goroot/pkg/tool/linux_amd64/$t" ] && cp "$goroot/pkg/tool/linux_amd64/$t" "$tmp/go/pkg/tool/linux_amd64/"
  done
  cp -r "$goroot/pkg/include" "$tmp/go/pkg/"
  (cd "$goroot" && tar cf - --exclude=testdata --exclude='*_test.go' src) | (cd "$tmp/go" && tar xf -)
  (cd "$tmp" && tar cf - go | xz -T0 -6 > "$pack/go.tar.xz")
  echo "$gover" > "$pack/go.version"
  rm -rf "$tmp"
  trap - EXIT
fi
tmp=$(mktemp -d)
go mod vendor -o "$tmp/vendor"
(cd "$tmp" && tar cf - vendor | xz -T0 -6 > "$pack/vendor.tar.xz")
rm -rf "$tmp"
cat > "$pack/with-go" <<'INNER'
#!/usr/bin/env bash
# Runs "$@" in the project root with the packed Go toolchain and vendored modules.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
if [ ! -x /tmp/device-go/go/bin/go ]; then mkdir -p /tmp/device-go && tar xJf "$here/go.tar.xz" -C /tmp/device-go; fi
if [ ! -f "$root/vendor/modules.txt" ] || [ "$here/vendor.tar.xz" -nt "$root/vendor/modules.txt" ]; then
  rm -rf "$root/vendor" && tar xJf "$here/vendor.tar.xz" -C "$root" && touch "$root/vendor/modules.txt"
fi
export GOROOT=/tmp/device-go/go PATH=/tmp/device-go/go/bin:/usr/local/cuda/bin:$PATH
export GOFLAGS=-mod=vendor GOTOOLCHAIN=local GOPROXY=off GOCACHE=${GOCACHE:-/tmp/device-gocache}
cd "$root"
exec "$@"
INNER
chmod +x "$pack/with-go"
du -sh "$pack"/*
