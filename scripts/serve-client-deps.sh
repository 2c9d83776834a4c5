#!/usr/bin/env bash
# serve-client-deps.sh installs what serve's client test needs besides Go:
# OpenAI's client library for Node (npm "openai", major version 6) into the
# git-ignored .node/ folder. Run the tests with the NODE_PATH it prints:
#
#   scripts/serve-client-deps.sh
#   NODE_PATH=$PWD/.node/node_modules go test -run TestOpenAIClient ./serve
#
# Without it (or without node) TestOpenAIClient skips. TestPageScript needs
# node only. Needs: node and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p .node
if [ ! -d .node/node_modules/openai ]; then
	npm install --prefix .node --no-audit --no-fund --no-save openai@6 >&2
fi
echo "NODE_PATH=$PWD/.node/node_modules"
