// Stage "Prepare": checks the agent (Node.js, npx, git, a Docker engine whose ports it reaches at
// 127.0.0.1; resources/io/envoypipeline/preflight.sh), then makes sure every image the stack needs
// exists on the agent, pulling it or building an air-gapped equivalent.  Runs: <cli> prepare [options]
def call(Map config = [:]) {
  Map shared = envoyPipelineSupport.defaults()
  // cli, configFile, composeFile, project, waitTimeout: see envoyPipelineSupport.commonDefaults
  Map defaultConfig = envoyPipelineSupport.commonDefaults(shared) + [
    // --force-local: build the local equivalents even where a pull would work.
    forceLocal: false,
  ]
  Map finalConfig = envoyPipelineSupport.configure('envoyPrepare', defaultConfig, config)
  // One clear line per missing piece here, instead of a confusing failure in Deploy or Verify.
  sh(script: envoyPipelineSupport.preflightScript(finalConfig.cli), label: 'envoy-pipeline preflight')
  sh(script: envoyPipelineSupport.command('prepare', finalConfig), label: 'envoy-pipeline prepare')
}
