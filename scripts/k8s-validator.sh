#!/bin/sh
# Installs the offline Kubernetes validator, PyPI's kubernetes-validate (it ships the Kubernetes
# OpenAPI schemas as JSON Schema for every release, so it validates with no cluster and no
# download at run time), into a venv under .cache/ (ignored by git). Idempotent: a second run
# finds the pinned version and returns at once. Prints the path of the validator's executable.
#
# Why not kubeconform: it builds with `go install`, but carries no schemas; it fetches them from
# a web host at run time, which this machine (and an air-gapped CI) cannot reach.
set -eu
VERSION=1.37.0
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${ENVOY_PIPELINE_K8S_VALIDATOR_VENV:-$root/.cache/kubernetes-validate-$VERSION}"
bin="$venv/bin/kubernetes-validate"
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "$VERSION"; then
  echo "$bin"
  exit 0
fi
python=$(command -v python3 || true)
if [ -z "$python" ]; then
  echo "k8s-validator: python3 (3.9+) with venv is needed to validate Kubernetes manifests offline" >&2
  exit 1
fi
# A half-finished install (interrupted) fails the version check above and is redone from scratch.
rm -rf "$venv"
"$python" -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$VERSION" >&2
"$bin" --version | grep -q "$VERSION"
echo "$bin"
