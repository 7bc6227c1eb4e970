import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

class EnvoyVerifyStepTests extends BaseTest {
  public static final String scriptName = 'vars/envoyVerify.groovy'

  @Test
  void itVerifiesIntoTheDefaultReportDir() throws Exception {
    def script = loadScript(scriptName)

    script.call()
    printCallStack()

    assertJobStatusSuccess()
    // The report folder is always passed, so junit/archiveArtifacts know where to look
    assertEquals([(DEFAULT_CLI + " 'verify' '--report-dir' 'reports'")], shScripts())
    assertEquals('envoy-pipeline verify', shCalls[0].label)
  }

  @Test
  void itRendersRequestsConcurrencyReportDirAndJson() throws Exception {
    def script = loadScript(scriptName)

    script.call(requests: 900, concurrency: 16, reportDir: 'out/envoy', json: true, waitTimeout: 60)

    assertEquals([(DEFAULT_CLI + " 'verify' '--wait-timeout' '60' '--requests' '900' '--concurrency' '16' '--report-dir' 'out/envoy' '--json'")],
        shScripts())
  }

  @Test
  void itVerifiesOnTheGivenTarget() throws Exception {
    def script = loadScript(scriptName)

    script.call(target: 'swarm')

    assertEquals([(DEFAULT_CLI + " 'verify' '--target' 'swarm' '--report-dir' 'reports'")], shScripts())
  }

  @Test
  void itVerifiesTheServicesThatWereScaled() throws Exception {
    def script = loadScript(scriptName)

    script.call(replicas: [service1: 5])

    assertEquals([(DEFAULT_CLI + " 'verify' '--scale' 'service1=5' '--report-dir' 'reports'")], shScripts())
  }

  @Test
  void itAcceptsZeroRequestsWhichLetsTheCliSizeTheSample() throws Exception {
    def script = loadScript(scriptName)

    script.call(requests: 0)

    assertEquals([(DEFAULT_CLI + " 'verify' '--requests' '0' '--report-dir' 'reports'")], shScripts())
  }

  @Test
  void itRejectsBadNumbers() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(requests: -5, concurrency: 0) }

    assertEquals([
        "envoyVerify: 'requests' must be an Integer from 0 to 10000000, got Integer -5",
        "envoyVerify: 'concurrency' must be an Integer from 1 to 1024, got Integer 0",
    ], message.readLines())
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itFailsWhenTheChecksFail() throws Exception {
    def script = loadScript(scriptName)
    // The CLI exits non-zero unless every check passed
    shExitCode = { String s -> 1 }

    String message = pipelineErrorOf { script.call() }

    assertEquals('script returned exit code 1', message)
    assertEquals(1, shScripts().size())
  }
}
