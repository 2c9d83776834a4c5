#!/usr/bin/env bash
# MDLM against block diffusion (BD3LM, blocks of 4, 8 and 16) at equal, short
# training time on generated tasks (reverse, and repeat: answers of 2 to 60
# words): exact match, held-out loss, and sampling time per generated token
# at 32, 128 and 512 new tokens. Writes OUT/results.md (the tables) and
# OUT/time-per-token.png. Extra arguments go to the tool
# (tools/bd3lm-compare: -budget, -tasks, -examples, -held-out, -lengths,
# -repeats, -skip-train).
#
#   scripts/bd3lm-compare.sh runs/bd3lm-compare -budget 4m
set -euo pipefail
out=${1:-runs/bd3lm-compare}
shift || true
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/bd3lm-compare ./tools/bd3lm-compare
bin/bd3lm-compare -out "$out" "$@"
