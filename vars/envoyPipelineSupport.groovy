// Shared by every envoy* step; not a step to call from a Jenkinsfile. The one place that knows
// which keys the steps take and what their values must be, checks a step's map against them
// (reporting every problem through error(), naming the step and the key), and renders the
// harness CLI's command line with every word single-quoted for POSIX sh.
//
// It is a global variable rather than a class under src/ because it needs pipeline steps itself
// (libraryResource for the shared defaults, error for bad configurations): a src/ class could only
// reach them through a `steps` object handed in by every caller. Everything that needs no step is
// @NonCPS: plain, fast Groovy that never touches the CPS machinery and cannot pause mid-check.

import groovy.json.JsonSlurper
import groovy.transform.Field

/** The defaults shared by every step (see resources/io/envoypipeline/defaults.json). */
@Field static final String DEFAULTS_RESOURCE = 'io/envoypipeline/defaults.json'

/** What envoyPrepare runs on the agent before the CLI: Node, npx, git and Docker reachability. */
@Field static final String PREFLIGHT_RESOURCE = 'io/envoypipeline/preflight.sh'

/** The name the library must be loaded under: Jenkins then sets env."library.envoy-pipeline.version". */
@Field static final String LIBRARY_NAME = 'envoy-pipeline'

/**
 * The Jenkins environment variable (Manage Jenkins → System → Global properties, or a folder's
 * properties) naming where the CLI comes from: an npm package spec with {version} in it, e.g.
 * git+https://git.example.com/ci/envoy-pipeline.git#{version}. {version} becomes the library
 * version Jenkins loaded, so the CLI and the library always come from the same revision.
 */
@Field static final String CLI_PACKAGE_VARIABLE = 'ENVOY_PIPELINE_CLI_PACKAGE'

/** Most replicas of one service, the harness's own limit (harness/config.ts). */
@Field static final int MAX_REPLICAS = 50

/** Compose service names as the harness accepts them (harness/config.ts). */
@Field static final String SERVICE_NAME = '[a-zA-Z0-9][a-zA-Z0-9_.-]*'

/** Compose project names as the harness accepts them (harness/config.ts, projectNameSchema), at most 63 characters. */
@Field static final String PROJECT_NAME = '[a-z0-9][a-z0-9_-]*'
@Field static final int PROJECT_NAME_MAX_LENGTH = 63

/** Paths that junit and archiveArtifacts take as patterns: relative, no '..', no glob or list characters. */
@Field static final String WORKSPACE_PATH = '[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*'

/**
 * Every key a step may take. A step accepts exactly the keys of its own defaultConfig; a key
 * means the same thing, and is checked the same way, in every step. Bounds follow the harness's
 * schema (harness/config.ts) so that a bad value fails here, before any agent is busy.
 *   kind    string: non-empty String (a GString is accepted and becomes a String)
 *           command: string on one line, used as is (shell text, never quoted)
 *           label: String, may be empty, on one line
 *           integer: whole number from min to max (Integer or Long; never a String)
 *           boolean: true or false
 *           replicas: non-empty Map of compose service name to integer 1..MAX_REPLICAS
 *           workspacePath: string matching WORKSPACE_PATH
 *           choice: one of the Strings in `values`
 *           projectName: String matching PROJECT_NAME, at most PROJECT_NAME_MAX_LENGTH characters
 *   flag    the CLI option it becomes (none: the key is for Jenkins, not the CLI)
 */
