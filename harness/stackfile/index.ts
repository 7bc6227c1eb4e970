// The stack file: a team's services, routes and policies (envoy-pipeline.yaml), or the demo's.
export { type ComposeServices, parseComposeText, readCompose, servicePorts } from "./compose.ts";
export { DEMO_SOURCE, demoStackFile } from "./demo.ts";
export { compileStack, demoStack, findStackFile, loadStack, loadStackFile, STACK_FILE_NAME, StackFileError } from "./load.ts";
export {
  DEFAULT_HEALTH,
  DEFAULT_REPLICAS,
  HTTP_LISTENER_PORT,
  type Policy,
  routeOrder,
  routeTakes,
  type Stack,
  type StackService,
} from "./model.ts";
export { POLICIES, PROTOCOLS, type StackFile, stackFileSchema } from "./schema.ts";
