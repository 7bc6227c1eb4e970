#!/bin/sh
# Provisions what the npm scripts need: a Node.js that runs the harness (scripts/node-env.sh), the
# npm dependencies when they are missing or stale, and the compiled CLI (dist/, what
# bin/envoy-pipeline.js runs) when harness/ changed since it was built. Idempotent: a no-op (well
# under a second) when node_modules matches package-lock.json and dist/ matches harness/.
set -eu
cd "$(dirname "$0")/.."
. scripts/node-env.sh
envoy_pipeline_node_env "$PWD"
stamp=node_modules/.envoy-pipeline-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "envoy-pipeline: installing npm dependencies (npm ci) for Node.js $(node --version)" >&2
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
[ -f tsconfig.build.json ] || exit 0
built=dist/.envoy-pipeline-sources.sha256
sources=$(find harness tsconfig.json tsconfig.build.json -type f \( -name '*.ts' -o -name '*.json' \) | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
if [ ! -f "$built" ] || [ "$(cat "$built")" != "$sources" ]; then
  echo "envoy-pipeline: compiling the CLI (npm run build)" >&2
  npm run --silent build
  echo "$sources" > "$built"
fi
