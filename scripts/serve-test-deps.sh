#!/usr/bin/env bash
# serve-test-deps.sh installs what serve's client and browser tests need
# besides Go, for CI:
#
#   - OpenAI's client library for Node (npm "openai", major version 6) into
#     the git-ignored .node/ folder, for TestOpenAIClient;
#   - with --browser, Debian's headless Chromium (apt package
#     chromium-headless-shell; needs root), for TestPageInBrowser.
#
#   scripts/serve-test-deps.sh --browser
#   NODE_PATH=$PWD/.node/node_modules go test ./serve
#
# Without them these tests skip; TestPageScript needs node only.
# Needs: node and npm; apt-get for --browser.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--browser" ] && ! command -v chromium-headless-shell >/dev/null && ! command -v chromium >/dev/null; then
	apt-get update >&2
	apt-get install -y --no-install-recommends chromium-headless-shell >&2
fi
mkdir -p .node
if [ ! -d .node/node_modules/openai ]; then
	npm install --prefix .node --no-audit --no-fund --no-save openai@6 >&2
fi
echo "NODE_PATH=$PWD/.node/node_modules"
