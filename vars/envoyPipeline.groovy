// The whole pipeline in one step: a Declarative Pipeline with the stages Prepare, Build, Deploy,
// Scale and Verify, the verify report recorded and archived, and teardown whatever happened.
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
  // cli, configFile, composeFile, project, waitTimeout: see envoyPipelineSupport.commonDefaults
  Map defaultConfig = envoyPipelineSupport.commonDefaults(shared) + [
    // Label expression of the agent that runs the build; it needs Docker and Node.js ('' = any agent).
    agentLabel    : shared.agentLabel,
    // Minutes the whole build may take (options { timeout }).
    timeoutMinutes: shared.timeoutMinutes,
    // Prepare: --force-local.
    forceLocal    : false,
    // Deploy: --listener-port and --admin-port (null: the CLI's defaults).
    listenerPort  : null,
    adminPort     : null,
    // Scale and Verify: replicas per compose service, [service: Integer 1..50].
    replicas      : shared.replicas,
    // Verify: --requests and --concurrency (null: the CLI's defaults).
    requests      : null,
    concurrency   : null,
    // Verify: report folder, relative to the workspace; junit and archiveArtifacts read it.
    reportDir     : shared.reportDir,
    // Teardown: --remove-images.
    removeImages  : false,
  ]
  // Checked before the pipeline starts, so a typo fails at once instead of after an agent is busy.
  Map cfg = envoyPipelineSupport.configure('envoyPipeline', defaultConfig, config,
      [reportDir: [kind: 'workspacePath']])

  // Each step gets exactly its own keys (a step rejects keys it does not know).
  Map common = cfg.subMap(['cli', 'configFile', 'composeFile', 'project', 'waitTimeout'])
  Map prepareArgs = common + [forceLocal: cfg.forceLocal]
  Map buildArgs = common
  Map deployArgs = common + [listenerPort: cfg.listenerPort, adminPort: cfg.adminPort]
  Map scaleArgs = common + [replicas: cfg.replicas]
  Map verifyArgs = common + [replicas: cfg.replicas, requests: cfg.requests, concurrency: cfg.concurrency, reportDir: cfg.reportDir]
  Map teardownArgs = common + [removeImages: cfg.removeImages]
  String agentLabel = cfg.agentLabel
  int timeoutMinutes = cfg.timeoutMinutes
  String junitReport = "${cfg.reportDir}/junit.xml"
  String reportArtifacts = "${cfg.reportDir}/verify.html,${cfg.reportDir}/verify.json"

  // The commit to build, when the build names one (the webhook's COMMIT, or "Build with
  // Parameters"); empty: the branch head Jenkins checked out. Checked before an agent is taken:
  // only a commit id may become the git revision.
  String commit = envoyPipelineSupport.commitToBuild('envoyPipeline', params.COMMIT)

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
      timeout(time: timeoutMinutes, unit: 'MINUTES')
    }
    triggers {
      githubPush()
    }
    stages {
      stage('Checkout') {
        // Only when COMMIT is set: the job's own checkout already has the branch head otherwise.
        when {
          expression { return commit != '' }
        }
        steps {
          // The job's remote and credentials; the revision is the commit.
          checkout([$class: 'GitSCM', branches: [[name: commit]], userRemoteConfigs: scm.userRemoteConfigs])
        }
      }
      stage('Prepare') {
        steps {
          envoyPrepare(prepareArgs)
        }
      }
      stage('Build') {
        steps {
          envoyBuild(buildArgs)
        }
      }
      stage('Deploy') {
        steps {
          envoyDeploy(deployArgs)
        }
      }
      stage('Scale') {
        steps {
          envoyScale(scaleArgs)
        }
      }
      stage('Verify') {
        steps {
          envoyVerify(verifyArgs)
        }
      }
    }
    post {
      always {
        // allowEmpty*: when an earlier stage failed there is no report, and a failing junit or
        // archiveArtifacts here would skip the teardown below.
        junit(testResults: junitReport, allowEmptyResults: true)
        archiveArtifacts(artifacts: reportArtifacts, allowEmptyArchive: true)
        envoyTeardown(teardownArgs)
      }
    }
  }
}
