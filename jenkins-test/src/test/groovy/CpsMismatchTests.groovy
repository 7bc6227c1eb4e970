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
    // interpreter a CpsCallableInvocation. Plain Groovy would return the label.
    Script script = loadScript(FIXTURE)
    try {
      script.getClass().getMethod('label', String).invoke(script, 'a')
      fail('label ran as plain Groovy: the CPS transform is not applied')
    } catch (java.lang.reflect.InvocationTargetException expected) {
      assertTrue(expected.cause instanceof CpsCallableInvocation)
    }
  }

  @Test
  void plainModeRunsACpsMethodCalledFromNonCpsCode() {
    assertEquals('<a>,<b>', loadPlain().labels(['a', 'b']))
  }

  @Test
  void cpsModeRejectsACpsMethodCalledFromNonCpsCode() {
    try {
      loadScript(FIXTURE).labels(['a', 'b'])
      fail('a CPS method called from @NonCPS code passed under CPS')
    } catch (IllegalStateException expected) {
      assertTrue(expected.message, expected.message.startsWith('@NonCPS method labels(...) called CPS code'))
    }
  }

  @Test
  void bothModesRunNonCpsCodeThatCallsOnlyNonCpsCode() {
    assertEquals("'a','b'", loadPlain().quotedNames(['a', 'b']))
    assertEquals("'a','b'", loadScript(FIXTURE).quotedNames(['a', 'b']))
  }
}
