// The whole pipeline in one step: a Declarative Pipeline with the stages Prepare, Build, Deploy,
// Scale and Verify, each under its own timeout; Verify records and archives its report in its own
// post; the stack is torn down in post { cleanup }, under its own timeout, whatever happened before.
// The build parameters COMMIT and BRANCH are declared; with COMMIT set, a Checkout stage first
// checks out that commit (what `envoy-pipeline webhook --trigger jenkins` asks for).
// A Jenkinsfile needs only:
//
//   @Library('envoy-pipeline') _
//   envoyPipeline(agentLabel: 'docker', replicas: [service1: 3, service2: 3])
//
// Only one Declarative Pipeline may run in a build, so call it once, as the whole Jenkinsfile.
def call(Map config = [:]) {
  Map shared = envoyPipelineSupport.defaults()
  // cli, configFile, composeFile, project, waitTimeout, target: see envoyPipelineSupport.commonDefaults
  Map defaultConfig = envoyPipelineSupport.commonDefaults(shared) + [
    // Label expression of the agent that runs the build; it needs Docker and Node.js ('' = any agent).
    agentLabel    : shared.agentLabel,
    // Minutes each stage may take (a timeout per stage, not one for the whole pipeline: a
    // pipeline-wide timeout also covers post, and would cut the teardown of a build that timed out).
    timeoutMinutes: shared.timeoutMinutes,
    // Minutes the teardown in post { cleanup } may take, on top of the stages' time.
    teardownTimeoutMinutes: shared.teardownTimeoutMinutes,
    // How a push starts a build: 'none' (the default: the webhook receiver, a multibranch branch
    // source, or the job's own configuration) or 'githubPush' (Jenkins' GitHub plugin and its
    // /github-webhook/). Never both: every push would build twice.
    trigger       : 'none',
    // A new build of this job aborts the running one (true), or waits for it (false). Two builds
    // on one agent at once would skew each other's load-balancing statistics.
    abortPrevious : true,
    // Builds kept (buildDiscarder(logRotator(numToKeepStr: ...))).
    keepBuilds    : shared.keepBuilds,
    // Prepare: --force-local.
    forceLocal    : false,
    // Deploy: --listener-port and --admin-port (null: the CLI's defaults).
    listenerPort  : null,
    adminPort     : null,
    // Deploy: --discovery, 'dns' or 'xds' (null: the CLI's default, dns); later stages follow the stack.
    discovery     : null,
    // Scale and Verify: replicas per compose service, [service: Integer 1..50].
    replicas      : shared.replicas,
    // Verify: --requests and --concurrency (null: the CLI's defaults).
    requests      : null,
    concurrency   : null,
    // Verify: report folder, relative to the workspace; emptied in Prepare, read by junit and archiveArtifacts.
    reportDir     : shared.reportDir,
    // Teardown: --remove-images.
    removeImages  : false,
  ]
  // Checked before the pipeline starts, so a typo fails at once instead of after an agent is busy.
  Map cfg = envoyPipelineSupport.configure('envoyPipeline', defaultConfig, config,
      [reportDir: [kind: 'workspacePath']])

  // Each step gets exactly its own keys (a step rejects keys it does not know).
  Map common = cfg.subMap(['cli', 'configFile', 'composeFile', 'project', 'waitTimeout', 'target'])
  Map prepareArgs = common + [forceLocal: cfg.forceLocal]
  Map buildArgs = common
  Map deployArgs = common + [listenerPort: cfg.listenerPort, adminPort: cfg.adminPort, discovery: cfg.discovery]
  Map scaleArgs = common + [replicas: cfg.replicas]
  Map verifyArgs = common + [replicas: cfg.replicas, requests: cfg.requests, concurrency: cfg.concurrency, reportDir: cfg.reportDir]
  Map teardownArgs = common + [removeImages: cfg.removeImages]
  String agentLabel = cfg.agentLabel
  int timeoutMinutes = cfg.timeoutMinutes
  int teardownMinutes = cfg.teardownTimeoutMinutes
  boolean abortPrevious = cfg.abortPrevious
  String keepBuilds = String.valueOf(cfg.keepBuilds)
  String reportDir = cfg.reportDir
  String junitReport = "${reportDir}/junit.xml"
  String reportArtifacts = "${reportDir}/verify.html,${reportDir}/verify.css,${reportDir}/verify.json"

  // The commit to build, when the build names one (the webhook's COMMIT, or "Build with
  // Parameters"); empty: the branch head Jenkins checked out. Checked before an agent is taken:
  // only a commit id may become the git revision.
  String commit = envoyPipelineSupport.commitToBuild('envoyPipeline', params.COMMIT)

  // The GitHub plugin's trigger only on request, and outside pipeline {}: a triggers { githubPush() }
  // section would make Declarative reject the whole pipeline on a controller without that plugin.
  // Declarative keeps job properties it did not set itself, so this trigger stays.
  if (cfg.trigger == 'githubPush') {
    properties([pipelineTriggers([githubPush()])])
  }

  pipeline {
    agent {
      label "${agentLabel}"
    }
    parameters {
      string(name: 'COMMIT', defaultValue: '',
          description: 'Commit to build: 7 to 40 hexadecimal digits. Empty: the head of the branch. Set by envoy-pipeline webhook --trigger jenkins.')
      string(name: 'BRANCH', defaultValue: '',
          description: 'Branch COMMIT was pushed to, for the record. Set by envoy-pipeline webhook --trigger jenkins.')
    }
    options {
      disableConcurrentBuilds(abortPrevious: abortPrevious)
      buildDiscarder(logRotator(numToKeepStr: keepBuilds))
      timestamps()
    }
    stages {
      stage('Checkout') {
        // Only when COMMIT is set: the job's own checkout already has the branch head otherwise.
        when {
          expression { return commit != '' }
        }
        options {
          timeout(time: timeoutMinutes, unit: 'MINUTES')
        }
        steps {
          // The job's remote and credentials; the revision is the commit.
          checkout([$class: 'GitSCM', branches: [[name: commit]], userRemoteConfigs: scm.userRemoteConfigs])
        }
      }
      stage('Prepare') {
        options {
          timeout(time: timeoutMinutes, unit: 'MINUTES')
        }
        steps {
          // No report of an earlier build may be recorded or archived as this build's.
          dir(reportDir) {
            deleteDir()
          }
          envoyPrepare(prepareArgs)
        }
      }
      stage('Build') {
        options {
          timeout(time: timeoutMinutes, unit: 'MINUTES')
        }
        steps {
          envoyBuild(buildArgs)
        }
      }
      stage('Deploy') {
        options {
          timeout(time: timeoutMinutes, unit: 'MINUTES')
        }
        steps {
          envoyDeploy(deployArgs)
        }
      }
      stage('Scale') {
        options {
          timeout(time: timeoutMinutes, unit: 'MINUTES')
        }
        steps {
          envoyScale(scaleArgs)
        }
      }
      stage('Verify') {
        options {
          timeout(time: timeoutMinutes, unit: 'MINUTES')
        }
        steps {
          envoyVerify(verifyArgs)
        }
        // In the stage's own post: the results attach to Verify, and a build that never reached
        // Verify records nothing. allowEmpty*: a Verify that failed before writing its report.
        post {
          always {
            junit(testResults: junitReport, allowEmptyResults: true, skipOldReports: true)
            archiveArtifacts(artifacts: reportArtifacts, allowEmptyArchive: true)
          }
        }
      }
    }
    post {
      // cleanup runs after every other post condition, whatever they did; its own timeout, since
      // the stages' timeouts do not cover it.
      cleanup {
        timeout(time: teardownMinutes, unit: 'MINUTES') {
          envoyTeardown(teardownArgs)
        }
      }
    }
  }
}
