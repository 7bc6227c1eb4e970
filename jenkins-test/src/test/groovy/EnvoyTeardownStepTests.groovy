import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

class EnvoyTeardownStepTests extends BaseTest {
  public static final String scriptName = 'vars/envoyTeardown.groovy'

  @Test
  void itTearsDownWithDefaults() throws Exception {
    def script = loadScript(scriptName)

    script.call()
    printCallStack()

    // No --project: the CLI takes this build's project from BUILD_TAG, as the other stages did
    assertJobStatusSuccess()
    assertEquals([(DEFAULT_CLI + " 'teardown'")], shScripts())
    assertEquals('envoy-pipeline teardown', shCalls[0].label)
  }

  @Test
  void itTearsDownOnTheGivenTarget() throws Exception {
    def script = loadScript(scriptName)

    script.call(target: 'swarm')

    assertEquals([(DEFAULT_CLI + " 'teardown' '--target' 'swarm'")], shScripts())
  }

  @Test
  void itRemovesImagesOfTheGivenProjectOnRequest() throws Exception {
    def script = loadScript(scriptName)

    script.call(project: 'shop-main-7', removeImages: true)

    assertEquals([(DEFAULT_CLI + " 'teardown' '--project' 'shop-main-7' '--remove-images'")], shScripts())
  }

  @Test
  void itRejectsANonBooleanRemoveImages() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(removeImages: 'true') }

    assertEquals("envoyTeardown: 'removeImages' must be a Boolean (true or false), got String 'true'", message)
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itRejectsAnUnknownKey() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(keep: true) }

    assertEquals("envoyTeardown: unknown key 'keep'; valid keys: cli, configFile, composeFile, project, waitTimeout, target, removeImages", message)
  }
}