@Field static final Map KEYS = [
  cli           : [kind: 'command'],
  configFile    : [kind: 'string', flag: '--config'],
  composeFile   : [kind: 'string', flag: '--compose-file'],
  project       : [kind: 'projectName', flag: '--project'],
  target        : [kind: 'choice', values: ['compose', 'swarm'], flag: '--target'],
  waitTimeout   : [kind: 'integer', min: 1, max: 3600, unit: 'seconds', flag: '--wait-timeout'],
  forceLocal    : [kind: 'boolean', flag: '--force-local'],
  listenerPort  : [kind: 'integer', min: 0, max: 65535, flag: '--listener-port'],
  adminPort     : [kind: 'integer', min: 0, max: 65535, flag: '--admin-port'],
  discovery     : [kind: 'string', flag: '--discovery'],
  replicas      : [kind: 'replicas', flag: '--scale'],
  requests      : [kind: 'integer', min: 0, max: 10000000, flag: '--requests'],
  concurrency   : [kind: 'integer', min: 1, max: 1024, flag: '--concurrency'],
  reportDir     : [kind: 'string', flag: '--report-dir'],
  json          : [kind: 'boolean', flag: '--json'],
  removeImages  : [kind: 'boolean', flag: '--remove-images'],
  agentLabel    : [kind: 'label'],
  timeoutMinutes: [kind: 'integer', min: 1, max: 1440, unit: 'minutes'],
  teardownTimeoutMinutes: [kind: 'integer', min: 1, max: 120, unit: 'minutes'],
  trigger       : [kind: 'choice', values: ['none', 'githubPush']],
  abortPrevious : [kind: 'boolean'],
  keepBuilds    : [kind: 'integer', min: 1, max: 1000, unit: 'builds'],
]

/** The defaults shared by every step, read from the library's resources. */
Map defaults() {
  return parseDefaults(libraryResource(DEFAULTS_RESOURCE))
}

@NonCPS
Map parseDefaults(String json) {
  // Neither JSON slurper keeps the file's key order, so the maps are put in key order (default
  // replicas render service1 before service2) as plain LinkedHashMaps, which CPS can serialize.
  return (Map) sortedKeys(plain(new JsonSlurper().parseText(json)))
}

@NonCPS
def sortedKeys(value) {
  if (value instanceof Map) {
    Map out = new LinkedHashMap()
    new ArrayList(value.keySet()).sort().each { key -> out.put(key, sortedKeys(value.get(key))) }
    return out
  }
  return value
}

/**
 * The keys every step that runs the CLI takes, with their defaults. null leaves the option out,
 * so the CLI's own default applies.
 */
@NonCPS
Map commonDefaults(Map shared) {
  return [
    // Command that starts the harness CLI. Shell text from the Jenkinsfile, used as is (NOT
    // quoted, so that 'node bin/envoy-pipeline.js' stays two words): never build it from a build
    // parameter or other outside input. null: npx runs the package that ENVOY_PIPELINE_CLI_PACKAGE
    // names, at the library version Jenkins loaded (see defaultCli).
    cli        : null,
    // --config: the harness's JSON config file.
    configFile : null,
    // --compose-file: the stack's compose file (CLI default: docker-compose.yml of the harness).
    composeFile: null,
    // --project: compose project name. null lets the CLI derive it from BUILD_TAG, so every build
    // gets its own containers, networks and volumes.
    project    : null,
    // --wait-timeout: seconds any single wait (health, scale convergence) may take.
    waitTimeout: null,
    // --target: 'compose' (the CLI's default) or 'swarm' (the swarm DOCKER_HOST points at).
    target     : null,
  ]
}

/**
 * Checks the user's map against a step's defaults and returns the two merged (a new map, in the
 * order of defaultConfig). Every key must be one of the step's (a near miss gets a "did you
 * mean"), and every value must have the key's type and range; all problems are reported at once
 * through error(). A null value means "use the default". `specs` overrides KEYS for this step.
 */
Map configure(String step, Map defaultConfig, Map userConfig, Map specs = [:]) {
  List<String> problems = problemsWith(step, defaultConfig, userConfig, specs)
  if (!problems.isEmpty()) {
    error(problems.join('\n'))
  }
  Map out = merged(defaultConfig, userConfig)
  if (out.containsKey('cli') && out.cli == null) {
    out.cli = defaultCli(step)
  }
  return out
}

/**
 * The CLI of the library version this build loaded, never an unpinned name: `npx --yes
 * --package='<spec>' envoy-pipeline`, where <spec> is ENVOY_PIPELINE_CLI_PACKAGE with {version}
 * replaced by env."library.envoy-pipeline.version". Stops the build, naming the setting, when
 * either is missing (before any agent is busy).
 */
