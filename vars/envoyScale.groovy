// Stage "Scale": scales compose services behind Envoy and waits until every replica is healthy
// and known to Envoy.  Runs: <cli> scale --scale service=n [--scale ...] [options]
def call(Map config = [:]) {
  Map shared = envoyPipelineSupport.defaults()
  // cli, configFile, composeFile, project, waitTimeout: see envoyPipelineSupport.commonDefaults
  Map defaultConfig = envoyPipelineSupport.commonDefaults(shared) + [
    // Replicas per compose service: a Map of service name to an Integer from 1 to 50, one
    // --scale service=n each, in the map's order (default from defaults.json: service1: 3, service2: 3).
    replicas: shared.replicas,
  ]
  Map finalConfig = envoyPipelineSupport.configure('envoyScale', defaultConfig, config)
  sh(script: envoyPipelineSupport.command('scale', finalConfig), label: 'envoy-pipeline scale')
}
