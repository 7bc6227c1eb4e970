package support

import com.cloudbees.groovy.cps.Continuation
import com.cloudbees.groovy.cps.Envs
import com.cloudbees.groovy.cps.Next
import com.cloudbees.groovy.cps.NonCPS
import com.cloudbees.groovy.cps.impl.CpsCallableInvocation
import com.lesfurets.jenkins.unit.cps.PipelineTestHelperCPS
import org.codehaus.groovy.reflection.CachedMethod

/**
 * JenkinsPipelineUnit's CPS helper, closer to a controller in two ways:
 * - a @NonCPS method (or a closure in one) that calls a CPS method fails the test: on a controller
 *   that call never returns into the @NonCPS code (its result replaces the whole @NonCPS call),
 *   where the stock helper returns the wrong result, or the right one, quietly;
 * - every step of every CPS method, not only of closures, runs with its state serialized and read
 *   back, as a controller must be able to save the program between any two steps.
 */
class CpsTestHelper extends PipelineTestHelperCPS {
  /** Frames of the JDK, the Groovy runtime, JenkinsPipelineUnit and this helper: never the caller. */
  private static final List<String> RUNTIME = ['java.', 'jdk.', 'sun.', 'groovy.', 'org.codehaus.groovy.', 'com.lesfurets.jenkins.unit.',
                                               CpsTestHelper.name]

  @Override
  protected Object callMethod(MetaMethod method, Object delegate, Object[] args) {
    try {
      return method.doMethodInvoke(delegate, args)
    } catch (CpsCallableInvocation invocation) {
      // A @NonCPS method that a CPS call escaped (it called its own script's CPS method), or a CPS
      // method called through a script variable from non-CPS code (another script's @NonCPS method).
      String nonCps = isNonCps(method) ? "@NonCPS method ${method.name}(...)" : nonCpsCaller()
      if (nonCps != null) {
        // What workflow-cps reports as "expected to call ... but wound up catching ...".
        throw new IllegalStateException("${nonCps} called CPS code, which on a Jenkins controller does not return into it: the CPS " +
            'call\'s result replaces that of the whole @NonCPS method. Make the callee @NonCPS too, or call it from CPS code ' +
            '(https://www.jenkins.io/redirect/pipeline-cps-method-mismatches/)')
      }
      return runToEnd(invocation)
    }
  }

  private static boolean isNonCps(MetaMethod method) {
    return method instanceof CachedMethod && ((CachedMethod) method).cachedMethod.getAnnotation(NonCPS) != null
  }

  /** The script method (or closure in one) making this call when that is non-CPS code; null for CPS code, a test or a step mock. */
  private static String nonCpsCaller() {
    for (StackTraceElement frame : new Throwable().stackTrace) {
      if (RUNTIME.any { frame.className.startsWith(it) }) {
        continue
      }
      if (frame.className.startsWith('com.cloudbees.groovy.cps.')) {
        return null // the CPS interpreter
      }
      return compiledFromScript(frame.className) ? "non-CPS code at ${frame.className}.${frame.methodName}".toString() : null
    }
    return null
  }

  /** A class the script engine compiled (a var, the Jenkinsfile, a fixture), not test code on the class path. */
  private static boolean compiledFromScript(String className) {
    try {
      Class.forName(className, false, CpsTestHelper.classLoader)
      return false
    } catch (ClassNotFoundException ignored) {
      return true
    }
  }

  @Override
  protected Object runScriptInternal(Script script) {
    try {
      return script.run()
    } catch (CpsCallableInvocation invocation) {
      return runToEnd(invocation)
    }
  }

  /** Runs a CPS call to its end, checking after each step that the program's state serializes. */
  Object runToEnd(CpsCallableInvocation invocation) {
    Next next = invocation.invoke(Envs.empty(), null, Continuation.HALT)
    while (next.yield == null) {
      try {
        roundtripSerialization(next.e)
      } catch (Exception notSerializable) {
        throw new IllegalStateException("the CPS program's state does not serialize: ${next.e}", notSerializable)
      }
      next = next.step()
    }
    return next.yield.replay()
  }
}
