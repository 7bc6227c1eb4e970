import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

class EnvoyDeployStepTests extends BaseTest {
  public static final String scriptName = 'vars/envoyDeploy.groovy'

  @Test
  void itRunsDeployWithDefaults() throws Exception {
    def script = loadScript(scriptName)

    script.call()
    printCallStack()

    assertJobStatusSuccess()
    assertEquals([(DEFAULT_CLI + " 'deploy'")], shScripts())
    assertEquals('envoy-pipeline deploy', shCalls[0].label)
  }

  @Test
  void itPassesThePorts() throws Exception {
    def script = loadScript(scriptName)

    script.call(cli: 'node bin/envoy-pipeline.js', listenerPort: 18080, adminPort: 0)

    // 0 is a real value (a free port), not "unset"
    assertEquals(["node bin/envoy-pipeline.js 'deploy' '--listener-port' '18080' '--admin-port' '0'"], shScripts())
  }

  @Test
  void itPassesTheDiscoveryMode() throws Exception {
    def script = loadScript(scriptName)

    script.call(discovery: 'xds')

    assertEquals([(DEFAULT_CLI + " 'deploy' '--discovery' 'xds'")], shScripts())
  }

  @Test
  void itRejectsADiscoveryModeThatIsNoString() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(discovery: true) }

    assertEquals("envoyDeploy: 'discovery' must be a non-empty String, got Boolean true", message)
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itPassesTheTarget() throws Exception {
    def script = loadScript(scriptName)

    script.call(target: 'swarm')

    assertEquals([(DEFAULT_CLI + " 'deploy' '--target' 'swarm'")], shScripts())
  }

  @Test
  void itRejectsAnUnknownTarget() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(target: 'kubernetes') }

    assertEquals("envoyDeploy: 'target' must be one of 'compose', 'swarm', got String 'kubernetes'", message)
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itRejectsAPortOutOfRange() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(listenerPort: 70000) }

    assertEquals("envoyDeploy: 'listenerPort' must be an Integer from 0 to 65535, got Integer 70000", message)
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itRejectsAPortGivenAsString() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(adminPort: '9901') }

    assertEquals("envoyDeploy: 'adminPort' must be an Integer from 0 to 65535, got String '9901'", message)
  }

  @Test
  void itReportsEveryProblemAtOnce() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(listenerport: 8080, adminPort: -1, project: 42) }

    assertEquals([
        "envoyDeploy: unknown key 'listenerport' (did you mean 'listenerPort'?); valid keys: cli, configFile, composeFile, project, waitTimeout, target, listenerPort, adminPort, discovery",
        "envoyDeploy: 'project' must be a compose project name (lower-case letters, digits, '_' and '-', starting with a letter or digit, at most 63 characters), got Integer 42",
        "envoyDeploy: 'adminPort' must be an Integer from 0 to 65535, got Integer -1",
    ], message.readLines())
  }
}
