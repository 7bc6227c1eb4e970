// Stage "Build": builds the stack's images (docker compose build).  Runs: <cli> build [options]
// Named envoyBuild so that it never shadows Jenkins' own `build` step.
def call(Map config = [:]) {
  Map shared = envoyPipelineSupport.defaults()
  // cli, configFile, composeFile, project, waitTimeout: see envoyPipelineSupport.commonDefaults
  Map defaultConfig = envoyPipelineSupport.commonDefaults(shared)
  Map finalConfig = envoyPipelineSupport.configure('envoyBuild', defaultConfig, config)
  sh(script: envoyPipelineSupport.command('build', finalConfig), label: 'envoy-pipeline build')
}
