#!/usr/bin/env bash
# device-pack.sh: prepare .device-pack/ so that a GPU machine with CUDA but no Go and no network
# can build and test this project. It packs a trimmed copy of this machine's Go toolchain (the
# go command, the compiler, linker, assembler, cgo and vet, and the standard library's sources:
# what builds and tests need, not the toolchain's own sources) and the module's dependencies
# (go mod vendor), and puts scripts/with-go beside them, which runs a command there with that
# Go and the vendored modules:
#   here:   make device-pack            (again whenever go.mod or go.sum change)
#   there:  bash .device-pack/with-go make gpu-check-1
# The pack travels with the tree, so it is kept small (about 27 MB). .device-pack/ is ignored
# by git.
set -euo pipefail
for t in go git tar xz; do
	command -v "$t" >/dev/null || { echo "device-pack: $t is missing on this machine: install it first" >&2; exit 1; }
done
root=$(git rev-parse --show-toplevel)
cd "$root"
pack="$root/.device-pack"
mkdir -p "$pack"
goroot=$(go env GOROOT)
gover=$(go env GOVERSION)
goarch=$(go env GOHOSTOS)_$(go env GOHOSTARCH)
if [ ! -f "$pack/go.tar.xz" ] || [ "$(cat "$pack/go.version" 2>/dev/null)" != "$gover" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/go/bin" "$tmp/go/pkg/tool/$goarch"
	cp "$goroot/bin/go" "$tmp/go/bin/"
	cp "$goroot/VERSION" "$goroot/go.env" "$tmp/go/"
	# The tools a build and a test need (go test runs vet); the rest of pkg/tool stays behind.
	for t in compile link asm cgo vet buildid; do
		if [ -f "$goroot/pkg/tool/$goarch/$t" ]; then cp "$goroot/pkg/tool/$goarch/$t" "$tmp/go/pkg/tool/$goarch/"; fi
	done
	cp -r "$goroot/pkg/include" "$tmp/go/pkg/"
	# The standard library's sources; src/cmd (the toolchain's own, already built above) and
	# the tests and test data of both stay behind.
	(cd "$goroot" && tar cf - --exclude=testdata --exclude='*_test.go' --exclude=src/cmd src) | (cd "$tmp/go" && tar xf -)
	(cd "$tmp" && tar cf - go | xz -T0 -9 > "$pack/go.tar.xz.tmp")
	mv "$pack/go.tar.xz.tmp" "$pack/go.tar.xz"
	echo "$gover" > "$pack/go.version"
	rm -rf "$tmp"
	trap - EXIT
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go mod vendor -o "$tmp/vendor"
(cd "$tmp" && tar cf - vendor | xz -T0 -9 > "$pack/vendor.tar.xz.tmp")
mv "$pack/vendor.tar.xz.tmp" "$pack/vendor.tar.xz"
cp scripts/with-go "$pack/with-go"
chmod +x "$pack/with-go"
du -sh "$pack"/* "$pack"
