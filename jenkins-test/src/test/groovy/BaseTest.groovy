import com.lesfurets.jenkins.unit.cps.BasePipelineTestCPS
import com.lesfurets.jenkins.unit.MethodCall
import org.junit.Before
import support.CpsTestHelper
import support.DeclarativeDsl
import support.PipelineError
import support.WorkingCopySource

import static com.lesfurets.jenkins.unit.MethodCall.callArgsToString
import static com.lesfurets.jenkins.unit.global.lib.LibraryConfiguration.library
import static org.junit.Assert.assertEquals
import static org.junit.Assert.fail

/**
 * Base of every step test, after jenkins-infra/pipeline-library's BaseTest: registers the pipeline
 * steps the library uses as mocks on JenkinsPipelineUnit's helper, records every `sh`, and adds the
 * Declarative DSL (support.DeclarativeDsl) that JenkinsPipelineUnit 1.1 does not have.
 */
abstract class BaseTest extends BasePipelineTestCPS {
  /** The library's checkout: the folder holding vars/, resources/ and the Jenkinsfile. */
  public static final File LIBRARY_ROOT = new File(System.getProperty('envoy.library.root', '..')).canonicalFile

  /** Where the controller says the CLI comes from (a Jenkins global environment variable). */
  public static final String CLI_PACKAGE = 'git+https://git.example.com/ci/envoy-pipeline.git#{version}'
  /** The library version Jenkins loaded, as Jenkins reports it. */
  public static final String LIBRARY_VERSION = 'v1.4.0'
  /** The default cli those two give: the CLI of exactly the library version loaded. */
  public static final String DEFAULT_CLI = "npx --yes --package='git+https://git.example.com/ci/envoy-pipeline.git#v1.4.0' envoy-pipeline"

  Map env = [BUILD_TAG: 'jenkins-envoy-app-main-42', BUILD_NUMBER: '42', WORKSPACE: '/workspace/envoy-app',
             ENVOY_PIPELINE_CLI_PACKAGE: CLI_PACKAGE, 'library.envoy-pipeline.version': LIBRARY_VERSION]

  /** The library(...) steps a Jenkinsfile ran, with their arguments. */
  List<Map> libraryCalls = []

  /** The build's parameters (`params`): none, as in a build started by a push or by "Build Now". */
  Map params = [:]

  /** The job's SCM as `scm` shows it: a GitSCM's remote and credentials. */
  Map scm = [userRemoteConfigs: [[url: 'https://github.com/example/envoy-app.git', credentialsId: 'github-app']]]

  /** Every `sh` call as the step got it: [script: ..., label: ...] (a plain string becomes [script: it]). */
  List<Map> shCalls = []

  /** The exit code each `sh` script returns; a test replaces it to make a stage fail. */
  Closure<Integer> shExitCode = { String script -> 0 }

  DeclarativeDsl declarative

  BaseTest() {
    helper = new CpsTestHelper()
  }

