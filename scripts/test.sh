#!/bin/sh
# The test suite (`npm test`): provisions what it needs, then type-checks and runs every test,
# integration tests included, against a real Docker engine, Envoy, Prometheus and Zipkin.
set -eu
cd "$(dirname "$0")/.."
# The Node.js that runs the harness (host's if new enough, else the pinned one) first on PATH.
. scripts/node-env.sh
envoy_pipeline_node_env "$PWD"
echo "== Node.js $(node --version) ($(command -v node))"

# Docker engine, compose v2 and the base images: a no-op in seconds when already there.
node --import tsx harness/cli.ts prepare

echo "== typecheck"
npx tsc --noEmit -p .
(cd services && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; npx tsc --noEmit -p .)

echo "== format and lint (Biome)"
npx biome ci --reporter=summary .

echo "== layers and sizes (no upward import; functions up to 80 lines, files up to 400)"
node --import tsx scripts/check-layers.ts
node --import tsx scripts/sizes.ts

echo "== Jenkins shared library tests (JenkinsPipelineUnit, Maven)"
if ! command -v mvn >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q maven default-jdk-headless >/dev/null
  else
    echo "npm test: Maven and a JDK (17+) are needed for the Jenkins library tests: apt-get install maven default-jdk-headless" >&2
    exit 1
  fi
fi
mvn -q -B -f jenkins-test/pom.xml test

echo "== unit and integration tests"
# Names every compose project this run creates, so the leftovers check below touches only ours.
ENVOY_PIPELINE_TEST_RUN=$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
export ENVOY_PIPELINE_TEST_RUN
status=0
rm -rf build/test-results
sh scripts/ensure-chromium.sh
# Tests write only into temporary folders: any file of the checkout (ignored ones included, e.g.
# reports/ or .envoy-pipeline/) written during the tests fails the run. Build output is exempt.
# Files only: a folder's own time also changes when a process briefly creates and removes an
# entry in it, which leaves nothing behind.
mkdir -p build && touch build/.tests-started
npx vitest run || status=$?
changed=$(find . \( -path ./.git -o -path ./node_modules -o -path ./services/node_modules -o -path ./build -o -path ./.cache -o -path ./jenkins-test/target \) -prune \
  -o ! -type d -newer build/.tests-started -print)
if [ -n "$changed" ]; then
  echo "npm test: tests wrote into the checkout (they must use temporary folders):" >&2
  echo "$changed" >&2
  status=1
fi

# Tests clean up after themselves, pass or fail. Anything left is a bug: report it, remove it,
# and fail the run so that it gets fixed.
node --import tsx scripts/leftovers.ts || status=1
# One closing line for the whole run, Maven's and vitest's tests together: "tests: N passed, N failed".
node --import tsx scripts/test-summary.ts || status=1
exit $status
