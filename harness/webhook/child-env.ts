// What the receiver's children see of its environment: an allow-list, never "everything but a few
// names", so that the webhook secret, the Jenkins token and whatever else the receiver was started
// with stay in the receiver. `ENVOY_PIPELINE_PASS_ENV=NAME,NAME` lets an administrator add names.

/** What any child needs to reach the network: CAs and proxies. */
const NETWORK_NAMES = ["SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"];

/** What a pipeline run needs: the user's basics, locale, proxies and CAs, Docker and Compose, npm, Testcontainers. */
const PIPELINE_NAMES = new Set([
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "TZ",
  "TMPDIR",
  "TERM",
  "XDG_RUNTIME_DIR",
  "XDG_CONFIG_HOME",
  "XDG_CACHE_HOME",
  "NODE_EXTRA_CA_CERTS",
  ...NETWORK_NAMES,
  "DOCKER_HOST",
  "DOCKER_CONFIG",
  "DOCKER_CERT_PATH",
  "DOCKER_TLS_VERIFY",
  "DOCKER_CONTEXT",
]);
const PIPELINE_PREFIXES = ["LC_", "ENVOY_PIPELINE_", "COMPOSE_", "TESTCONTAINERS_", "npm_config_", "NPM_CONFIG_"];

/** What git needs to fetch and make a worktree: basics, locale, proxies and CAs, ssh, its own configuration. */
const GIT_NAMES = new Set([
  "PATH",
  "HOME",
  "LANG",
  "TMPDIR",
  "XDG_CONFIG_HOME",
  ...NETWORK_NAMES,
  "SSH_AUTH_SOCK",
  "GIT_SSH",
  "GIT_SSH_COMMAND",
  "GIT_SSL_CAINFO",
  "GIT_SSL_CAPATH",
  "GIT_CONFIG_GLOBAL",
  "GIT_CONFIG_SYSTEM",
  "GIT_CONFIG_NOSYSTEM",
]);
const GIT_PREFIXES = ["LC_"];

/** Never passed, whatever the lists say: they override the compose project or hold credentials. */
const NEVER = new Set(["ENVOY_PIPELINE_PROJECT", "COMPOSE_PROJECT_NAME", "ENVOY_PIPELINE_PASS_ENV"]);
const SECRET_LIKE = /SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|_KEY$/i;

function pick(base: NodeJS.ProcessEnv, names: ReadonlySet<string>, prefixes: readonly string[]): NodeJS.ProcessEnv {
  const extra = new Set((base.ENVOY_PIPELINE_PASS_ENV ?? "").split(",").map((n) => n.trim()));
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined || NEVER.has(name)) continue;
    const listed = names.has(name) || (prefixes.some((p) => name.startsWith(p)) && !SECRET_LIKE.test(name));
    if (listed || extra.has(name)) env[name] = value;
  }
  return env;
}

/** The environment of a pipeline run (bootstrap and pipeline), before the run's own variables. */
export function pipelineEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return pick(base, PIPELINE_NAMES, PIPELINE_PREFIXES);
}

/** The environment of a git child. */
export function gitBaseEnv(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return pick(base, GIT_NAMES, GIT_PREFIXES);
}
