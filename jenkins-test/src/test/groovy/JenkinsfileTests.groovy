import com.lesfurets.jenkins.unit.MethodCall
import org.junit.Before
import org.junit.Test

import static org.junit.Assert.assertEquals
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
}
