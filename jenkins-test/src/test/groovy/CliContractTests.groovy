import groovy.json.JsonOutput
import groovy.json.JsonSlurper
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import support.ShellArgv

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

/**
 * The Groovy half of the contract between the library and the CLI (test/unit/jenkins-cli-contract.test.ts
 * is the other half). It renders every step's command for its defaults, for every key at the
 * bounds of KEYS and for odd strings, runs each with /bin/sh -c (as the sh step does) behind a
 * printf CLI to get the argument vector the CLI would receive, and writes those argument vectors and
 * the KEYS bounds to jenkins-test/cli-contract.json. The node test parses every vector with the
 * CLI's real commander program and checks the bounds against harness/config.ts's zod schema.
 *
 * The file is committed: this test fails when the library renders anything else (run Maven with
 * -Dcontract.update=true to rewrite it, and let the node test judge the new file).
 */
class CliContractTests extends BaseTest {
  public static final File CONTRACT = new File(LIBRARY_ROOT, 'jenkins-test/cli-contract.json')

  @Rule
  public TemporaryFolder tmp = new TemporaryFolder()

  /** Strings no shell may touch, for the keys that take any string. */
  static final String ODD = "odd 'quoted' \"dq\" \$HOME `x` \$(y) ; | & \\ back"

  /** step → [configs]: the defaults, every key at its lower bounds, at its upper bounds, and odd strings. */
  Map<String, List<Map>> cases() {
    Map common = [cli: ShellArgv.PRINTF_CLI]
    Map low = common + [configFile: 'c.json', composeFile: 'compose.yml', project: 'p', waitTimeout: 1, target: 'compose']
    Map high = common + [configFile: 'ci/envoy.json', composeFile: 'stack/compose.yml', project: 'x' * 63, waitTimeout: 3600, target: 'swarm']
    Map odd = common + [configFile: ODD, composeFile: ODD, project: 'jenkins-a_b-42', waitTimeout: 90]
    return [
        envoyPrepare : [common, low + [forceLocal: true], high + [forceLocal: false], odd],
        envoyBuild   : [common, low, high, odd],
        envoyDeploy  : [common, low + [listenerPort: 0, adminPort: 0, discovery: 'dns'], high + [listenerPort: 65535, adminPort: 65535, discovery: 'xds'], odd + [listenerPort: 8080]],
        envoyScale   : [common, low + [replicas: [service1: 1]], high + [replicas: ['a.b_c-1': 50, service2: 50]], odd + [replicas: [service1: 3, service2: 2]]],
        envoyVerify  : [common, low + [replicas: [service1: 1], requests: 0, concurrency: 1, reportDir: 'r', json: true],
                        high + [replicas: [service1: 50], requests: 10000000, concurrency: 1024, reportDir: 'out/envoy'],
                        odd + [reportDir: ODD]],
        envoyTeardown: [common, low + [removeImages: true], high, odd],
    ]
  }

  Map contract() {
    def support = loadScript('vars/envoyPipelineSupport.groovy')
    List<Map> commands = []
    cases().each { String step, List<Map> configs ->
      configs.each { Map config ->
        shCalls.clear()
        loadScript("vars/${step}.groovy").call(config)
        commands << [step: step, argv: ShellArgv.run(shScripts()[0], tmp.root)]
      }
    }
    Map bounds = new TreeMap()
    support.KEYS.each { String key, Map spec ->
      if (spec.kind == 'integer' && spec.flag != null) {
        bounds[key] = [flag: spec.flag, min: spec.min, max: spec.max]
      }
    }
    bounds.replicas = [flag: '--scale', min: 1, max: support.MAX_REPLICAS]
    return [
        comment       : 'Written by jenkins-test CliContractTests (mvn -Dcontract.update=true); checked by test/unit/jenkins-cli-contract.test.ts',
        nodeVersion   : support.defaults().nodeVersion,
        // The default cli for a library in a local repository (test/integration/jenkins-default-cli.test.ts
        // puts a real one at /LIBRARY_REPO and a tag at LIBRARY_VERSION, and runs it).
        defaultCli    : support.renderDefaultCli('git+file:///LIBRARY_REPO#{version}', 'LIBRARY_VERSION'),
        projectName   : [pattern: support.PROJECT_NAME, maxLength: support.PROJECT_NAME_MAX_LENGTH],
        serviceName   : support.SERVICE_NAME,
        integerBounds : bounds,
        commands      : commands,
    ]
  }

  @Test
  void theCommittedContractIsWhatTheLibraryRenders() {
    String rendered = JsonOutput.prettyPrint(JsonOutput.toJson(contract())) + '\n'
    if (Boolean.getBoolean('contract.update')) {
      CONTRACT.write(rendered, 'UTF-8')
    }
    assertTrue("${CONTRACT} is missing: run mvn -f jenkins-test/pom.xml test -Dtest=CliContractTests -Dcontract.update=true".toString(), CONTRACT.isFile())
    assertEquals("the library renders other commands than ${CONTRACT.name} holds: run mvn -f jenkins-test/pom.xml test " +
        '-Dtest=CliContractTests -Dcontract.update=true, then the node contract test', CONTRACT.getText('UTF-8'), rendered)
  }

  @Test
  void everyFlagOfKeysIsRenderedSomewhere() {
    def support = loadScript('vars/envoyPipelineSupport.groovy')
    Set<String> rendered = contract().commands.collectMany { it.argv.findAll { it.startsWith('--') } } as Set
    support.KEYS.each { String key, Map spec ->
      if (spec.flag != null) {
        assertTrue("no rendered command has ${spec.flag} (${key})".toString(), rendered.contains(spec.flag))
      }
    }
  }

  @Test
  void theContractFileParses() {
    Map parsed = (Map) new JsonSlurper().parse(CONTRACT)
    assertEquals(24, parsed.commands.size())
  }

  /** Found by this contract: the library took any string as project, the CLI only compose names. */
  @Test
  void aProjectTheCliWouldRefuseFailsBeforeTheBuild() {
    for (String bad : ['Shop Main', 'shop/main', '-shop', 'x' * 64]) {
      shCalls.clear()
      String message = pipelineErrorOf { loadScript('vars/envoyDeploy.groovy').call(project: bad) }
      assertTrue(message, message.startsWith("envoyDeploy: 'project' must be a compose project name"))
      assertTrue(shScripts().isEmpty())
    }
  }
}
