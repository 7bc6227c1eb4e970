import com.cloudbees.groovy.cps.impl.CpsCallableInvocation
import com.lesfurets.jenkins.unit.BasePipelineTest
import org.junit.Test

import static org.junit.Assert.assertEquals
import static org.junit.Assert.assertTrue
import static org.junit.Assert.fail

/**
 * What running the library under CPS (BaseTest) catches that plain Groovy hides: a CPS method
 * called from @NonCPS code (src/test/resources/fixtures/nonCpsCallsCps.groovy).
 */
class CpsMismatchTests extends BaseTest {
  public static final String FIXTURE = 'jenkins-test/src/test/resources/fixtures/nonCpsCallsCps.groovy'

  /** The same fixture under JenkinsPipelineUnit's plain (non-CPS) helper. */
  Script loadPlain() {
    BasePipelineTest plain = new BasePipelineTest() { }
    plain.scriptRoots = [LIBRARY_ROOT.path] as String[]
    plain.baseScriptRoot = LIBRARY_ROOT.path
    plain.setUp()
    return plain.loadScript(FIXTURE)
  }

  @Test
  void theStepsRunCpsTransformedAsOnAController() {
    // Called without the test helper, a CPS-transformed method does not run: it hands the
    // interpreter a CpsCallableInvocation. Plain Groovy would return '<a>'.
    Script script = loadScript(FIXTURE)
    try {
      script.getClass().getMethod('bracket', String).invoke(script, 'a')
      fail('bracket ran as plain Groovy: the CPS transform is not applied')
    } catch (java.lang.reflect.InvocationTargetException expected) {
      assertTrue(expected.cause instanceof CpsCallableInvocation)
    }
  }

  /** The fixture's three ways into the mistake: its @NonCPS method, from CPS code, and through another script. */
  static Map<String, Closure> mistakes(Script script) {
    return [
        'bracketed'   : { script.bracketed(['a', 'b']) },
        'call'        : { script.call() },
        'bracketedVia': { script.bracketedVia(script, ['a', 'b']) },
    ]
  }

  @Test
  void plainModeRunsACpsMethodCalledFromNonCpsCode() {
    mistakes(loadPlain()).each { String name, Closure mistake ->
      assertEquals(name, '<a>,<b>', mistake())
    }
  }

  @Test
  void cpsModeRejectsACpsMethodCalledFromNonCpsCode() {
    Map<String, String> callers = [
        bracketed   : '@NonCPS method bracketed(...)',
        call        : '@NonCPS method bracketed(...)',
        bracketedVia: 'non-CPS code at nonCpsCallsCps$_bracketedVia_closure',
    ]
    mistakes(loadScript(FIXTURE)).each { String name, Closure mistake ->
      try {
        mistake()
        fail("${name}: a CPS method called from @NonCPS code passed under CPS")
      } catch (IllegalStateException expected) {
        assertTrue(expected.message, expected.message.startsWith(callers[name]))
        assertTrue(expected.message, expected.message.contains(' called CPS code, which on a Jenkins controller does not return into it'))
      }
    }
  }

  @Test
  void bothModesRunNonCpsCodeThatCallsOnlyNonCpsCode() {
    assertEquals("'a','b'", loadPlain().quotedNames(['a', 'b']))
    assertEquals("'a','b'", loadScript(FIXTURE).quotedNames(['a', 'b']))
  }
}
