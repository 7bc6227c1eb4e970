#!/bin/sh
# The test suite (`npm test`): provisions what it needs, then type-checks and runs every test,
# integration tests included, against a real Docker engine, Envoy, Prometheus and Zipkin.
set -eu
cd "$(dirname "$0")/.."

# Docker engine, compose v2 and the base images: a no-op in seconds when already there.
node --import tsx harness/cli.ts prepare

echo "== typecheck"
npx tsc --noEmit -p .
(cd services && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; npx tsc --noEmit -p .)

if [ -f jenkins-test/pom.xml ]; then
  echo "== Jenkins shared library tests (Maven)"
  mvn -q -B -f jenkins-test/pom.xml test
fi

echo "== unit and integration tests"
status=0
node --import tsx --test --test-concurrency=1 --test-reporter=spec \
  test/unit/*.test.ts test/integration/*.test.ts || status=$?

# Tests clean up after themselves, pass or fail. Anything left is a bug: report it, remove it,
# and fail the run so that it gets fixed.
node --import tsx scripts/leftovers.ts || status=1
exit $status