String defaultCli(String step) {
  String template = env."${CLI_PACKAGE_VARIABLE}"
  String version = env."library.${LIBRARY_NAME}.version"
  String problem = defaultCliProblem(step, template, version)
  if (problem != null) {
    error(problem)
  }
  return renderDefaultCli(template, version)
}

@NonCPS
String defaultCliProblem(String step, String template, String version) {
  String example = 'git+https://git.example.com/ci/envoy-pipeline.git#{version}'
  if (template == null || template.trim().isEmpty()) {
    return "${step}: no CLI: set the Jenkins environment variable ${CLI_PACKAGE_VARIABLE} to the npm package spec of this library with {version} in it (e.g. ${example}), or pass cli (docs/jenkins.md#installing-the-library)".toString()
  }
  if (template =~ /[\r\n\u0000]/ || !template.contains('{version}')) {
    return "${step}: ${CLI_PACKAGE_VARIABLE} must be one line with {version} in it, so that the CLI is the library version Jenkins loaded (e.g. ${example}); got ${describe(template)}".toString()
  }
  if (version == null || version.trim().isEmpty() || version =~ /[\r\n\u0000]/) {
    return "${step}: env.library.${LIBRARY_NAME}.version is not set: load this library under the name '${LIBRARY_NAME}' (or pass cli), so that the CLI matches it".toString()
  }
  return null
}

@NonCPS
String renderDefaultCli(String template, String version) {
  return "npx --yes --package=${quote(template.trim().replace('{version}', version.trim()))} ${LIBRARY_NAME}".toString()
}

/**
 * The agent check envoyPrepare runs before the CLI (resources/io/envoypipeline/preflight.sh): Node.js
 * of the version package.json asks for, npx and git when the CLI needs them, and a Docker engine
 * whose published ports this agent reaches at 127.0.0.1. One line per problem, naming the setting.
 */
String preflightScript(String cli) {
  return preflightPrelude(cli, (String) defaults().nodeVersion) + libraryResource(PREFLIGHT_RESOURCE)
}

@NonCPS
String preflightPrelude(String cli, String nodeVersion) {
  return "ENVOY_PIPELINE_PREFLIGHT_CLI=${quote(cli)}\nENVOY_PIPELINE_NODE_MIN=${quote(nodeVersion)}\n".toString()
}

@NonCPS
List<String> problemsWith(String step, Map defaultConfig, Map userConfig, Map specs) {
  List<String> problems = []
  Map user = userConfig == null ? [:] : userConfig
  user.keySet().each { key ->
    if (!(key instanceof CharSequence) || !defaultConfig.containsKey(key.toString())) {
      problems << unknownKey(step, String.valueOf(key), defaultConfig.keySet())
    }
  }
  merged(defaultConfig, user).each { String key, value ->
    Map spec = (Map) (specs[key] ?: KEYS[key])
    if (spec == null) {
      problems << "${step}: key '${key}' has no specification in envoyPipelineSupport.KEYS".toString()
    } else if (value != null) {
      checkValue(key, value, spec).each { problems << "${step}: ${it}".toString() }
    }
  }
  return problems
}

/** The defaults with the user's non-null values for known keys laid over them, as plain data. */
@NonCPS
Map merged(Map defaultConfig, Map userConfig) {
  Map out = new LinkedHashMap()
  defaultConfig.each { key, value -> out.put(key.toString(), plain(value)) }
  (userConfig == null ? [:] : userConfig).each { key, value ->
    if (value != null && key instanceof CharSequence && out.containsKey(key.toString())) {
      out.put(key.toString(), plain(value))
    }
  }
  return out
}

/** GStrings become Strings, maps and lists are copied (map keys as Strings): serializable data. */
@NonCPS
def plain(value) {
  if (value instanceof CharSequence) {
    return value.toString()
  }
  if (value instanceof Map) {
    Map out = new LinkedHashMap()
    value.each { k, v -> out.put(String.valueOf(k), plain(v)) }
    return out
  }
  if (value instanceof List) {
    List out = new ArrayList()
    value.each { out.add(plain(it)) }
    return out
  }
  return value
}

