# envoy-pipeline preflight (envoyPrepare runs it on the agent before the CLI). The library prepends
# ENVOY_PIPELINE_PREFLIGHT_CLI (the command that starts the CLI) and ENVOY_PIPELINE_NODE_MIN
# (package.json's engines.node). Prints one line per problem, each naming what to change, and
# exits 1; prints one "ok" line otherwise. Shell builtins only, besides the tools it checks, so
# that it runs on any agent with a POSIX sh.
# Jenkins' sh step runs scripts with `sh -xe`: no trace (the problems are the output), and no exit on
# the first failing check (every problem is reported, then the exit code says it).
set +x +e
problems=0
problem() {
  printf 'envoy-pipeline preflight: %s\n' "$1" >&2
  problems=$((problems + 1))
}

# Node.js: the CLI is TypeScript run by node (tsx); older versions fail in confusing ways.
if ! command -v node >/dev/null 2>&1; then
  problem "node is not on this agent's PATH: install Node.js >= ${ENVOY_PIPELINE_NODE_MIN} (or add its bin folder to PATH in the agent's environment)"
else
  found=$(node --version 2>/dev/null) || found=''
  version=${found#v}
  IFS=. read -r major minor patch <<VERSION
$version
VERSION
  IFS=. read -r min_major min_minor min_patch <<VERSION
$ENVOY_PIPELINE_NODE_MIN
VERSION
  case "$major.$minor.${patch%%[!0-9]*}" in
    *[!0-9.]* | .* | *..* | *.) old=yes ;;
    *)
      patch=${patch%%[!0-9]*}
      if [ "$major" -gt "$min_major" ] \
        || { [ "$major" -eq "$min_major" ] && [ "$minor" -gt "$min_minor" ]; } \
        || { [ "$major" -eq "$min_major" ] && [ "$minor" -eq "$min_minor" ] && [ "$patch" -ge "$min_patch" ]; }; then
        old=no
      else
        old=yes
      fi
      ;;
  esac
  if [ "$old" = yes ]; then
    problem "node on this agent is '${found}', the CLI needs Node.js >= ${ENVOY_PIPELINE_NODE_MIN}: install a newer Node.js or put it first on PATH"
  fi
fi

# npx and git: the default CLI is `npx --yes --package=git+...#<version> envoy-pipeline`.
case " $ENVOY_PIPELINE_PREFLIGHT_CLI " in
  *" npx "*)
    command -v npx >/dev/null 2>&1 || problem "npx is not on this agent's PATH (the CLI is '${ENVOY_PIPELINE_PREFLIGHT_CLI}'): install npm with Node.js, or pass cli"
    ;;
esac
case "$ENVOY_PIPELINE_PREFLIGHT_CLI" in
  *git+*)
    command -v git >/dev/null 2>&1 || problem "git is not on this agent's PATH: npx needs it to fetch the CLI from a git+ package spec (ENVOY_PIPELINE_CLI_PACKAGE)"
    ;;
esac

# Docker: the harness publishes Envoy's ports on 127.0.0.1 of the engine's host and connects there.
# That is this agent only when the engine is local to it.
case "${DOCKER_HOST:-}" in
  "" | unix://*) ;;
  *)
    problem "DOCKER_HOST is '${DOCKER_HOST}': Envoy's ports are published on that engine's host, not on this agent's 127.0.0.1, so Deploy and Verify cannot reach them; unset DOCKER_HOST and run on an agent with a local Docker engine"
    ;;
esac
in_container=
for marker in ${ENVOY_PIPELINE_CONTAINER_MARKERS:-/.dockerenv /run/.containerenv}; do
  [ -e "$marker" ] && in_container=$marker
done
[ -n "${KUBERNETES_SERVICE_HOST:-}" ] && in_container="a Kubernetes pod (KUBERNETES_SERVICE_HOST)"
if [ -n "$in_container" ] && [ "${ENVOY_PIPELINE_AGENT_NETWORK:-}" != host ]; then
  problem "this agent runs in a container (${in_container}): a mounted Docker socket publishes Envoy's ports on the host, not on this container's 127.0.0.1; run the agent with the host's network (docker run --network host) and set ENVOY_PIPELINE_AGENT_NETWORK=host, or use an agent on the host"
fi

if [ "$problems" -gt 0 ]; then
  exit 1
fi
printf 'envoy-pipeline preflight: ok (node %s)\n' "$found"
