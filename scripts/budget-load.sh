#!/usr/bin/env bash
# budget-load.sh: does the training budget count the same work whatever else the machine
# does? It trains the unchanged baseline (autoresearch train) RUNS times in each of three
# conditions, interleaved so that drift hits all three alike:
#   quiet    nothing else started
#   compute  two busy loops (sh), one per core of a 2-core machine
#   memory   two processes copying 400 MB buffers over and over (python3)
# and prints, per condition, the steps and val_bpb of every run, their median and spread.
# The loads are started and ended by this script, by their process ids.
#
#   scripts/budget-load.sh [PROFILE [RUNS]]     (default smoke 4; prepare the profile first)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-smoke}
runs=${2:-4}
bin=${AUTORESEARCH_BIN:-bin/autoresearch}
[ -x "$bin" ] || make build >/dev/null
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT

pids=()
start_load() {
	pids=()
	case $1 in
	compute)
		for _ in 1 2; do sh -c 'while :; do :; done' & pids+=($!); done ;;
	memory)
		for _ in 1 2; do
			python3 -c 'a = bytearray(400 << 20); b = bytearray(400 << 20)
while True: b[:] = a' & pids+=($!)
		done ;;
	esac
	sleep 1 # the load is running before training starts
}
stop_load() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	pids=()
}

for i in $(seq "$runs"); do
	for cond in quiet compute memory; do
		start_load "$cond"
		load=$(cut -d' ' -f1 /proc/loadavg)
		"$bin" train --profile "$profile" --device cpu > "$out/$cond-$i.log" 2>&1 || true
		stop_load
		steps=$(awk '/^num_steps:/ {print $2}' "$out/$cond-$i.log")
		bpb=$(awk '/^val_bpb:/ {print $2}' "$out/$cond-$i.log")
		echo "$cond $i steps ${steps:-?} val_bpb ${bpb:-?} load $load" | tee -a "$out/all"
	done
done

echo
echo "| beside the run | steps | median steps | val_bpb | median val_bpb |"
echo "|---|---|---|---|---|"
for cond in quiet compute memory; do
	awk -v c="$cond" '$1 == c { s = s (s ? ", " : "") $4; b = b (b ? ", " : "") $6; steps[++n] = $4; bpb[n] = $6 }
	function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	END { printf "| %s | %s | %g | %s | %.4f |\n", c, s, median(steps, n), b, median(bpb, n) }' "$out/all"
done
