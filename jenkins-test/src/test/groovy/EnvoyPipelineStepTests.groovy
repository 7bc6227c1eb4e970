import com.lesfurets.jenkins.unit.MethodCall
import org.junit.Before
import org.junit.Test
import support.PipelineError

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue

class EnvoyPipelineStepTests extends BaseTest {
  public static final String scriptName = 'vars/envoyPipeline.groovy'
  public static final List<String> STAGES = ['Prepare', 'Build', 'Deploy', 'Scale', 'Verify']

  @Before
  void loadTheLibrary() {
    // envoyPipeline calls the other steps: load the whole library, as Jenkins does.
    registerLibrary(true)
  }

  /** Index of the first call of `methodName` whose arguments contain `pattern` on the call stack. */
  int indexOfCall(String methodName, String pattern = '') {
    return helper.callStack.findIndexOf { MethodCall call -> call.methodName == methodName && call.argsToString().contains(pattern) }
  }

  Map onlyArgs(String methodName) {
    List<MethodCall> calls = callsTo(methodName)
    assertEquals("${methodName} calls".toString(), 1, calls.size())
    return calls[0].args[0] as Map
  }

  @Test
  void itRunsTheFiveStagesInOrderWithDefaults() throws Exception {
    def script = loadScript(scriptName)

    script.call()
    printCallStack()

    assertJobStatusSuccess()
    assertEquals(STAGES, declarative.stagesRun)
    assertEquals('docker', declarative.agentLabel)
    assertEquals('no pipeline-wide timeout (it would also cut post)', [], declarative.timeouts)
    STAGES.each { assertEquals(it, [time: 30, unit: 'MINUTES'], declarative.stageTimeouts[it]) }
    assertEquals([], declarative.triggers)
    assertEquals([
        (DEFAULT_CLI + " 'prepare'"),
        (DEFAULT_CLI + " 'build'"),
        (DEFAULT_CLI + " 'deploy'"),
        (DEFAULT_CLI + " 'scale' '--scale' 'service1=3' '--scale' 'service2=3'"),
        (DEFAULT_CLI + " 'verify' '--scale' 'service1=3' '--scale' 'service2=3' '--report-dir' 'reports'"),
        (DEFAULT_CLI + " 'teardown'"),
    ], shScripts())
    assertEquals(['cleanup'], declarative.postRun)
    assertEquals([Verify: ['always']], declarative.stagePostRun)
  }

  @Test
  void itRunsEveryStageOnTheGivenTarget() throws Exception {
    def script = loadScript(scriptName)

    script.call(target: 'swarm')

    assertJobStatusSuccess()
    assertEquals([
        (DEFAULT_CLI + " 'prepare' '--target' 'swarm'"),
        (DEFAULT_CLI + " 'build' '--target' 'swarm'"),
        (DEFAULT_CLI + " 'deploy' '--target' 'swarm'"),
        (DEFAULT_CLI + " 'scale' '--target' 'swarm' '--scale' 'service1=3' '--scale' 'service2=3'"),
        (DEFAULT_CLI + " 'verify' '--target' 'swarm' '--scale' 'service1=3' '--scale' 'service2=3' '--report-dir' 'reports'"),
        (DEFAULT_CLI + " 'teardown' '--target' 'swarm'"),
    ], shScripts())
  }

