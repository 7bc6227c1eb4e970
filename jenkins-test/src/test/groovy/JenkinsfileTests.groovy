import com.lesfurets.jenkins.unit.MethodCall
import org.junit.Before
import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue

/** The repository's own Jenkinsfile, run as Jenkins runs it: `@Library('envoy-pipeline') _` loads this working copy. */
class JenkinsfileTests extends BaseTest {
  public static final List<String> STAGES = ['Prepare', 'Build', 'Deploy', 'Scale', 'Verify']
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
    assertEquals(['githubPush'], declarative.triggers)
    assertEquals([[time: 30, unit: 'MINUTES']], declarative.timeouts)
    assertEquals([
        'sh scripts/bootstrap.sh',
        "${CLI} 'prepare'",
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

    assertTrue(assertMethodCallOccurrences('junit', 1))
    assertEquals([testResults: 'reports/junit.xml', allowEmptyResults: true], callsTo('junit')[0].args[0])
    assertEquals([artifacts: 'reports/verify.html,reports/verify.json', allowEmptyArchive: true], callsTo('archiveArtifacts')[0].args[0])
    assertTrue(indexOfCall('sh', "'verify'") < indexOfCall('junit'))
    assertTrue(indexOfCall('archiveArtifacts') < indexOfCall('sh', "'teardown'"))
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
  }

  @Test
  void itTearsDownWhenDeployFails() throws Exception {
    shExitCode = { String s -> s.contains("'deploy'") ? 1 : 0 }

    pipelineErrorOf { runScript('Jenkinsfile') }

    assertJobStatusFailure()
    assertEquals(['Prepare', 'Build', 'Deploy'], declarative.stagesRun)
    assertEquals(['Deploy'], declarative.stagesFailed)
    assertEquals(['Scale', 'Verify'], declarative.stagesSkipped)
    assertEquals("${CLI} 'teardown'".toString(), shScripts().last())
    assertEquals(['always'], declarative.postRun)
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
}
