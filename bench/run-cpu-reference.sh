#!/usr/bin/env bash
# Runs the CPU reference workload of PERF.md twice in one go, ours
# (BenchmarkModernBERT) and PyTorch's (modernbert_torch.py), and prints the
# ratio ours/PyTorch for the forward pass and the training step. Both use 2
# threads by default; the ratio is what to compare across machines.
#
#   bench/run-cpu-reference.sh              # 3 timed steps each
#   STEPS=5 THREADS=2 bench/run-cpu-reference.sh
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

ours=$(GOMAXPROCS=$THREADS CGO_ENABLED=0 go test -run '^$' -bench '^BenchmarkModernBERT$' -benchtime "${STEPS}x" ./bench | tee /dev/stderr)
theirs=$("$python" bench/modernbert_torch.py --threads "$THREADS" --steps "$STEPS" | tee /dev/stderr)
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo ?)"

# metric LINES NAME UNIT prints the number before UNIT on the line naming NAME.
metric() {
	grep -E "$2" <<<"$1" | head -1 | awk -v unit="$3" '{ for (i = 2; i <= NF; i++) if ($i == unit) { print $(i - 1); exit } }'
}

echo
printf '%-11s %12s %12s %12s %12s %8s\n' what 'ours ms' 'torch ms' 'ours tok/s' 'torch tok/s' ratio
status=0
for what in forward train-step; do
	o_ms=$(metric "$ours" "BenchmarkModernBERT/$what" ms/step)
	t_ms=$(metric "$theirs" "^torch/$what " ms/step)
	o_tps=$(metric "$ours" "BenchmarkModernBERT/$what" tokens/s)
	t_tps=$(metric "$theirs" "^torch/$what " tokens/s)
	if [[ -z $o_ms || -z $t_ms ]]; then
		echo "run-cpu-reference: no $what result from one of the runs" >&2
		status=1
		continue
	fi
	# ratio > 1: we are faster (throughput ours / PyTorch's).
	awk -v w="$what" -v o="$o_ms" -v t="$t_ms" -v ot="$o_tps" -v tt="$t_tps" \
		'BEGIN { printf "%-11s %12.1f %12.1f %12.0f %12.0f %7.2fx\n", w, o, t, ot, tt, t / o }'
done
exit $status
