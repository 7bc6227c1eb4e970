import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

class EnvoyBuildStepTests extends BaseTest {
  public static final String scriptName = 'vars/envoyBuild.groovy'

  @Test
  void itRunsBuildWithDefaults() throws Exception {
    def script = loadScript(scriptName)

    script.call()
    printCallStack()

    assertJobStatusSuccess()
    assertEquals([(DEFAULT_CLI + " 'build'")], shScripts())
    assertEquals('envoy-pipeline build', shCalls[0].label)
    // It is not Jenkins' own `build` step
    assertTrue(assertMethodCallOccurrences('build', 0))
  }

  @Test
  void itRendersTheCommonOptions() throws Exception {
    def script = loadScript(scriptName)

    // A GString is a String to the step (users interpolate env values)
    String branch = 'main'
    script.call(composeFile: 'docker-compose.yml', project: "shop-${branch}", waitTimeout: 45L)

    assertEquals([(DEFAULT_CLI + " 'build' '--compose-file' 'docker-compose.yml' '--project' 'shop-main' '--wait-timeout' '45'")],
        shScripts())
  }

  @Test
  void itRejectsAKeyThatBelongsToAnotherStep() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(replicas: [service1: 2]) }

    assertEquals("envoyBuild: unknown key 'replicas'; valid keys: cli, configFile, composeFile, project, waitTimeout, target", message)
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itRejectsAnEmptyOrMultiLineCli() throws Exception {
    def script = loadScript(scriptName)

    assertEquals("envoyBuild: 'cli' must be a non-empty String (the command that starts the harness CLI), got String ' '",
        pipelineErrorOf { script.call(cli: ' ') })
    assertEquals("envoyBuild: 'cli' must be a single line of shell text, got String 'npx envoy-pipeline\\nrm -rf /'",
        pipelineErrorOf { script.call(cli: 'npx envoy-pipeline\nrm -rf /') })
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itRejectsAnEmptyComposeFile() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(composeFile: '') }

    assertEquals("envoyBuild: 'composeFile' must be a non-empty String, got String ''", message)
  }
}
