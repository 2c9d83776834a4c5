#!/usr/bin/env bash
# The README's per-family table: every family's tiny preset trained by
# `dllm sft` on the same generated chat data for the same wall-clock budget,
# then scored by `dllm eval` on held-out questions (exact match).
#
#   scripts/family-table.sh [OUT] [BUDGET]      (defaults: runs/families 4m)
#
# BUDGET is a duration (4m: equal training time, --time-budget) or a step
# count (2500: equal work, --steps). Batches of 32 conversations, as the demo.
# The runs go one after another, so each has the machine to itself as far as
# the machine is otherwise idle; the step counts and times in the table show
# how much work each budget bought.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/families}
budget=${2:-4m}
if [[ $budget =~ ^[0-9]+$ ]]; then
	limit=(--steps "$budget")
else
	limit=(--time-budget "$budget")
fi
make -s build
mkdir -p "$out"
# The demo's data: the reverse task (easy), 4,000 conversations and 200
# unseen ones. `dllm demo --time-budget 1s` writes them and trains nothing
# worth keeping.
bin/dllm demo --out "$out/data" --time-budget 1s --show 0 >/dev/null
printf '| family | preset | parameters | steps (%s) | time | held-out loss | exact match |\n|---|---|---|---|---|---|---|\n' "$budget" >"$out/table.md"
for family in modernbert llada dream a2d; do
	run="$out/$family"
	rm -rf "$run"
	start=$(date +%s)
	bin/dllm sft --family "$family" --preset tiny --data "$out/data/train.jsonl" --out "$run" \
		"${limit[@]}" --batch-size 32 --samples 0 >"$run.log" 2>&1
	bin/dllm eval --model "$run" --data "$out/data/heldout.jsonl" >"$run.eval.json" 2>"$run.eval.log"
	secs=$(($(date +%s) - start))
	params=$(bin/dllm inspect "$run" | sed -n 's/^parameters *\([0-9,]*\).*/\1/p')
	python3 - "$family" "$params" "$run/metrics.jsonl" "$run.eval.json" "$secs" >>"$out/table.md" <<'PY'
import json, sys
family, params, metrics, path, secs = sys.argv[1:6]
steps = max(json.loads(l).get("step", 0) for l in open(metrics) if l.strip())
r = json.load(open(path))
print(f"| {family} | tiny | {params} | {steps} | {int(secs)//60}m{int(secs)%60:02d}s | {r['loss']:.3f} | {100*r['exact_match']:.1f}% ({r['n']}) |")
PY
done
cat "$out/table.md"
