package support

/**
 * What a failing step throws in these tests: Jenkins' `error` step and a non-zero `sh` both end
 * the step with hudson.AbortException, a message without a stack trace.
 */
class PipelineError extends RuntimeException {
  PipelineError(String message) {
    super(message)
  }
}
