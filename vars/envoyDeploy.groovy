// Stage "Deploy": starts Envoy and the services under this build's compose project and waits
// until they are healthy.  Runs: <cli> deploy [options]
def call(Map config = [:]) {
  Map shared = envoyPipelineSupport.defaults()
  // cli, configFile, composeFile, project, waitTimeout: see envoyPipelineSupport.commonDefaults
  Map defaultConfig = envoyPipelineSupport.commonDefaults(shared) + [
    // --listener-port: host port of Envoy's listener on 127.0.0.1 (null: the CLI's default; 0: a free port).
    listenerPort: null,
    // --admin-port: host port of Envoy's admin interface on 127.0.0.1 (null: the CLI's default; 0: a free port).
    adminPort   : null,
    // --discovery: 'dns' (STRICT_DNS) or 'xds' (the control plane over ADS) (null: the CLI's default, dns).
    discovery   : null,
  ]
  Map finalConfig = envoyPipelineSupport.configure('envoyDeploy', defaultConfig, config)
  sh(script: envoyPipelineSupport.command('deploy', finalConfig), label: 'envoy-pipeline deploy')
}
