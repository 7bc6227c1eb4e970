import com.lesfurets.jenkins.unit.MethodCall
import org.junit.Before
import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue

/**
 * The repository's own Jenkinsfile, run as Jenkins runs it: its `library(...)` step loads this
 * working copy (at the revision being built, see itLoadsTheLibraryAtTheRevisionBeingBuilt).
 */
class JenkinsfileTests extends BaseTest {
  public static final List<String> STAGES = ['Prepare', 'Test', 'Build', 'Deploy', 'Scale', 'Verify']
  public static final String CLI = 'node bin/envoy-pipeline.js'

  @Before
  void loadTheLibraryOnRequest() {
    registerLibrary(false)
  }

  int indexOfCall(String methodName, String pattern = '') {
    return helper.callStack.findIndexOf { MethodCall call -> call.methodName == methodName && call.argsToString().contains(pattern) }
  }

  @Test
  void itBuildsDeploysScalesVerifiesAndTearsDown() throws Exception {
    runScript('Jenkinsfile')
    printCallStack()

    assertJobStatusSuccess()
    assertEquals(STAGES, declarative.stagesRun)
    assertEquals('docker', declarative.agentLabel)
    assertEquals([], declarative.triggers)
    assertEquals([], declarative.timeouts)
    STAGES.each { assertTrue(it, declarative.stageTimeouts[it] != null) }
    assertEquals([
        [disableConcurrentBuilds: [abortPrevious: true]],
        [buildDiscarder: [logRotator: [numToKeepStr: '30']]],
        [timestamps: true],
    ], declarative.options)
    assertEquals([
        'sh scripts/bootstrap.sh',
        "${CLI} 'prepare'",
        'npm test',
        "${CLI} 'build'",
        "${CLI} 'deploy'",
        "${CLI} 'scale' '--scale' 'service1=3' '--scale' 'service2=3'",
        "${CLI} 'verify' '--scale' 'service1=3' '--scale' 'service2=3' '--report-dir' 'reports'",
        "${CLI} 'teardown'",
    ]*.toString(), shScripts())
  }

  @Test
  void itRecordsTheJunitReportAndArchivesTheHtmlReport() throws Exception {
    runScript('Jenkinsfile')

    assertTrue(assertMethodCallOccurrences('junit', 2))
    assertEquals([testResults: 'reports/junit.xml', allowEmptyResults: true, skipOldReports: true], callsTo('junit')[1].args[0])
    assertEquals([artifacts: 'reports/verify.html,reports/verify.css,reports/verify.json', allowEmptyArchive: true], callsTo('archiveArtifacts')[0].args[0])
    assertTrue(indexOfCall('sh', "'verify'") < indexOfCall('junit', 'reports/junit.xml'))
    assertTrue(indexOfCall('archiveArtifacts') < indexOfCall('sh', "'teardown'"))
    assertEquals([Test: ['always'], Verify: ['always']], declarative.stagePostRun)
  }

  @Test
  void itTearsDownWhenVerifyFails() throws Exception {
    shExitCode = { String s -> s.contains("'verify'") ? 1 : 0 }

    String message = pipelineErrorOf { runScript('Jenkinsfile') }

    assertEquals('script returned exit code 1', message)
    assertJobStatusFailure()
    assertEquals(STAGES, declarative.stagesRun)
    assertEquals(['Verify'], declarative.stagesFailed)
    assertTrue(assertMethodCallContainsPattern('junit', 'reports/junit.xml'))
    assertEquals("${CLI} 'teardown'".toString(), shScripts().last())
    assertEquals(['cleanup'], declarative.postRun)
  }

  @Test
  void itTearsDownWhenDeployFails() throws Exception {
    shExitCode = { String s -> s.contains("'deploy'") ? 1 : 0 }

    pipelineErrorOf { runScript('Jenkinsfile') }

    assertJobStatusFailure()
    assertEquals(['Prepare', 'Test', 'Build', 'Deploy'], declarative.stagesRun)
    assertEquals(['Deploy'], declarative.stagesFailed)
    assertEquals(['Scale', 'Verify'], declarative.stagesSkipped)
    assertEquals("${CLI} 'teardown'".toString(), shScripts().last())
    assertEquals(['cleanup'], declarative.postRun)
    // Verify never ran: the verify report (stale or not) is not recorded.
    assertFalse(assertMethodCallContainsPattern('junit', 'reports/junit.xml'))
  }

  @Test
  void itTearsDownWhenTheBootstrapFails() throws Exception {
    shExitCode = { String s -> s == 'sh scripts/bootstrap.sh' ? 1 : 0 }

    pipelineErrorOf { runScript('Jenkinsfile') }

    assertJobStatusFailure()
    assertEquals(['Prepare'], declarative.stagesFailed)
    assertEquals(['sh scripts/bootstrap.sh', "${CLI} 'teardown'".toString()], shScripts())
  }

  // The webhook's Jenkins trigger (envoy-pipeline webhook --trigger jenkins) queues builds with
  // COMMIT and BRANCH: the Jenkinsfile declares them and builds COMMIT when it is set.

  public static final String SHA = '0123456789abcdef0123456789abcdef01234567'

  @Test
  void itDeclaresTheCommitAndBranchParameters() throws Exception {
    runScript('Jenkinsfile')

    assertEquals(['COMMIT', 'BRANCH'], declarative.parameters*.name)
    declarative.parameters.each { Map p ->
      assertEquals(p.name, 'string', p.type)
      assertEquals(p.name, '', p.defaultValue)
      assertTrue(p.name, (p.description as String).contains('envoy-pipeline webhook'))
    }
  }

