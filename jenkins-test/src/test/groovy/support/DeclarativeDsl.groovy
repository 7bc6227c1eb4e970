package support

import com.lesfurets.jenkins.unit.BasePipelineTest
import com.lesfurets.jenkins.unit.PipelineTestHelper

/**
 * The part of Declarative Pipeline that JenkinsPipelineUnit 1.1 lacks (its DeclarativePipelineTest
 * came in later releases, which are published only in the Jenkins project's repository), cut to
 * what this library writes:
 *
 *   pipeline { agent { label ... } | agent any; parameters { string(name: ..., defaultValue: ..., description: ...) };
 *              options { timeout(...); disableConcurrentBuilds(...); buildDiscarder(logRotator(...)); timestamps() };
 *              triggers { githubPush() };
 *              stages { stage(name) { when { expression { ... } }; options { timeout(...) }; steps { ... };
 *                                     post { always { ... } ... } } };
 *              post { always { ... } failure { ... } ... cleanup { ... } } }
 *
 * with Declarative's run-time rules: the sections are read first, then the stages run in order;
 * a stage whose `when` conditions do not all hold is skipped (its steps do not run; the later
 * stages do); once a stage fails the build is FAILURE and the later stages are skipped; then the post
 * conditions run in Declarative's order, each only when its condition holds, and an error in
 * one does not stop the next; finally the first error ends the build (it is rethrown, as the
 * pipeline step does in Jenkins).
 *
 * Every section and step is also an ordinary intercepted call, so it lands on the helper's call
 * stack like any other step.
 */
class DeclarativeDsl {
  /** Declarative's order of post conditions (ModelInterpreter). */
  public static final List<String> POST_CONDITIONS = ['always', 'changed', 'fixed', 'regression', 'aborted',
                                               'failure', 'success', 'unstable', 'unsuccessful', 'cleanup']

  private final BasePipelineTest test

  /** `agent any` / `agent none` as given, or null when the agent is a label. */
  Object agent
  /** The label of `agent { label ... }`. */
  String agentLabel
  /** The maps given to `timeout` inside the pipeline's options { }. */
  List<Map> timeouts = []
  /** The maps given to `timeout` inside each stage's options { }, by stage. */
  Map<String, Map> stageTimeouts = [:]
  /** The other pipeline options, in order: [disableConcurrentBuilds: [...]], [buildDiscarder: ...], [timestamps: true]. */
  List<Map> options = []
  /** Stages whose own post conditions ran, with the conditions: [Verify: ['always']]. */
  Map<String, List<String>> stagePostRun = [:]
  /** The triggers declared inside triggers { }. */
  List<String> triggers = []
  /** The parameters declared inside parameters { }, as given, with their type: [type: 'string', name: ..., ...]. */
  List<Map> parameters = []
  /** Stages that started, in order. */
  List<String> stagesRun = []
  /** Stages that ended with an error. */
  List<String> stagesFailed = []
  /** Stages skipped because an earlier stage failed. */
  List<String> stagesSkipped = []
  /** Stages skipped because their `when` did not hold (Declarative: "skipped due to when conditional"). */
  List<String> stagesSkippedByWhen = []
  /** Post conditions whose blocks ran, in order. */
  List<String> postRun = []

  private boolean inPipeline
  private boolean inParameters
  private boolean inOptions
  private boolean inTriggers
  /** Where post conditions being read go: the pipeline's or the current stage's. */
  private Map<String, Closure> postTarget
  private String currentStage
  /** The `when` conditions and the `steps` body of the stage being read. */
  private List<Closure> stageConditions
  private Closure stageSteps
  private Closure stagesBody
  private Map<String, Closure> post = [:]
  private Throwable firstError

  DeclarativeDsl(BasePipelineTest test) {
    this.test = test
  }