/** What is wrong with one value, as messages naming the key and the expected type (empty: fine). */
@NonCPS
List<String> checkValue(String key, value, Map spec) {
  switch (spec.kind) {
    case 'string':
      if (!(value instanceof String) || value.isEmpty()) {
        return ["'${key}' must be a non-empty String, got ${describe(value)}".toString()]
      }
      return value.indexOf('\u0000') >= 0 ? ["'${key}' must not contain a NUL character (no command-line argument can carry one)".toString()] : []
    case 'command':
      if (!(value instanceof String) || value.trim().isEmpty()) {
        return ["'${key}' must be a non-empty String (the command that starts the harness CLI), got ${describe(value)}".toString()]
      }
      return value =~ /[\r\n\u0000]/ ? ["'${key}' must be a single line of shell text, got ${describe(value)}".toString()] : []
    case 'label':
      if (!(value instanceof String)) {
        return ["'${key}' must be a String (a Jenkins label expression; '' for any agent), got ${describe(value)}".toString()]
      }
      return value =~ /[\r\n\u0000]/ ? ["'${key}' must be a single line, got ${describe(value)}".toString()] : []
    case 'boolean':
      return value instanceof Boolean ? [] : ["'${key}' must be a Boolean (true or false), got ${describe(value)}".toString()]
    case 'integer':
      String problem = checkInteger("'${key}'", value, (long) spec.min, (long) spec.max, (String) spec.unit)
      return problem == null ? [] : [problem]
    case 'replicas':
      return checkReplicas(key, value)
    case 'projectName':
      if (!(value instanceof String) || !(value ==~ PROJECT_NAME) || value.length() > PROJECT_NAME_MAX_LENGTH) {
        return ["'${key}' must be a compose project name (lower-case letters, digits, '_' and '-', starting with a letter or digit, at most ${PROJECT_NAME_MAX_LENGTH} characters), got ${describe(value)}".toString()]
      }
      return []
    case 'choice':
      if (!(value instanceof String) || !((List) spec.values).contains(value)) {
        return ["'${key}' must be one of ${((List) spec.values).collect { "'${it}'" }.join(', ')}, got ${describe(value)}".toString()]
      }
      return []
    case 'workspacePath':
      if (!(value instanceof String) || !(value ==~ WORKSPACE_PATH) || value.split('/').any { it == '..' || it == '.' }) {
        return ["'${key}' must be a relative path inside the workspace (letters, digits, '_', '.', '-' and '/', no '..'), because junit and archiveArtifacts read the reports from it; got ${describe(value)}".toString()]
      }
      return []
    default:
      return ["'${key}' has an unknown kind '${spec.kind}' in envoyPipelineSupport.KEYS".toString()]
  }
}

@NonCPS
List<String> checkReplicas(String key, value) {
  String expected = "a non-empty Map of compose service name to replica count, e.g. [service1: 3, service2: 3]"
  if (!(value instanceof Map) || value.isEmpty()) {
    return ["'${key}' must be ${expected}, got ${describe(value)}".toString()]
  }
  List<String> problems = []
  value.each { service, count ->
    String name = String.valueOf(service)
    if (!(name ==~ SERVICE_NAME)) {
      problems << "'${key}' has '${name}', which is not a compose service name (letters, digits, '_', '.' and '-', starting with a letter or digit)".toString()
    } else {
      String problem = checkInteger("'${key}.${name}'", count, 1L, (long) MAX_REPLICAS, 'replicas')
      if (problem != null) {
        problems << problem
      }
    }
  }
  return problems
}

@NonCPS
String checkInteger(String what, value, long min, long max, String unit) {
  boolean integral = value instanceof Integer || value instanceof Long || value instanceof Short || value instanceof BigInteger
  if (!integral || value < min || value > max) {
    return "${what} must be an Integer from ${min} to ${max}${unit ? ' (' + unit + ')' : ''}, got ${describe(value)}".toString()
  }
  return null
}

