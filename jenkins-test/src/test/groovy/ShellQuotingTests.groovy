import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import support.ShellArgv

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertFalse
import static org.junit.Assert.assertNotEquals
import static org.junit.Assert.assertTrue

/**
 * Values reach the CLI as exactly one argument each, unchanged, and never as shell code: every
 * step's rendered command is run with /bin/sh -c (as Jenkins' sh step runs it) with a CLI prefix
 * that prints its arguments back, and a value that would run `touch` if any of it were code.
 */
class ShellQuotingTests extends BaseTest {
  @Rule
  public TemporaryFolder tmp = new TemporaryFolder()

  File marker

  /** Spaces, both quotes, $HOME and ${HOME}, backticks, $(...), a newline, a tab, a backslash, shell operators, a trailing '. */
  String hostile(String tag) {
    marker = marker ?: new File(tmp.root, 'quoting-broke')
    return tag + ' two words \'single\' "double" $HOME ${HOME} `touch ' + marker.path + '` $(touch ' + marker.path + ')' +
        '\nsecond line\there \\ back\\slash ; | & > < * ? ~ #not-a-comment !' + " '"
  }

  List<String> argvOf(String command) {
    return ShellArgv.run(command, tmp.root)
  }

  void assertNoCodeRan() {
    assertFalse("a value ran as shell code: ${marker} exists".toString(), marker.exists())
  }

  @Test
  void itQuotesWordsTheWayPosixShReadsThem() {
    def support = loadScript('vars/envoyPipelineSupport.groovy')

    assertEquals("''", support.quote(''))
    assertEquals("'plain'", support.quote('plain'))
    assertEquals("'it'\"'\"'s'", support.quote("it's"))
    assertEquals("''\"'\"''", support.quote("'"))
    assertEquals("'\$HOME `id` \"x\"\nnext'", support.quote('$HOME `id` "x"\nnext'))
    assertEquals("'3'", support.quote(3))
  }

  @Test
  void everyStepPassesHostileValuesAsSingleUnchangedArguments() {
    String config = hostile('config')
    String compose = hostile('compose')
    // project must be a compose project name (checked like the CLI checks it), so it cannot be hostile.
    String project = 'shop-main-7'
    Map common = [cli: ShellArgv.PRINTF_CLI, configFile: config, composeFile: compose, project: project, waitTimeout: 90]
    List<String> commonArgv = ['--config', config, '--compose-file', compose, '--project', project, '--wait-timeout', '90']
    String reports = hostile('reports')

    Map<String, List> cases = [
        envoyPrepare : [common + [forceLocal: true], ['prepare'] + commonArgv + ['--force-local']],
        envoyBuild   : [common, ['build'] + commonArgv],
        envoyDeploy  : [common + [listenerPort: 8080], ['deploy'] + commonArgv + ['--listener-port', '8080']],
        envoyScale   : [common + [replicas: [service1: 3, service2: 2]], ['scale'] + commonArgv + ['--scale', 'service1=3', '--scale', 'service2=2']],
        envoyVerify  : [common + [reportDir: reports], ['verify'] + commonArgv + ['--report-dir', reports]],
        envoyTeardown: [common + [removeImages: true], ['teardown'] + commonArgv + ['--remove-images']],
    ]
    cases.each { String step, List c ->
      shCalls.clear()
      loadScript("vars/${step}.groovy").call(c[0])
      assertEquals("${step} runs one command".toString(), 1, shScripts().size())
      assertEquals("${step}: argv as the CLI receives it".toString(), c[1], argvOf(shScripts()[0]))
    }
    assertNoCodeRan()
  }

  @Test
  void theValueIsOneQuotedWordInTheRenderedCommand() {
    String value = hostile('v')
    loadScript('vars/envoyDeploy.groovy').call(composeFile: value)

    String expectedWord = "'" + value.replace("'", "'\"'\"'") + "'"
    assertEquals((DEFAULT_CLI + " 'deploy' '--compose-file' ${expectedWord}").toString(), shScripts()[0])
  }

  /** The check above can fail: the same value under a naive double-quoting is caught both ways. */
  @Test
  void theCheckCatchesNaiveQuoting() {
    String value = hostile('naive')
    String naive = "${ShellArgv.PRINTF_CLI} 'deploy' '--project' \"${value}\"".toString()

    List<String> argv = argvOf(naive)

    assertNotEquals(['deploy', '--project', value], argv)
    assertTrue('the backticks ran under naive quoting', marker.exists())
  }
}
