#!/usr/bin/env bash
# Runs the user-facing benchmarks (bench/user_test.go) and their PyTorch
# references (bench/user_torch.py) in turn, ROUNDS times, and prints
# PyTorch's time / ours for each round and the median: above 1 we are faster.
#
#   bench/run-cpu-user.sh                         # 3 rounds, 2 threads
#   ROUNDS=5 THREADS=1 bench/run-cpu-user.sh
#   PRESET=modernbert-base VOCAB=50368 bench/run-cpu-user.sh
#   WHAT=train ROUNDS=5 STEPS=3 bench/run-cpu-user.sh   # the train step only, 3 steps a round
#
# Compared: the trainer's MDLM step (small preset, V 4096, 8 x 256) with
# PyTorch's at equal work; the sampler at batch 1 (PRESET, VOCAB; 64 + 128
# tokens, 128 steps, blocks of 32) without our cache against PyTorch in
# LLaDA's form (all logits, float64 softmax) and at equal work (the masked
# rows only), and with our cache against the same two. Ratios are given from
# wall time ("wall") and from process CPU time ("cpu"), which a busy machine
# disturbs less. PyTorch runs with OMP_WAIT_POLICY=passive and its pools
# sized to THREADS; the script refuses to run unless torch loads OpenBLAS
# (Debian: apt-get install python3-torch libopenblas0-pthread).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-1} # timed iterations per round and side (train steps; generations)
THREADS=${THREADS:-2}
PRESET=${PRESET:-small}
VOCAB=${VOCAB:-50368}
WHAT=${WHAT:-all} # all, or train: the train step only

python=""
for p in ${PYTHON:-} /usr/bin/python3 python3; do
	if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' 2>/dev/null; then
		python=$p
		break
	fi
done
if [[ -z $python ]]; then
	echo "run-cpu-user: no python3 with torch found (apt-get install python3-torch, or set PYTHON)" >&2
	exit 2
fi
blas=$(OMP_WAIT_POLICY=passive "$python" -c 'import numpy, torch; print(" ".join(sorted({l.split()[-1].rsplit("/", 1)[-1] for l in open("/proc/self/maps") if "blas" in l.lower()})))')
if [[ $blas != *openblas* ]]; then
	echo "run-cpu-user: torch/numpy load '$blas', not OpenBLAS (apt-get install libopenblas0-pthread)" >&2
	exit 2
fi

bin=$(mktemp -d)/bench.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
CGO_ENABLED=0 go test -c -o "$bin" ./bench

model=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
echo "# machine: $(nproc) CPUs, ${model:-unknown CPU}; BLAS: $blas; threads $THREADS; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# metric TEXT PATTERN UNIT: the number before UNIT on the first line matching PATTERN.
metric() {
	grep -E "$2" <<<"$1" | head -1 | awk -v unit="$3" '{ for (i = 2; i <= NF; i++) if ($i == unit) { print $(i - 1); exit } }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "nan"; else printf "%.2f", a / b }'; }

gen="|Generate/$PRESET/vocab=$VOCAB/"
whats="train ref-false eq-false ref-true eq-true"
if [[ $WHAT == train ]]; then
	gen="" whats=train
fi
declare -A r
for round in $(seq "$ROUNDS"); do
	ours=$(cd bench && GOMAXPROCS=$THREADS "$bin" -test.run '^$' -test.bench "TrainerStep$gen" -test.benchtime "${STEPS}x")
	echo "$ours" | grep -E '^Benchmark'
	tt=$(cd bench && "$python" user_torch.py train-step --threads "$THREADS" --runs "$STEPS" | tail -1)
	ref="" eq=""
	if [[ $WHAT != train ]]; then
		ref=$(cd bench && "$python" user_torch.py sample-reference --threads "$THREADS" --runs "$STEPS" --preset "$PRESET" --vocab "$VOCAB" | tail -1)
		eq=$(cd bench && "$python" user_torch.py sample-equal --threads "$THREADS" --runs "$STEPS" --preset "$PRESET" --vocab "$VOCAB" | tail -1)
	fi
	for line in "$tt" "$ref" "$eq"; do
		[[ -n $line ]] && echo "$line"
	done
	for unit in ms/op cpu-ms/op; do
		u=${unit%%/*}
		o_train=$(metric "$ours" 'TrainerStep' "$unit")
		if [[ $unit == ms/op ]]; then
			o_train=$(awk -v n="$(metric "$ours" 'TrainerStep' ns/op)" 'BEGIN { print n / 1e6 }')
		fi
		r[$round,train,$u]=$(ratio "$(metric "$tt" . "$unit")" "$o_train")
		for cache in false true; do
			[[ $WHAT == train ]] && break
			o=$(metric "$ours" "cache=$cache" "$unit")
			if [[ $unit == ms/op ]]; then
				o=$(awk -v n="$(metric "$ours" "cache=$cache" ns/op)" 'BEGIN { print n / 1e6 }')
			fi
			r[$round,ref-$cache,$u]=$(ratio "$(metric "$ref" . "$unit")" "$o")
			r[$round,eq-$cache,$u]=$(ratio "$(metric "$eq" . "$unit")" "$o")
		done
	done
	r[$round,frac,ours]=$(metric "$ours" 'TrainerStep' cpu-step/sgemm)
	r[$round,frac,torch]=$(metric "$tt" . cpu-step/sgemm)
	echo "# round $round: load average $(cut -d' ' -f1 /proc/loadavg)"
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "# PyTorch / ours per round (wall, cpu), then the median; above 1 we are faster"
printf '%-44s %s\n' what "rounds... | median wall, median cpu"
for what in $whats; do
	case $what in
	train) label="train step (MDLM, equal work)" ;;
	ref-false) label="sampler vs LLaDA's form, ours no cache" ;;
	eq-false) label="sampler at equal work, ours no cache" ;;
	ref-true) label="sampler vs LLaDA's form, ours cached" ;;
	eq-true) label="sampler vs equal work, ours cached" ;;
	esac
	walls=() cpus=() line=""
	for round in $(seq "$ROUNDS"); do
		walls+=("${r[$round,$what,ms]}")
		cpus+=("${r[$round,$what,cpu-ms]}")
		line+="${r[$round,$what,ms]},${r[$round,$what,cpu-ms]} "
	done
	mw=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	mc=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
	printf '%-44s %s| %sx, %sx\n' "$label" "$line" "$mw" "$mc"
done

# The train step's analytic GFLOP per CPU-second over each side's own SGEMM
# 1024^3 in the same process (ours: gemm.Sgemm; PyTorch: torch.mm on
# OpenBLAS): how close each step comes to its matrix-product bound. The best
# tokens/s ratio the two can reach is about 1 / PyTorch's fraction times the
# SGEMMs' ratio.
for who in ours torch; do
	fr=()
	for round in $(seq "$ROUNDS"); do fr+=("${r[$round,frac,$who]:-nan}"); done
	printf '%-44s %s| median %s\n' "train step cpu-step/sgemm, $who" "${fr[*]} " \
		"$(printf '%s\n' "${fr[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
done
