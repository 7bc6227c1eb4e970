import com.lesfurets.jenkins.unit.MethodCall
import org.junit.Before
import org.junit.Test
import support.PipelineError

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertNull
import static org.junit.Assert.assertTrue

/**
 * envoyPipeline on a real controller (issue 10): what a Jenkins user expects around the stages.
 * Each test here fails on the library before issue 10.
 */
class EnvoyPipelineControllerTests extends BaseTest {
  public static final String scriptName = 'vars/envoyPipeline.groovy'

  @Before
  void loadTheLibrary() {
    registerLibrary(true)
  }

  int indexOfCall(String methodName, String pattern = '') {
    return helper.callStack.findIndexOf { MethodCall call -> call.methodName == methodName && call.argsToString().contains(pattern) }
  }

  // Defect 1: the CLI comes from the library's own version, never from an unpinned registry name.

  @Test
  void theDefaultCliIsThePackageOfTheLoadedLibraryVersion() {
    loadScript(scriptName).call()

    assertTrue(shScripts().every { it.startsWith(DEFAULT_CLI + ' ') })
    assertFalse(shScripts().any { it.startsWith('npx --yes envoy-pipeline') })
  }

  @Test
  void withoutACliSourceItStopsBeforeThePipelineNamingTheSetting() {
    env.remove('ENVOY_PIPELINE_CLI_PACKAGE')

    String message = pipelineErrorOf { loadScript(scriptName).call() }

    assertTrue(message, message.startsWith('envoyPipeline: no CLI: set the Jenkins environment variable ENVOY_PIPELINE_CLI_PACKAGE'))
    assertFalse(assertMethodCall('pipeline'))
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void aCliSourceWithoutTheVersionIsRefused() {
    env.ENVOY_PIPELINE_CLI_PACKAGE = 'envoy-pipeline'

    String message = pipelineErrorOf { loadScript(scriptName).call() }

    assertTrue(message, message.startsWith('envoyPipeline: ENVOY_PIPELINE_CLI_PACKAGE must be one line with {version} in it'))
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void withoutTheLibraryVersionItStops() {
    env.remove('library.envoy-pipeline.version')

    String message = pipelineErrorOf { loadScript(scriptName).call() }

    assertEquals("envoyPipeline: env.library.envoy-pipeline.version is not set: load this library under the name 'envoy-pipeline' (or pass cli), so that the CLI matches it", message)
  }

  @Test
  void anExplicitCliNeedsNoCliSource() {
    env.remove('ENVOY_PIPELINE_CLI_PACKAGE')
    env.remove('library.envoy-pipeline.version')

    loadScript(scriptName).call(cli: 'node bin/envoy-pipeline.js')

    assertJobStatusSuccess()
    assertEquals("node bin/envoy-pipeline.js 'prepare'", shScripts().first())
  }

  // Defect 2: the teardown runs in post { cleanup }, under its own timeout, whatever post did.

  @Test
  void theTeardownRunsInCleanupEvenWhenJunitAndArchiveArtifactsThrow() {
    helper.registerAllowedMethod('junit', [Map], { Map args -> throw new PipelineError('junit: no test report files were found') })
    helper.registerAllowedMethod('archiveArtifacts', [Map], { Map args -> throw new PipelineError('archiveArtifacts: disk full') })

    String message = pipelineErrorOf { loadScript(scriptName).call() }

    assertEquals('junit: no test report files were found', message)
    assertJobStatusFailure()
    assertEquals((DEFAULT_CLI + " 'teardown'"), shScripts().last())
    assertEquals(['cleanup'], declarative.postRun)
  }

  @Test
  void theTeardownHasItsOwnTimeoutAndNoPipelineWideTimeoutCoversPost() {
    List<Map> wrapped = []
    helper.registerAllowedMethod('timeout', [Map, Closure], { Map args, Closure body ->
      int before = shCalls.size()
      helper.callClosure(body)
      wrapped << (args + [scripts: shCalls.drop(before)*.script])
    })

    loadScript(scriptName).call(teardownTimeoutMinutes: 7)

    assertEquals([[time: 7, unit: 'MINUTES', scripts: [DEFAULT_CLI + " 'teardown'"]]], wrapped)
    assertEquals([], declarative.timeouts)
  }

  // Defect 3: no stale reports.

  @Test
  void theReportFolderIsEmptiedInPrepareBeforeAnythingRuns() {
    loadScript(scriptName).call(reportDir: 'out/envoy')

    assertTrue(assertMethodCallContainsPattern('dir', 'out/envoy'))
    int dir = indexOfCall('dir', 'out/envoy')
    int delete = indexOfCall('deleteDir')
    int preflight = indexOfCall('sh', 'envoy-pipeline preflight')
    assertTrue("dir ${dir} < deleteDir ${delete} < preflight ${preflight}".toString(), 0 <= dir && dir < delete && delete < preflight)
  }

  @Test
  void junitSkipsReportsOlderThanTheBuild() {
    loadScript(scriptName).call()

    assertEquals(true, callsTo('junit')[0].args[0].skipOldReports)
  }

  // Defect 6: no trigger unless asked; githubPush never inside pipeline {}.

  @Test
  void noTriggerByDefault() {
    loadScript(scriptName).call()

    assertFalse(assertMethodCall('githubPush'))
    assertFalse(assertMethodCall('properties'))
    assertEquals([], declarative.triggers)
  }

  @Test
  void theGithubPushTriggerIsAJobPropertyOnRequest() {
    loadScript(scriptName).call(trigger: 'githubPush')

    assertTrue(assertMethodCallOccurrences('properties', 1))
    assertEquals([[pipelineTriggers: ['githubPush']]], callsTo('properties')[0].args[0])
    assertTrue('set before the pipeline runs', indexOfCall('properties') < indexOfCall('pipeline'))
    assertEquals([], declarative.triggers)
  }

  @Test
  void anUnknownTriggerIsRejected() {
    String message = pipelineErrorOf { loadScript(scriptName).call(trigger: 'github') }

    assertEquals("envoyPipeline: 'trigger' must be one of 'none', 'githubPush', got String 'github'", message)
  }

  /** Declarative would reject the whole pipeline for an unknown trigger symbol, taken branch or not. */
  @Test
  void thePipelineBlockNamesNoPluginTrigger() {
    String source = new File(LIBRARY_ROOT, scriptName).text
    String pipelineBlock = source.substring(source.indexOf('  pipeline {'))
    assertFalse(pipelineBlock.contains('triggers'))
    assertFalse(pipelineBlock.contains('githubPush'))
  }

  // What a Jenkins user also expects: options.

  @Test
  void itAbortsThePreviousBuildKeepsThirtyBuildsAndTimestamps() {
    loadScript(scriptName).call()

    assertEquals([
        [disableConcurrentBuilds: [abortPrevious: true]],
        [buildDiscarder: [logRotator: [numToKeepStr: '30']]],
        [timestamps: true],
    ], declarative.options)
  }

  @Test
  void theOptionsAreKeys() {
    loadScript(scriptName).call(abortPrevious: false, keepBuilds: 5)

    assertEquals([abortPrevious: false], declarative.options[0].disableConcurrentBuilds)
    assertEquals([logRotator: [numToKeepStr: '5']], declarative.options[1].buildDiscarder)
  }

  @Test
  void badOptionValuesAreRejected() {
    String message = pipelineErrorOf { loadScript(scriptName).call(abortPrevious: 'yes', keepBuilds: 0, teardownTimeoutMinutes: 0) }

    assertEquals([
        "envoyPipeline: 'teardownTimeoutMinutes' must be an Integer from 1 to 120 (minutes), got Integer 0",
        "envoyPipeline: 'abortPrevious' must be a Boolean (true or false), got String 'yes'",
        "envoyPipeline: 'keepBuilds' must be an Integer from 1 to 1000 (builds), got Integer 0",
    ], message.readLines())
  }

  // junit in Verify's own post.

  @Test
  void theReportIsRecordedInVerifysOwnPost() {
    shExitCode = { String s -> s.contains("'verify'") ? 1 : 0 }

    pipelineErrorOf { loadScript(scriptName).call() }

    assertEquals([Verify: ['always']], declarative.stagePostRun)
    assertEquals(['Verify'], declarative.stagesFailed)
    assertTrue(indexOfCall('junit') < indexOfCall('sh', "'teardown'"))
  }

  // Defect 8: the agent preflight runs first in Prepare.

  @Test
  void prepareChecksTheAgentFirst() {
    loadScript(scriptName).call()

    assertEquals(1, preflightCalls().size())
    String preflight = preflightCalls()[0].script
    assertTrue(preflight.startsWith("ENVOY_PIPELINE_PREFLIGHT_CLI='npx --yes --package='\"'\"'git+https://git.example.com/ci/envoy-pipeline.git#v1.4.0'\"'\"' envoy-pipeline'\nENVOY_PIPELINE_NODE_MIN='22.22.0'\n"))
    assertTrue(preflight.contains('envoy-pipeline preflight: ok'))
    assertTrue(shCalls.indexOf(preflightCalls()[0]) < shCalls.findIndexOf { it.script.contains("'prepare'") })
  }
}
