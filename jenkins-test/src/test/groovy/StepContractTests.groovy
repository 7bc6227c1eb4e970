import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertTrue

/** What holds for every step of the library. */
class StepContractTests extends BaseTest {
  public static final List<String> STEPS = ['envoyPrepare', 'envoyBuild', 'envoyDeploy', 'envoyScale', 'envoyVerify',
                                     'envoyTeardown', 'envoyPipeline']

  /** Jenkins' own steps and globals a library step must never shadow. */
  public static final List<String> JENKINS_NAMES = ['build', 'deploy', 'sh', 'stage', 'node', 'pipeline', 'scale', 'verify',
                                             'prepare', 'teardown', 'junit', 'error', 'input', 'timeout']

  /** The keys a step accepts, read back from its own "valid keys" error. */
  List<String> keysOf(String step) {
    String message = pipelineErrorOf { loadScript("vars/${step}.groovy").call(notAKey: 1) }
    return message.substring(message.indexOf('valid keys: ') + 'valid keys: '.length()).split(', ') as List
  }

  @Test
  void everyStepRejectsAnUnknownKeyBeforeRunningAnything() {
    STEPS.each { String step ->
      shCalls.clear()
      String message = pipelineErrorOf { loadScript("vars/${step}.groovy").call(notAKey: 1) }
      assertTrue(message, message.startsWith("${step}: unknown key 'notAKey'; valid keys: cli, configFile, composeFile, project, waitTimeout, target"))
      assertTrue("${step} ran sh before rejecting its config".toString(), shScripts().isEmpty())
    }
  }

  @Test
  void everyStepHasHelpThatNamesEachOfItsKeys() {
    (STEPS + ['envoyPipelineSupport']).each { String step ->
      File help = new File(LIBRARY_ROOT, "vars/${step}.txt")
      assertTrue("missing ${help}".toString(), help.isFile())
      assertTrue("${help} is too short to help anyone".toString(), help.text.trim().length() > 200)
    }
    STEPS.each { String step ->
      String help = new File(LIBRARY_ROOT, "vars/${step}.txt").text
      keysOf(step).each { String key ->
        assertTrue("vars/${step}.txt does not document '${key}'".toString(), help.contains(key))
      }
    }
  }

  @Test
  void stepNamesArePrefixedAndShadowNothing() {
    List<String> vars = new File(LIBRARY_ROOT, 'vars').list().findAll { it.endsWith('.groovy') }.collect { it - '.groovy' }.sort()
    assertEquals((STEPS + ['envoyPipelineSupport']).sort(), vars)
    vars.each { String name ->
      assertTrue(name, name.startsWith('envoy'))
      assertFalse(name, JENKINS_NAMES.contains(name))
    }
  }

  @Test
  void theSharedDefaultsAreTheDocumentedOnes() {
    Map defaults = loadScript('vars/envoyPipelineSupport.groovy').defaults()

    assertEquals([agentLabel: 'docker', keepBuilds: 30, nodeVersion: '22.22.0', replicas: [service1: 3, service2: 3],
                  reportDir : 'reports', teardownTimeoutMinutes: 10, timeoutMinutes: 30], defaults)
    assertEquals(LinkedHashMap, defaults.getClass())
    assertEquals(LinkedHashMap, defaults.replicas.getClass())
  }
}
