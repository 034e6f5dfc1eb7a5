#!/usr/bin/env bash
# gpu-check.sh STAGE: one stage of `make gpu-check` on an NVIDIA GPU machine, run by the
# Makefile (make gpu-check-1, -2, -3) with its CUDA environment. Each stage prints a short
# table of its steps last (result and seconds), so a stage's outcome reads from its last lines:
#   1  the card, the cgo layer against its CUDA headers (make gpu-syntax), the backend built,
#      every kernel compiled to PTX for the card's architecture, and three representative
#      parity tests (a GEMM, the elementwise kernels, attention); minutes, most of them the
#      first build
#   2  every other parity test, the whole depth-8 training step included
#   3  the depth-8 baseline trained for 60 s: tokens/s, MFU, peak memory
# A stage runs every step it can and exits non-zero when one failed.
set -uo pipefail
cd "$(dirname "$0")/.."
stage=${1:?usage: gpu-check.sh 1|2|3}
GO=${GO:-go}
bin=bin/cuda
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
rows=()
status=0

# step NAME CMD...: runs CMD with its output shown and kept, and adds a row to the table.
step() {
	local name=$1
	shift
	echo "== $name"
	local start=$SECONDS rc
	"$@" 2>&1 | tee "$log/$name"
	rc=${PIPESTATUS[0]}
	local result=ok
	if [ "$rc" -ne 0 ]; then
		result="FAIL ($rc)"
		status=1
	fi
	rows+=("$(printf '%-10s %-9s %5ss  %s' "$name" "$result" "$((SECONDS - start))" "$(note "$name")")")
}

# note NAME: the one-line summary of a step's output for the table.
note() {
	local out=$log/$1
	case $1 in
	gpu) head -n1 "$out" ;;
	syntax) grep '^gpu-syntax:' "$out" || grep -m1 -E 'error' "$out" ;;
	parity)
		# The rows of the parity table TestMain prints: name (58 columns, may hold spaces), error,
		# limit, then FAIL when over it.
		awk '/^parity check/ {on = 1; next}
			on && NF >= 3 {fail = ($NF == "FAIL"); e = (fail ? $(NF - 2) : $(NF - 1)) + 0; n++; f += fail
				if (e > worst) {worst = e; w = substr($0, 1, 58); sub(/ +$/, "", w)}}
			END {if (n) printf "%d checks, %d over their limit, largest error %.2e (%s)", n, f, worst, w}' "$out"
		grep -E '^(--- FAIL|panic:)|error while loading|cuda backend:' "$out" | head -n 3 | tr '\n' ' '
		;;
	baseline) grep -E '^(tokens_per_s|mfu_percent|peak_vram_mb):' "$out" | awk '{printf "%s %s  ", $1, $2}' ;;
	*) grep -iE 'error|cannot|undefined|FAIL' "$out" | head -n 1 ;;
	esac
}

gpu_arch() {
	local cap
	cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n1 | tr -d '.[:space:]')
	echo "compute_$cap"
}

# build: the backend's test binary; with ptxcheck also the PTX checker.
build() {
	if [ "${1:-}" = ptxcheck ]; then
		"$GO" build -tags cuda -o "$bin/" ./internal/tensor/cuda/ptxcheck || return
	fi
	"$GO" test -tags cuda -c -o "$bin/cuda.test" ./internal/tensor/cuda/
}

# The parity tests of stage 1: a GEMM, the elementwise kernels and attention (tiled and flash).
first='^(TestParityGemm|TestParityBinary|TestParityAttention)$'

case $stage in
1)
	step gpu nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader
	step syntax make --no-print-directory gpu-syntax
	step build build ptxcheck
	arch=$(gpu_arch)
	# Into the backend's own PTX cache (ptx.DefaultCacheDir), so the tests start without compiling.
	step ptx "$bin/ptxcheck" -arch "$arch" -sass "sm_${arch#compute_}" -cache "${XDG_CACHE_HOME:-$HOME/.cache}/autoresearch/ptx"
	step parity "$bin/cuda.test" -test.count=1 -test.timeout 5m -test.run "$first"
	;;
2)
	step build build
	step parity "$bin/cuda.test" -test.count=1 -test.timeout 15m -test.run '^Test' \
		-test.skip "$first"
	;;
3)
	step build build
	step baseline "$bin/cuda.test" -test.count=1 -test.timeout 10m -test.run '^$' \
		-test.bench '^BenchmarkBaselineThroughput$' -test.benchtime 60s
	;;
*)
	echo "gpu-check.sh: unknown stage $stage (1, 2 or 3)" >&2
	exit 2
	;;
esac

echo
echo "gpu-check stage $stage"
printf '%-10s %-9s %6s  %s\n' step result time note
printf '%s\n' "${rows[@]}"
exit $status
