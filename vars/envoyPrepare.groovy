// Stage "Prepare": makes sure every image the stack needs exists on the agent, pulling it or
// building an air-gapped equivalent.  Runs: <cli> prepare [options]
def call(Map config = [:]) {
  Map shared = envoyPipelineSupport.defaults()
  // cli, configFile, composeFile, project, waitTimeout: see envoyPipelineSupport.commonDefaults
  Map defaultConfig = envoyPipelineSupport.commonDefaults(shared) + [
    // --force-local: build the local equivalents even where a pull would work.
    forceLocal: false,
  ]
  Map finalConfig = envoyPipelineSupport.configure('envoyPrepare', defaultConfig, config)
  sh(script: envoyPipelineSupport.command('prepare', finalConfig), label: 'envoy-pipeline prepare')
}