  void register(PipelineTestHelper helper) {
    helper.registerAllowedMethod('pipeline', [Closure], { Closure body -> runPipeline(body) })
    helper.registerAllowedMethod('agent', [Closure], { Closure body -> run(body) })
    helper.registerAllowedMethod('agent', [Object], { value -> agent = value })
    helper.registerAllowedMethod('label', [Object], { value -> agentLabel = String.valueOf(value) })
    helper.registerAllowedMethod('options', [Closure], { Closure body -> readOptions(body) })
    helper.registerAllowedMethod('timeout', [Map], { Map value -> addTimeout(value) })
    helper.registerAllowedMethod('disableConcurrentBuilds', [Map], { Map value -> addOption('disableConcurrentBuilds', value) })
    helper.registerAllowedMethod('disableConcurrentBuilds', [], { addOption('disableConcurrentBuilds', [:]) })
    helper.registerAllowedMethod('buildDiscarder', [Object], { value -> addOption('buildDiscarder', value) })
    helper.registerAllowedMethod('logRotator', [Map], { Map value -> [logRotator: value] })
    helper.registerAllowedMethod('timestamps', [], { addOption('timestamps', true) })
    helper.registerAllowedMethod('triggers', [Closure], { Closure body -> readTriggers(body) })
    // In triggers { } a Declarative trigger; elsewhere (properties([pipelineTriggers([...])])) a value.
    helper.registerAllowedMethod('githubPush', [], { inTriggers ? triggers << 'githubPush' : 'githubPush' })
    helper.registerAllowedMethod('parameters', [Closure], { Closure body -> readParameters(body) })
    // `string` is also the credentials binding of withCredentials (BasePipelineTest's interceptor):
    // inside parameters { } it declares a parameter, elsewhere it stays what it was.
    Closure credentialsString = test.stringInterceptor as Closure
    helper.registerAllowedMethod('string', [Map], { Map args ->
      if (inParameters) {
        parameters << ([type: 'string'] + args)
        return null
      }
      return credentialsString?.call(args)
    })
    helper.registerAllowedMethod('stages', [Closure], { Closure body -> stagesBody = body })
    helper.registerAllowedMethod('stage', [String, Closure], { String name, Closure body -> runStage(name, body) })
    helper.registerAllowedMethod('when', [Closure], { Closure body -> readWhen(body) })
    helper.registerAllowedMethod('expression', [Closure], { Closure condition -> addCondition(condition) })
    helper.registerAllowedMethod('steps', [Closure], { Closure body -> readSteps(body) })
    helper.registerAllowedMethod('post', [Closure], { Closure body -> readPost(body) })
    POST_CONDITIONS.each { String condition ->
      helper.registerAllowedMethod(condition, [Closure], { Closure body ->
        if (postTarget == null) {
          throw new UnsupportedOperationException("${condition} { } belongs in post { }")
        }
        postTarget[condition] = body
      })
    }
  }

  /**
   * Runs a block of the Jenkinsfile the way a step with a body does on a controller: through the
   * helper (under CPS, an interpreter of its own) and never by calling the closure from this plain
   * Groovy: a CPS closure called from non-CPS code does not run there; it throws at once (through
   * any finally { } here) and runs later, in whichever CPS caller catches it.
   */
  private Object run(Closure body) {
    return test.helper.callClosure(body)
  }

  /** Whether every `when` condition of the stage holds, each evaluated as a body, in order. */
  private boolean conditionsHold() {
    for (Closure condition : stageConditions) {
      if (!(run(condition) as boolean)) {
        return false
      }
    }
    return true
  }

  void runPipeline(Closure body) {
    if (inPipeline) {
      throw new IllegalStateException('Only one pipeline { ... } block can be executed in a single run.')
    }
    inPipeline = true
    run(body)
    if (stagesBody == null) {
      throw new IllegalStateException('pipeline { } has no stages { }')
    }
    run(stagesBody)
    runPost()
    if (firstError != null) {
      throw firstError
    }
  }

