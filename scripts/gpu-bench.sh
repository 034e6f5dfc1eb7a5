#!/usr/bin/env bash
# gpu-bench: on the GPU machine, after `make build-cuda` (make gpu-bench runs both, with the CUDA
# environment of the Makefile): the parity tests against the CPU backend, the real trainer
# (gpt/train.go on synthetic data of the gpu profile) for about 20 steps, then the depth-8 step
# benchmark in each configuration, its per-phase profile and the table last. One script, about
# 5 minutes on an H100 or H200 after the build.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=bin/cuda
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

echo "== parity with the CPU backend"
"$bin/cuda.test" -test.count=1 -test.timeout 10m \
	-test.run 'Parity|TensorCore|BF16TrainingStep|Autocast|WeightConversions|CastGradient|KernelsPerStep' || status=1

echo "== attention kernels (B 4, T 2048, 4 heads of 128)"
"$bin/cuda.test" -test.run '^$' -test.bench 'Attention' -test.benchtime 5x || status=1

echo "== the real trainer: gpt/train.go, profile gpu, synthetic data"
trainer="did not run"
if "$bin/autoresearch" prepare --profile gpu --dataset synthetic --home "$work/home" >"$work/prepare.log" 2>&1; then
	log="$work/train.log"
	AUTORESEARCH_PROFILE=gpu AUTORESEARCH_DEVICE=cuda AUTORESEARCH_HOME="$work/home" \
		timeout 150 "$bin/gpt" >"$log" 2>&1 &
	pid=$!
	# Stop it after step 20 (its own budget is 300 s of training plus the evaluation).
	for _ in $(seq 150); do
		sleep 1
		if tr '\r' '\n' <"$log" | grep -q '^step 00020'; then break; fi
		kill -0 "$pid" 2>/dev/null || break
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	tr '\r' '\n' <"$log" | grep -E '^(Setup|step 0000[0-2])' | sed 's/ *$//'
	# Steps 11 to 20: past the warm-up, as the original counts.
	steps=$(tr '\r' '\n' <"$log" | grep -E '^step 000(1[1-9]|20) ')
	if [ -n "$steps" ]; then
		tps=$(echo "$steps" | sed -E 's/.*tok\/sec: ([0-9,]+).*/\1/' | tr -d , | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
		mfu=$(echo "$steps" | sed -E 's/.*mfu: ([0-9.]+)%.*/\1/' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
		setup=$(tr '\r' '\n' <"$log" | sed -nE 's/^Setup: ([0-9.]+)s/\1/p')
		trainer=$(printf '%10s %6s   median of steps 11-20, device batch 128; start-up %ss to the first step' "$tps" "$mfu" "$setup")
	else
		trainer="no step past the warm-up (see below)"
		tail -n 30 "$log"
		status=1
	fi
else
	trainer="prepare failed"
	tail -n 20 "$work/prepare.log"
	status=1
fi

echo "== depth-8 training step, per configuration"
AUTORESEARCH_CUDA_BENCH_TRAINER="$trainer" \
	"$bin/cuda.test" -test.count=1 -test.timeout 10m -test.run '^$' -test.bench '^BenchmarkDepth8Step$' -test.benchtime 1x || status=1
exit $status
