import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

class EnvoyScaleStepTests extends BaseTest {
  public static final String scriptName = 'vars/envoyScale.groovy'

  @Test
  void itScalesBothServicesToThreeByDefault() throws Exception {
    def script = loadScript(scriptName)

    script.call()
    printCallStack()

    assertJobStatusSuccess()
    assertEquals([(DEFAULT_CLI + " 'scale' '--scale' 'service1=3' '--scale' 'service2=3'")], shScripts())
    assertEquals('envoy-pipeline scale', shCalls[0].label)
  }

  @Test
  void itScalesTheGivenServicesInTheMapsOrder() throws Exception {
    def script = loadScript(scriptName)

    script.call(cli: 'node bin/envoy-pipeline.js', replicas: [service2: 5, service1: 1, 'api.v2': 50L], project: 'p1')

    assertEquals(["node bin/envoy-pipeline.js 'scale' '--project' 'p1' '--scale' 'service2=5' '--scale' 'service1=1' '--scale' 'api.v2=50'"],
        shScripts())
  }

  @Test
  void itScalesOnTheGivenTarget() throws Exception {
    def script = loadScript(scriptName)

    script.call(target: 'swarm', replicas: [service1: 2])

    assertEquals([(DEFAULT_CLI + " 'scale' '--target' 'swarm' '--scale' 'service1=2'")], shScripts())
  }

  @Test
  void itRejectsZeroAndNegativeReplicas() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(replicas: [service1: 0, service2: -2]) }

    assertEquals([
        "envoyScale: 'replicas.service1' must be an Integer from 1 to 50 (replicas), got Integer 0",
        "envoyScale: 'replicas.service2' must be an Integer from 1 to 50 (replicas), got Integer -2",
    ], message.readLines())
    assertJobStatusFailure()
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itRejectsMoreReplicasThanTheHarnessAllows() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(replicas: [service1: 51]) }

    assertEquals("envoyScale: 'replicas.service1' must be an Integer from 1 to 50 (replicas), got Integer 51", message)
  }

  @Test
  void itRejectsReplicaCountsThatAreNotIntegers() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(replicas: [service1: '3', service2: 2.5]) }

    assertEquals([
        "envoyScale: 'replicas.service1' must be an Integer from 1 to 50 (replicas), got String '3'",
        "envoyScale: 'replicas.service2' must be an Integer from 1 to 50 (replicas), got BigDecimal 2.5",
    ], message.readLines())
  }

  @Test
  void itRejectsReplicasThatAreNotANonEmptyMap() throws Exception {
    def script = loadScript(scriptName)

    assertEquals("envoyScale: 'replicas' must be a non-empty Map of compose service name to replica count, e.g. [service1: 3, service2: 3], got ArrayList [service1=3]",
        pipelineErrorOf { script.call(replicas: ['service1=3']) })
    assertEquals("envoyScale: 'replicas' must be a non-empty Map of compose service name to replica count, e.g. [service1: 3, service2: 3], got LinkedHashMap [:]",
        pipelineErrorOf { script.call(replicas: [:]) })
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itRejectsAServiceNameThatIsNotOne() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(replicas: ['service1; rm -rf /': 2]) }

    assertEquals("envoyScale: 'replicas' has 'service1; rm -rf /', which is not a compose service name (letters, digits, '_', '.' and '-', starting with a letter or digit)",
        message)
    assertTrue(shScripts().isEmpty())
  }

  @Test
  void itSuggestsReplicasForReplica() throws Exception {
    def script = loadScript(scriptName)

    String message = pipelineErrorOf { script.call(replica: [service1: 2]) }

    assertTrue(message, message.startsWith("envoyScale: unknown key 'replica' (did you mean 'replicas'?); valid keys: "))
  }
}
