import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

class EnvoyPrepareStepTests extends BaseTest {
  public static final String scriptName = 'vars/envoyPrepare.groovy'

  @Test
  void itRunsPrepareWithDefaults() throws Exception {
    def script = loadScript(scriptName)

    // When calling the step with its defaults
    script.call()
    printCallStack()

    // Then the CLI from defaults.json runs `prepare` and nothing else
    assertJobStatusSuccess()
    assertEquals([(DEFAULT_CLI + " 'prepare'")], shScripts())
    assertEquals(['envoy-pipeline preflight', 'envoy-pipeline prepare'], shCalls*.label)
  }

  @Test
  void itRendersEveryOptionOfACustomConfig() throws Exception {
    def script = loadScript(scriptName)

    script.call(cli: 'node bin/envoy-pipeline.js', configFile: 'ci/envoy.json', composeFile: 'stack/compose.yml',
        project: 'shop-main-7', waitTimeout: 300, forceLocal: true)

    assertJobStatusSuccess()
    assertEquals(["node bin/envoy-pipeline.js 'prepare' '--config' 'ci/envoy.json' '--compose-file' 'stack/compose.yml' " +
                      "'--project' 'shop-main-7' '--wait-timeout' '300' '--force-local'"], shScripts())
  }

  @Test
  void itLeavesFalseFlagsAndNullValuesOut() throws Exception {
    def script = loadScript(scriptName)

    // null means "keep the default" (here: leave the option to the CLI)
    script.call(forceLocal: false, project: null, composeFile: null)

    assertEquals([(DEFAULT_CLI + " 'prepare'")], shScripts())
  }

  @Test
  void itRejectsAMistypedKeyAndSuggestsTheRightOne() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(forcelocal: true) }

    assertEquals("envoyPrepare: unknown key 'forcelocal' (did you mean 'forceLocal'?); " +
        "valid keys: cli, configFile, composeFile, project, waitTimeout, target, forceLocal", message)
    assertJobStatusFailure()
    assertTrue('nothing may run after a bad config', shScripts().isEmpty())
  }

  @Test
  void itRejectsAStringWhereABooleanBelongs() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(forceLocal: 'yes') }

    assertEquals("envoyPrepare: 'forceLocal' must be a Boolean (true or false), got String 'yes'", message)
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itRejectsANonPositiveWaitTimeout() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(waitTimeout: 0) }

    assertEquals("envoyPrepare: 'waitTimeout' must be an Integer from 1 to 3600 (seconds), got Integer 0", message)
    assertTrue(shScripts().isEmpty())
  }
}
