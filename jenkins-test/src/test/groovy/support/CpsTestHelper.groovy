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
 * - a @NonCPS method that calls a CPS method fails the test: on a controller that call never
 *   returns into the @NonCPS code (its result replaces the whole @NonCPS call), where the stock
 *   helper returns the wrong result quietly;
 * - every step of every CPS method, not only of closures, runs with its state serialized and read
 *   back, as a controller must be able to save the program between any two steps.
 */
class CpsTestHelper extends PipelineTestHelperCPS {
  @Override
  protected Object callMethod(MetaMethod method, Object delegate, Object[] args) {
    try {
      return method.doMethodInvoke(delegate, args)
    } catch (CpsCallableInvocation invocation) {
      if (isNonCps(method)) {
        // What workflow-cps reports as "expected to call ... but wound up catching ...".
        throw new IllegalStateException("@NonCPS method ${method.name}(...) called CPS code, which on a Jenkins controller does not " +
            'return into it: the CPS call\'s result replaces that of the whole @NonCPS method. Make the callee @NonCPS too, or call ' +
            'it from CPS code (https://www.jenkins.io/redirect/pipeline-cps-method-mismatches/)')
      }
      return runToEnd(invocation)
    }
  }

  private static boolean isNonCps(MetaMethod method) {
    return method instanceof CachedMethod && ((CachedMethod) method).cachedMethod.getAnnotation(NonCPS) != null
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
