#!/bin/sh
# Provisions what the npm scripts need: a Node.js that runs the harness (scripts/node-env.sh), and
# the npm dependencies when they are missing or stale. Idempotent: a no-op (well under a second)
# when both are there and node_modules matches package-lock.json.
set -eu
cd "$(dirname "$0")/.."
. scripts/node-env.sh
envoy_pipeline_node_env "$PWD"
stamp=node_modules/.envoy-pipeline-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "envoy-pipeline: installing npm dependencies (npm ci) for Node.js $(node --version)" >&2
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
