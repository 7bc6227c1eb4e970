#!/bin/sh
# Installs the harness's npm dependencies when they are missing or stale. Idempotent: a no-op
# (well under a second) when node_modules already matches package-lock.json.
set -eu
cd "$(dirname "$0")/.."
stamp=node_modules/.envoy-pipeline-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "envoy-pipeline: installing npm dependencies (npm ci)" >&2
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
