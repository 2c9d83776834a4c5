#!/usr/bin/env bash
# Runs the CPU reference workload of PERF.md twice in one go, ours
# (BenchmarkModernBERT) and PyTorch's (modernbert_torch.py), and prints the
# ratio ours/PyTorch for the forward pass and the training step. Both use 2
# threads by default; the ratio is what to compare across machines.
#
#   bench/run-cpu-reference.sh              # 3 timed steps each, 2 threads
#   STEPS=5 THREADS=1 bench/run-cpu-reference.sh
#   PYTHON=/path/to/python3 bench/run-cpu-reference.sh
#
# PyTorch on Debian: apt-get install python3-torch python3-numpy.
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=${STEPS:-3}
THREADS=${THREADS:-2}

# The first python3 that has torch: $PYTHON, the one on PATH, the system one
# (a pyenv python3 on PATH often lacks the Debian package).
python=""
for p in ${PYTHON:-} python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch' 2>/dev/null; then
		python=$p
		break
	fi
done
if [[ -z $python ]]; then
	echo "run-cpu-reference: no python3 with torch found (apt-get install python3-torch, or set PYTHON)" >&2
	exit 2
fi

model=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
echo "# machine: $(nproc) CPUs, ${model:-unknown CPU}; load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"

ours=$(GOMAXPROCS=$THREADS CGO_ENABLED=0 go test -run '^$' -bench '^BenchmarkModernBERT$' -benchtime "${STEPS}x" ./bench)
echo "$ours"
theirs=$("$python" bench/modernbert_torch.py --threads "$THREADS" --steps "$STEPS")
echo "$theirs"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"

# metric LINES NAME UNIT prints the number before UNIT on the line naming NAME.
metric() {
	grep -E "$2" <<<"$1" | head -1 | awk -v unit="$3" '{ for (i = 2; i <= NF; i++) if ($i == unit) { print $(i - 1); exit } }'
}

echo
echo "# ratio = PyTorch's / ours: above 1 we are faster. mean: from the mean step; best: from the fastest step;"
echo "# cpu: from CPU time per step, the steadiest on a busy machine with THREADS=1 (with more threads PyTorch's"
echo "# spinning OpenMP workers count too)."
printf '%-11s %9s %9s %9s %9s %9s %9s %7s %7s %7s\n' what 'ours ms' 'torch ms' 'ours min' 'torch min' 'ours cpu' 'torch cpu' mean best cpu
status=0
for what in forward train-step; do
	args=()
	for unit in ms/step min-ms/step cpu-ms/step; do
		args+=("$(metric "$ours" "BenchmarkModernBERT/$what" $unit)" "$(metric "$theirs" "^torch/$what " $unit)")
	done
	for a in "${args[@]}"; do
		if [[ -z $a ]]; then
			echo "run-cpu-reference: a $what result is missing" >&2
			status=1
			continue 2
		fi
	done
	awk -v w="$what" 'BEGIN {
		printf "%-11s %9.1f %9.1f %9.1f %9.1f %9.1f %9.1f %6.2fx %6.2fx %6.2fx\n", w,
			ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[2] / ARGV[1], ARGV[4] / ARGV[3], ARGV[6] / ARGV[5]
	}' "${args[@]}"
done
exit $status