  void runStage(String name, Closure body) {
    if (!inPipeline) {
      run(body) // a scripted stage: just its body
      return
    }
    if (currentStage != null) {
      throw new UnsupportedOperationException("nested stage '${name}' in '${currentStage}' is not modelled")
    }
    if (firstError != null) {
      stagesSkipped << name
      return
    }
    currentStage = name
    stageConditions = []
    stageSteps = null
    stagePost = [:]
    boolean failed = false
    try {
      run(body) // reads when { }, options { }, steps { } and post { }
      if (!conditionsHold()) {
        stagesSkippedByWhen << name
        return
      }
      stagesRun << name
      if (stageSteps != null) {
        run(stageSteps)
      }
    } catch (Throwable error) {
      failed = true
      stagesFailed << name
      fail(error)
    } finally {
      Map<String, Closure> conditions = stagePost
      currentStage = null
      stageConditions = null
      stageSteps = null
      stagePost = null
      // A stage's post runs when its steps ran (not when when { } skipped it), failed or not; an
      // error there fails the stage and the build.
      if (stagesRun.contains(name)) {
        runStagePost(name, conditions, failed)
      }
    }
  }

  private Map<String, Closure> stagePost

  void runStagePost(String name, Map<String, Closure> conditions, boolean failed) {
    String result = failed ? 'FAILURE' : 'SUCCESS'
    POST_CONDITIONS.each { String condition ->
      Closure block = conditions[condition]
      if (block != null && holdsFor(condition, result)) {
        stagePostRun.get(name, []) << condition
        try {
          run(block)
        } catch (Throwable error) {
          if (!stagesFailed.contains(name)) {
            stagesFailed << name
          }
          fail(error)
        }
      }
    }
  }

  void readOptions(Closure body) {
    inOptions = true
    try {
      run(body)
    } finally {
      inOptions = false
    }
  }

  void readTriggers(Closure body) {
    inTriggers = true
    try {
      run(body)
    } finally {
      inTriggers = false
    }
  }

  void addTimeout(Map value) {
    if (!inOptions) {
      throw new UnsupportedOperationException('timeout(Map) without a body belongs in options { }')
    }
    if (currentStage != null) {
      stageTimeouts[currentStage] = value
    } else {
      timeouts << value
    }
  }

  void addOption(String name, value) {
    if (!inOptions || currentStage != null) {
      throw new UnsupportedOperationException("${name} belongs in the pipeline's options { }")
    }
    options << [(name): value]
  }

  void readParameters(Closure body) {
    if (!inPipeline || currentStage != null) {
      throw new UnsupportedOperationException('parameters { } belongs directly in pipeline { }')
    }
    inParameters = true
    try {
      run(body)
    } finally {
      inParameters = false
    }
  }

  void readWhen(Closure body) {
    if (currentStage == null) {
      throw new UnsupportedOperationException('when { } belongs in a stage')
    }
    run(body)
  }

  void addCondition(Closure condition) {
    if (stageConditions == null) {
      throw new UnsupportedOperationException('expression { } belongs in when { }')
    }
    stageConditions << condition
  }

  void readSteps(Closure body) {
    if (currentStage == null) {
      run(body) // not in a Declarative stage: nothing to defer
      return
    }
    stageSteps = body
  }

  void readPost(Closure body) {
    postTarget = currentStage != null ? stagePost : post
    try {
      run(body)
    } finally {
      postTarget = null
    }
  }

  void runPost() {
    POST_CONDITIONS.each { String condition ->
      Closure block = post[condition]
      if (block != null && holds(condition)) {
        postRun << condition
        try {
          run(block)
        } catch (Throwable error) {
          fail(error)
        }
      }
    }
  }

  boolean holds(String condition) {
    return holdsFor(condition, test.binding.getVariable('currentBuild').result ?: 'SUCCESS')
  }

  static boolean holdsFor(String condition, String result) {
    switch (condition) {
      case 'always':
      case 'cleanup':
        return true
      case 'success':
        return result == 'SUCCESS'
      case 'failure':
        return result == 'FAILURE'
      case 'unstable':
        return result == 'UNSTABLE'
      case 'aborted':
        return result == 'ABORTED'
      case 'unsuccessful':
        return result != 'SUCCESS'
      default:
        return false // changed, fixed, regression compare with a previous build; there is none here
    }
  }

  void fail(Throwable error) {
    if (firstError == null) {
      firstError = error
    }
    test.updateBuildStatus('FAILURE')
  }
}
