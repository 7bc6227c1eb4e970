#!/bin/sh
# Runs a command (`node ...`, `vitest ...`) with a Node.js that runs the harness first on PATH
# (scripts/node-env.sh): the npm scripts start the harness through this.
set -eu
. "$(dirname "$0")/node-env.sh"
envoy_pipeline_node_env "$(cd "$(dirname "$0")/.." && pwd)"
exec "$@"
