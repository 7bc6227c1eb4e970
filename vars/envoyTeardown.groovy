// Teardown (run it in `post { always { ... } }`): removes only this build's compose project, its
// containers, networks and volumes.  Runs: <cli> teardown [options]
def call(Map config = [:]) {
  Map shared = envoyPipelineSupport.defaults()
  // cli, configFile, composeFile, project, waitTimeout: see envoyPipelineSupport.commonDefaults
  Map defaultConfig = envoyPipelineSupport.commonDefaults(shared) + [
    // --remove-images: also remove the images the compose file builds.
    removeImages: false,
  ]
  Map finalConfig = envoyPipelineSupport.configure('envoyTeardown', defaultConfig, config)
  sh(script: envoyPipelineSupport.command('teardown', finalConfig), label: 'envoy-pipeline teardown')
}
