import org.junit.Before
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue

/**
 * resources/io/envoypipeline/preflight.sh (defect 8), as envoyPrepare renders it, run with /bin/sh
 * on a PATH of fake tools: every missing piece is one line naming the setting, and the build stops.
 */
class PreflightScriptTests extends BaseTest {
  @Rule
  public TemporaryFolder tmp = new TemporaryFolder()

  File binDir
  /** Stands in for /.dockerenv; absent unless a test creates it. */
  File containerMarker
  Map<String, String> agentEnv

  @Before
  void fakeAgent() {
    binDir = tmp.newFolder('binDir')
    containerMarker = new File(tmp.root, 'dockerenv')
    fakeTool('node', 'echo v22.22.0')
    fakeTool('npx', 'exit 0')
    fakeTool('git', 'exit 0')
    agentEnv = [PATH: binDir.path, ENVOY_PIPELINE_CONTAINER_MARKERS: containerMarker.path]
  }

  void fakeTool(String name, String body) {
    File file = new File(binDir, name)
    file.write('#!/bin/sh\n' + body + '\n', 'UTF-8')
    file.setExecutable(true)
  }

  /**
   * [exit code, stdout, stderr] of the preflight that envoyPrepare renders for `cli`, run as Jenkins'
   * sh step runs a script: `sh -xe <file>`. The trace of the script's first line (`set +x +e`) is
   * dropped from stderr.
   */
  List run(String cli = DEFAULT_CLI) {
    String script = loadScript('vars/envoyPipelineSupport.groovy').preflightScript(cli)
    File file = new File(tmp.root, 'script.sh')
    file.write(script, 'UTF-8')
    ProcessBuilder builder = new ProcessBuilder('/bin/sh', '-xe', file.path).directory(tmp.root)
    builder.environment().clear()
    builder.environment().putAll(agentEnv)
    Process process = builder.start()
    process.outputStream.close()
    String err = null
    Thread errReader = Thread.start { err = process.errorStream.getText('UTF-8') }
    String out = process.inputStream.getText('UTF-8')
    errReader.join()
    String stderr = err.readLines().findAll { !it.startsWith('+ ') }.collect { it + '\n' }.join('')
    return [process.waitFor(), out, stderr]
  }

  @Test
  void aGoodAgentPasses() {
    List r = run()
    assertEquals(r.toString(), 0, r[0])
    assertEquals('envoy-pipeline preflight: ok (node v22.22.0)\n', r[1])
    assertEquals('', r[2])
  }

  @Test
  void newerNodeVersionsPass() {
    for (String version : ['v22.23.0', 'v23.0.0', 'v24.21.0', 'v22.22.10']) {
      fakeTool('node', 'echo ' + version)
      assertEquals(version, 0, run()[0])
    }
  }

  @Test
  void anOldNodeIsOneLineNamingTheVersionNeeded() {
    for (String version : ['v22.21.0', 'v20.20.2', 'v22.9.0', 'garbage', '']) {
      fakeTool('node', "echo '" + version + "'")
      List r = run()
      assertEquals(version, 1, r[0])
      assertEquals(version, "envoy-pipeline preflight: node on this agent is '${version}', the CLI needs Node.js >= 22.22.0: install a newer Node.js or put it first on PATH\n".toString(), r[2])
    }
  }

  @Test
  void missingNodeNpxAndGitAreEachNamed() {
    for (String name : ['node', 'npx', 'git']) {
      new File(binDir, name).delete()
    }

    List r = run()

    assertEquals(1, r[0])
    List<String> lines = (r[2] as String).readLines()
    assertEquals(3, lines.size())
    assertTrue(lines[0], lines[0].startsWith("envoy-pipeline preflight: node is not on this agent's PATH: install Node.js >= 22.22.0"))
    assertTrue(lines[1], lines[1].startsWith("envoy-pipeline preflight: npx is not on this agent's PATH"))
    assertTrue(lines[2], lines[2].startsWith("envoy-pipeline preflight: git is not on this agent's PATH"))
  }

  @Test
  void aNodeThatFailsIsReportedNotFatal() {
    fakeTool('node', 'exit 3')

    List r = run()

    assertEquals(1, r[0])
    assertEquals("envoy-pipeline preflight: node on this agent is '', the CLI needs Node.js >= 22.22.0: install a newer Node.js or put it first on PATH\n", r[2])
  }

  @Test
  void aCliWithoutNpxNeedsNeitherNpxNorGit() {
    for (String name : ['npx', 'git']) {
      new File(binDir, name).delete()
    }

    assertEquals(0, run('node binDir/envoy-pipeline.js')[0])
  }

  @Test
  void aRemoteDockerHostStopsThePreflightNamingDockerHost() {
    for (String host : ['tcp://docker:2376', 'ssh://ci@builder']) {
      agentEnv.DOCKER_HOST = host
      List r = run()
      assertEquals(host, 1, r[0])
      assertTrue(r[2] as String, (r[2] as String).startsWith("envoy-pipeline preflight: DOCKER_HOST is '${host}': Envoy's ports are published on that engine's host".toString()))
    }
    agentEnv.DOCKER_HOST = 'unix:///var/run/docker.sock'
    assertEquals(0, run()[0])
  }

  @Test
  void aContainerAgentNeedsTheHostNetworkAndSaysSo() {
    containerMarker.text = ''

    List r = run()

    assertEquals(1, r[0])
    assertTrue(r[2] as String, (r[2] as String).contains('set ENVOY_PIPELINE_AGENT_NETWORK=host'))
    agentEnv.ENVOY_PIPELINE_AGENT_NETWORK = 'host'
    assertEquals(0, run()[0])
  }

  @Test
  void aKubernetesPodIsAContainerAgent() {
    agentEnv.KUBERNETES_SERVICE_HOST = '10.0.0.1'

    List r = run()

    assertEquals(1, r[0])
    assertTrue(r[2] as String, (r[2] as String).contains('a Kubernetes pod (KUBERNETES_SERVICE_HOST)'))
  }

  @Test
  void aHostileCliIsDataNotCode() {
    File marker = new File(tmp.root, 'ran')
    List r = run("node x.js \$(touch ${marker.path}) `touch ${marker.path}` '")

    assertEquals(0, r[0])
    assertTrue('the cli text was run as code', !marker.exists())
  }
}