  @Before
  void setUp() throws Exception {
    // A fresh build each time (some tests set up several in one method): under CPS the binding is
    // part of the program's saved state, and must not hold the vars of an earlier library load.
    binding = new Binding()
    scriptRoots = [LIBRARY_ROOT.path] as String[]
    baseScriptRoot = LIBRARY_ROOT.path
    super.setUp()

    binding.setVariable('env', env)
    binding.setVariable('params', params)
    binding.setVariable('scm', scm)
    // `agent any` / `agent none` read these as variables.
    binding.setVariable('any', 'any')
    binding.setVariable('none', 'none')

    helper.registerAllowedMethod('error', [String], { String message ->
      updateBuildStatus('FAILURE')
      throw new PipelineError(message)
    })
    helper.registerAllowedMethod('sh', [String], { String script -> runSh([script: script]) })
    helper.registerAllowedMethod('sh', [Map], { Map args -> runSh(args) })
    helper.registerAllowedMethod('junit', [Map], null)
    helper.registerAllowedMethod('archiveArtifacts', [Map], null)
    helper.registerAllowedMethod('echo', [String], null)
    helper.registerAllowedMethod('checkout', [Map], null)
    helper.registerAllowedMethod('libraryResource', [String], { String path ->
      new File(LIBRARY_ROOT, "resources/${path}").getText('UTF-8')
    })
    helper.registerAllowedMethod('dir', [String, Closure], { String path, Closure body -> helper.callClosure(body) })
    helper.registerAllowedMethod('deleteDir', [], null)
    helper.registerAllowedMethod('timeout', [Map, Closure], { Map args, Closure body -> helper.callClosure(body) })
    helper.registerAllowedMethod('properties', [List], null)
    helper.registerAllowedMethod('pipelineTriggers', [List], { List triggers -> [pipelineTriggers: triggers] })
    helper.registerAllowedMethod('legacySCM', [Object], { scm -> [legacySCM: scm] })
    // The library step: loads the library (served from this working copy) and binds its vars, as
    // Jenkins does for a library loaded at run time.
    helper.registerAllowedMethod('library', [Map], { Map args ->
      libraryCalls << [identifier: String.valueOf(args.identifier), retriever: args.retriever]
      helper.libLoader.loadLibrary(args.identifier as String)
      helper.setGlobalVars(binding)
      return null
    })

    declarative = new DeclarativeDsl(this)
    declarative.register(helper)

    // What the steps find as `envoyPipelineSupport` when a test loads one var on its own (with the
    // library loaded, JenkinsPipelineUnit binds every var of the library instead).
    binding.setVariable('envoyPipelineSupport', loadScript('vars/envoyPipelineSupport.groovy'))
  }

  /**
   * Makes the library available as 'envoy-pipeline', served from this working copy. implicit:
   * loaded for every script, as a global library marked "Load implicitly" is; otherwise only by
   * `@Library('envoy-pipeline') _`.
   */
  void registerLibrary(boolean implicit) {
    helper.registerSharedLibrary(library('envoy-pipeline')
        .defaultVersion('main')
        .allowOverride(true)
        .implicit(implicit)
        .targetPath(LIBRARY_ROOT.path)
        .retriever(new WorkingCopySource(LIBRARY_ROOT))
        .build())
  }

  Object runSh(Map args) {
    Map call = new LinkedHashMap(args)
    call.script = String.valueOf(args.script)
    shCalls << call
    int exit = shExitCode(call.script as String)
    if (args.returnStatus) {
      return exit
    }
    if (exit != 0) {
      throw new PipelineError("script returned exit code ${exit}")
    }
    return args.returnStdout ? '' : null
  }

  public static final String PREFLIGHT_LABEL = 'envoy-pipeline preflight'

  /** The scripts given to `sh`, in order, without envoyPrepare's agent preflight (see preflightCalls). */
  List<String> shScripts() {
    return shCalls.findAll { it.label != PREFLIGHT_LABEL }.collect { it.script as String }
  }

  /** envoyPrepare's agent preflights (resources/io/envoypipeline/preflight.sh). */
  List<Map> preflightCalls() {
    return shCalls.findAll { it.label == PREFLIGHT_LABEL }
  }

  /** Runs `body`, which must end with PipelineError (what `error` and a failing `sh` throw); returns its message. */
  static String pipelineErrorOf(Closure body) {
    try {
      body()
    } catch (PipelineError expected) {
      return expected.message
    }
    fail('expected the step to fail with error(...)')
    return null
  }

  List<MethodCall> callsTo(String methodName) {
    return helper.callStack.findAll { it.methodName == methodName }
  }

  // The call-stack assertions of jenkins-infra/pipeline-library's BaseTest.

  boolean assertMethodCallContainsPattern(String methodName, String pattern) {
    return callsTo(methodName).any { callArgsToString(it).contains(pattern) }
  }

  boolean assertMethodCall(String methodName) {
    return !callsTo(methodName).isEmpty()
  }

  boolean assertMethodCallOccurrences(String methodName, int expected) {
    return callsTo(methodName).size() == expected
  }

  void assertBuildResult(String expected) {
    assertEquals(expected, binding.getVariable('currentBuild').result)
  }
}