/** "String '60'", "Integer 0", "ArrayList [a]": the type and the value, short and on one line. */
@NonCPS
String describe(value) {
  if (value == null) {
    return 'null'
  }
  String text = value instanceof CharSequence ? "'${value}'" : "${value}" // Groovy's rendering: [a:1], not {a=1}
  text = text.replace('\\', '\\\\').replace('\n', '\\n').replace('\r', '\\r')
  if (text.length() > 80) {
    text = text.substring(0, 77) + '...'
  }
  String type = value instanceof GString ? 'GString' : value.getClass().getSimpleName()
  return "${type} ${text}".toString()
}

@NonCPS
String unknownKey(String step, String key, Collection known) {
  String message = "${step}: unknown key '${key}'"
  String best = null
  int bestDistance = Integer.MAX_VALUE
  known.each { candidate ->
    int d = editDistance(key.toLowerCase(), candidate.toString().toLowerCase())
    if (d < bestDistance) {
      bestDistance = d
      best = candidate.toString()
    }
  }
  if (best != null && bestDistance <= Math.max(2, (int) (best.length() / 3))) {
    message += " (did you mean '${best}'?)"
  }
  return "${message}; valid keys: ${known.join(', ')}".toString()
}

/** Levenshtein distance, for "did you mean". */
@NonCPS
int editDistance(String a, String b) {
  int[] previous = new int[b.length() + 1]
  int[] current = new int[b.length() + 1]
  for (int j = 0; j <= b.length(); j++) {
    previous[j] = j
  }
  for (int i = 1; i <= a.length(); i++) {
    current[0] = i
    for (int j = 1; j <= b.length(); j++) {
      int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1
      current[j] = Math.min(Math.min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost)
    }
    int[] swap = previous
    previous = current
    current = swap
  }
  return previous[b.length()]
}

/**
 * One word for POSIX sh: the value inside single quotes, each ' written as '"'"' (close the
 * quote, a double-quoted ', reopen). Inside single quotes sh gives no character a meaning, so
 * spaces, quotes, $, backticks, backslashes and newlines all reach the command unchanged.
 */
@NonCPS
String quote(value) {
  return "'" + String.valueOf(value).replace("'", "'\"'\"'") + "'"
}

/**
 * The command line for `<cli> <subcommand> [options]` from a configured step map: one option per
 * key with a flag and a non-null value, in the map's order (a Boolean adds its flag when true;
 * replicas add one `--scale service=n` each). Every word after the CLI prefix is quoted, the
 * subcommand and option names too, so no rendered word is ever shell code.
 */
@NonCPS
String command(String subcommand, Map config) {
  List<String> words = [subcommand]
  config.each { String key, value ->
    Map spec = (Map) KEYS[key]
    if (value == null || spec == null || spec.flag == null) {
      return
    }
    if (spec.kind == 'boolean') {
      if (value) {
        words << (String) spec.flag
      }
    } else if (spec.kind == 'replicas') {
      value.each { service, count ->
        words << (String) spec.flag
        words << "${service}=${count}".toString()
      }
    } else {
      words << (String) spec.flag
      words << String.valueOf(value)
    }
  }
  List<String> quoted = []
  words.each { quoted << quote(it) }
  return "${config.cli} ${quoted.join(' ')}".toString()
}

/**
 * The commit a build should check out: the COMMIT parameter trimmed and lower-cased, or '' when
 * the build names none (a githubPush() build, "Build Now"). Anything but a commit id of 7 to 40
 * hexadecimal digits stops the build with error(), naming `who`, before an agent is taken: only a
 * commit id may become the git revision. Shared by envoyPipeline and Jenkinsfiles like this repo's.
 */
String commitToBuild(String who, value) {
  String commit = (value ?: '').toString().trim().toLowerCase()
  if (commit != '' && !(commit ==~ /[0-9a-f]{7,40}/)) {
    error("${who}: COMMIT must be a commit id of 7 to 40 hexadecimal digits, got '${value}'")
  }
  return commit
}
