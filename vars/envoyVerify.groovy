// Stage "Verify": sends requests through Envoy and checks that every replica answered its share.
// Writes <reportDir>/verify.json, junit.xml and verify.html, and fails (non-zero exit) unless
// every check passed.  Runs: <cli> verify [options]
def call(Map config = [:]) {
  Map shared = envoyPipelineSupport.defaults()
  // cli, configFile, composeFile, project, waitTimeout: see envoyPipelineSupport.commonDefaults
  Map defaultConfig = envoyPipelineSupport.commonDefaults(shared) + [
    // --scale: the services to verify, with the replicas envoyScale gave them (Map of service name
    // to Integer 1..50). null: what envoyDeploy/envoyScale last applied to the stack (the CLI reads
    // it from Docker), else the CLI's default services.
    replicas   : null,
    // --requests: requests per service (null: the CLI's default, which sizes the sample from the statistics).
    requests   : null,
    // --concurrency: requests in flight at once (null: the CLI's default).
    concurrency: null,
    // --report-dir: where the reports go, relative to the workspace (default from defaults.json: reports).
    reportDir  : shared.reportDir,
    // --json: also print the result as JSON on stdout.
    json       : false,
  ]
  Map finalConfig = envoyPipelineSupport.configure('envoyVerify', defaultConfig, config)
  sh(script: envoyPipelineSupport.command('verify', finalConfig), label: 'envoy-pipeline verify')
}