  @Test
  void itChecksOutCommitBeforePrepareWhenItIsSet() throws Exception {
    params.COMMIT = SHA
    params.BRANCH = 'main'

    runScript('Jenkinsfile')
    printCallStack()

    assertJobStatusSuccess()
    assertEquals(['Checkout'] + STAGES, declarative.stagesRun)
    assertTrue(assertMethodCallOccurrences('checkout', 1))
    assertEquals([$class: 'GitSCM', branches: [[name: SHA]], userRemoteConfigs: scm.userRemoteConfigs], callsTo('checkout')[0].args[0])
    assertTrue('checkout before the bootstrap of Prepare', indexOfCall('checkout') < indexOfCall('sh', 'scripts/bootstrap.sh'))
    assertEquals('sh scripts/bootstrap.sh', shScripts().first())
    assertEquals([[identifier: "envoy-pipeline@${SHA}".toString(),
                   retriever: [legacySCM: [$class: 'GitSCM', branches: [[name: SHA]], userRemoteConfigs: scm.userRemoteConfigs]]]],
        libraryCalls)
  }

  @Test
  void itTakesAShortOrUpperCaseCommitWithSpacesAround() throws Exception {
    params.COMMIT = ' 0123ABC\n'

    runScript('Jenkinsfile')

    assertEquals([[name: '0123abc']], callsTo('checkout')[0].args[0].branches)
  }

  @Test
  void itFailsOnAMalformedCommitBeforeAnyStage() throws Exception {
    ['main', '0123ab', SHA + '8', 'g123456', "${SHA[0..9]}; touch /tmp/pwned".toString(), '$(id)', 'HEAD~1'].each { String bad ->
      params.COMMIT = bad
      shCalls.clear()

      String message = pipelineErrorOf { runScript('Jenkinsfile') }

      assertEquals(("Jenkinsfile: COMMIT must be a commit id of 7 to 40 hexadecimal digits, got '" + bad + "'").toString(), message)
      assertJobStatusFailure()
      assertFalse("no pipeline for ${bad}".toString(), assertMethodCall('pipeline'))
      assertFalse(assertMethodCall('checkout'))
      assertTrue('the library is not loaded at a bad revision', libraryCalls.isEmpty())
      assertTrue('no sh (so no docker) ran', shScripts().isEmpty())
      assertEquals([], declarative.stagesRun)
    }
  }

  @Test
  void itDoesNotCheckOutWithoutCommit() throws Exception {
    [[:], [COMMIT: '', BRANCH: ''], [COMMIT: '  ']].each { Map given ->
      setUp()
      registerLibrary(false)
      params.clear()
      params.putAll(given)

      runScript('Jenkinsfile')

      assertJobStatusSuccess()
      assertFalse("checkout with ${given}".toString(), assertMethodCall('checkout'))
      assertEquals(['Checkout'], declarative.stagesSkippedByWhen)
      assertEquals(STAGES, declarative.stagesRun)
    }
  }

  // Defect 5: the library comes from the revision being built, not the controller's default version.

  @Test
  void itLoadsTheLibraryAtTheRevisionBeingBuilt() throws Exception {
    runScript('Jenkinsfile')

    assertEquals([[identifier: 'envoy-pipeline@build', retriever: [legacySCM: scm]]], libraryCalls)
    assertTrue('loaded before any stage', indexOfCall('library') < indexOfCall('pipeline'))
    assertFalse('no @Library: it would load the default version', new File(LIBRARY_ROOT, 'Jenkinsfile').text.contains('@Library('))
  }

  // The project's own tests, recorded with junit.

  @Test
  void itRunsTheProjectsOwnTestsAndRecordsThem() throws Exception {
    runScript('Jenkinsfile')

    assertEquals('Test', declarative.stagesRun[1])
    assertTrue(indexOfCall('sh', 'npm test') < indexOfCall('sh', "'build'"))
    assertEquals([testResults: 'build/test-results/vitest.xml,jenkins-test/target/surefire-reports/*.xml', skipOldReports: true],
        callsTo('junit')[0].args[0])
    assertTrue(indexOfCall('sh', 'npm test') < indexOfCall('junit', 'vitest.xml'))
  }

  @Test
  void failingTestsAreRecordedAndStopTheBuildBeforeDocker() throws Exception {
    shExitCode = { String s -> s == 'npm test' ? 1 : 0 }

    pipelineErrorOf { runScript('Jenkinsfile') }

    assertEquals(['Test'], declarative.stagesFailed)
    assertTrue(assertMethodCallContainsPattern('junit', 'vitest.xml'))
    assertFalse(shScripts().any { it.contains("'build'") })
    assertEquals("${CLI} 'teardown'".toString(), shScripts().last())
  }

  @Test
  void itTearsDownInCleanupEvenWhenJunitThrows() throws Exception {
    helper.registerAllowedMethod('junit', [Map], { Map args -> throw new support.PipelineError('junit: no test report files were found') })

    pipelineErrorOf { runScript('Jenkinsfile') }

    assertEquals("${CLI} 'teardown'".toString(), shScripts().last())
    assertEquals(['cleanup'], declarative.postRun)
  }

  @Test
  void itEmptiesTheReportFolderInPrepare() throws Exception {
    runScript('Jenkinsfile')

    assertTrue(indexOfCall('dir', 'reports') < indexOfCall('deleteDir'))
    assertTrue(indexOfCall('deleteDir') < indexOfCall('sh', 'bootstrap'))
  }
}