  @Test
  void itRejectsAnUnknownTargetBeforeAnyStage() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(target: 'k8s') }

    assertEquals("envoyPipeline: 'target' must be one of 'compose', 'swarm', got String 'k8s'", message)
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itRecordsAndArchivesTheVerifyReportThenTearsDown() throws Exception {
    def script = loadScript(scriptName)

    script.call()

    assertEquals([testResults: 'reports/junit.xml', allowEmptyResults: true, skipOldReports: true], onlyArgs('junit'))
    assertEquals([artifacts: 'reports/verify.html,reports/verify.css,reports/verify.json', allowEmptyArchive: true], onlyArgs('archiveArtifacts'))
    int verify = indexOfCall('sh', "'verify'")
    int junit = indexOfCall('junit')
    int archive = indexOfCall('archiveArtifacts')
    int teardown = indexOfCall('sh', "'teardown'")
    assertTrue("verify ${verify} < junit ${junit} < archive ${archive} < teardown ${teardown}".toString(),
        0 <= verify && verify < junit && junit < archive && archive < teardown)
  }

  @Test
  void itPassesACustomConfigToEveryStage() throws Exception {
    def script = loadScript(scriptName)

    script.call(cli: 'node bin/envoy-pipeline.js', agentLabel: 'linux && docker', timeoutMinutes: 45,
        replicas: [service1: 4, service2: 2], requests: 900, concurrency: 16, project: 'shop-7',
        composeFile: 'stack/compose.yml', listenerPort: 0, forceLocal: true, removeImages: true, reportDir: 'out/envoy',
        discovery: 'xds')

    assertJobStatusSuccess()
    assertEquals('linux && docker', declarative.agentLabel)
    STAGES.each { assertEquals(it, [time: 45, unit: 'MINUTES'], declarative.stageTimeouts[it]) }
    String common = "'--compose-file' 'stack/compose.yml' '--project' 'shop-7'"
    assertEquals([
        "node bin/envoy-pipeline.js 'prepare' ${common} '--force-local'",
        "node bin/envoy-pipeline.js 'build' ${common}",
        "node bin/envoy-pipeline.js 'deploy' ${common} '--listener-port' '0' '--discovery' 'xds'",
        "node bin/envoy-pipeline.js 'scale' ${common} '--scale' 'service1=4' '--scale' 'service2=2'",
        "node bin/envoy-pipeline.js 'verify' ${common} '--scale' 'service1=4' '--scale' 'service2=2' '--requests' '900' '--concurrency' '16' '--report-dir' 'out/envoy'",
        "node bin/envoy-pipeline.js 'teardown' ${common} '--remove-images'",
    ]*.toString(), shScripts())
    assertEquals('out/envoy/junit.xml', onlyArgs('junit').testResults)
    assertEquals('out/envoy/verify.html,out/envoy/verify.css,out/envoy/verify.json', onlyArgs('archiveArtifacts').artifacts)
  }

  @Test
  void itTearsDownAndFailsTheBuildWhenVerifyFails() throws Exception {
    def script = loadScript(scriptName)
    shExitCode = { String s -> s.contains("'verify'") ? 1 : 0 }

    String message = pipelineErrorOf { script.call() }

    assertEquals('script returned exit code 1', message)
    assertJobStatusFailure()
    assertEquals(STAGES, declarative.stagesRun)
    assertEquals(['Verify'], declarative.stagesFailed)
    // The report of the failed checks is still recorded and archived, and the stack removed
    assertTrue(assertMethodCallContainsPattern('junit', 'reports/junit.xml'))
    assertTrue(assertMethodCallContainsPattern('archiveArtifacts', 'reports/verify.html'))
    assertEquals((DEFAULT_CLI + " 'teardown'"), shScripts().last())
  }

  @Test
  void itSkipsTheLaterStagesTearsDownAndFailsWhenDeployFails() throws Exception {
    def script = loadScript(scriptName)
    shExitCode = { String s -> s.contains("'deploy'") ? 2 : 0 }

    String message = pipelineErrorOf { script.call() }

    assertEquals('script returned exit code 2', message)
    assertJobStatusFailure()
    assertEquals(['Prepare', 'Build', 'Deploy'], declarative.stagesRun)
    assertEquals(['Scale', 'Verify'], declarative.stagesSkipped)
    assertFalse(shScripts().any { it.contains("'scale'") || it.contains("'verify'") })
    assertEquals((DEFAULT_CLI + " 'teardown'"), shScripts().last())
    assertEquals(['cleanup'], declarative.postRun)
    // Defect 3: Verify never ran, so nothing (least of all an earlier build's report) is recorded.
    assertFalse(assertMethodCall('junit'))
    assertFalse(assertMethodCall('archiveArtifacts'))
  }

  @Test
  void itRejectsABadConfigBeforeThePipelineStarts() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(agent: 'docker', timeoutMinutes: '30', replicas: [service1: 0]) }

    assertEquals([
        "envoyPipeline: unknown key 'agent'; valid keys: cli, configFile, composeFile, project, waitTimeout, target, agentLabel, " +
            "timeoutMinutes, teardownTimeoutMinutes, trigger, abortPrevious, keepBuilds, forceLocal, listenerPort, adminPort, " +
            "discovery, replicas, requests, concurrency, reportDir, removeImages",
        "envoyPipeline: 'timeoutMinutes' must be an Integer from 1 to 1440 (minutes), got String '30'",
        "envoyPipeline: 'replicas.service1' must be an Integer from 1 to 50 (replicas), got Integer 0",
    ], message.readLines())
    assertFalse('no pipeline may start on a bad config', assertMethodCall('pipeline'))
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itSuggestsAgentLabelForAMisspelling() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(agentlabel: 'docker') }

    assertTrue(message, message.startsWith("envoyPipeline: unknown key 'agentlabel' (did you mean 'agentLabel'?)"))
  }

  @Test
  void itNeedsAReportDirThatJunitAndArchiveArtifactsCanRead() throws Exception {
    def script = loadScript(scriptName)

    ['/tmp/reports', '../reports', 'reports/*', 'a b', 'r,s', ''].each { String dir ->
      String message = pipelineErrorOf { script.call(reportDir: dir) }
      assertTrue(message, message.startsWith("envoyPipeline: 'reportDir' must be a relative path inside the workspace"))
    }
    assertFalse(assertMethodCall('pipeline'))
  }

  @Test
  void anEmptyAgentLabelMeansAnyAgent() throws Exception {
    def script = loadScript(scriptName)

    script.call(agentLabel: '')

    assertEquals('', declarative.agentLabel)
    assertJobStatusSuccess()
  }

  // COMMIT and BRANCH: what `envoy-pipeline webhook --trigger jenkins` sends with buildWithParameters.

  public static final String SHA = 'fedcba9876543210fedcba9876543210fedcba98'

  @Test
  void itDeclaresTheCommitAndBranchParameters() throws Exception {
    loadScript(scriptName).call()

    assertEquals(['COMMIT', 'BRANCH'], declarative.parameters*.name)
    assertEquals(['string', 'string'], declarative.parameters*.type)
    assertEquals(['', ''], declarative.parameters*.defaultValue)
  }

  @Test
  void itChecksOutCommitBeforePrepareWhenItIsSet() throws Exception {
    params.COMMIT = SHA
    params.BRANCH = 'release'

    loadScript(scriptName).call(cli: 'node bin/envoy-pipeline.js')

    assertJobStatusSuccess()
    assertEquals(['Checkout'] + STAGES, declarative.stagesRun)
    assertEquals([$class: 'GitSCM', branches: [[name: SHA]], userRemoteConfigs: scm.userRemoteConfigs], onlyArgs('checkout'))
    assertTrue('checkout before the first stage command', indexOfCall('checkout') < indexOfCall('sh', "'prepare'"))
    assertEquals("node bin/envoy-pipeline.js 'prepare'", shScripts().first())
  }

  @Test
  void itFailsOnAMalformedCommitBeforeAnyStage() throws Exception {
    ['release', 'abc', SHA + '0', "${SHA[0..7]} && docker ps".toString(), '`id`'].each { String bad ->
      params.COMMIT = bad
      def script = loadScript(scriptName)

      String message = pipelineErrorOf { script.call() }

      assertEquals(("envoyPipeline: COMMIT must be a commit id of 7 to 40 hexadecimal digits, got '" + bad + "'").toString(), message)
      assertJobStatusFailure()
      assertFalse(assertMethodCall('pipeline'))
      assertFalse(assertMethodCall('checkout'))
      assertTrue('no stage ran docker', shScripts().isEmpty())
      assertEquals([], declarative.stagesRun)
    }
  }

  @Test
  void itDoesNotCheckOutWithoutCommit() throws Exception {
    params.COMMIT = ''
    params.BRANCH = ''

    loadScript(scriptName).call()

    assertJobStatusSuccess()
    assertFalse(assertMethodCall('checkout'))
    assertEquals(['Checkout'], declarative.stagesSkippedByWhen)
    assertEquals(STAGES, declarative.stagesRun)
  }
}
