// `envoy-pipeline render k8s --out <dir> [--validate]`: registered by harness/cli.ts.
import { type Command, InvalidArgumentError } from "commander";
import { loadConfig, parseScale, projectNameSchema } from "../../config.ts";
import { log } from "../../lib/log.ts";
import { KUBERNETES_VERSION } from "./validate.ts";

interface RenderOptions {
  out: string;
  config?: string;
  composeFile?: string;
  namespace: string;
  imagePrefix?: string;
  imageTag: string;
  scale?: string[];
  validate?: boolean;
}

const dnsLabel = (value: string): string => {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value) || value.length > 63) {
    throw new InvalidArgumentError(`'${value}' is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)`);
  }
  return value;
};
const imageTag = (value: string): string => {
  if (!/^[\w][\w.-]{0,127}$/.test(value)) throw new InvalidArgumentError(`'${value}' is not an image tag`);
  return value;
};

/** `action` is the CLI's wrapper: one line and exit 2 for bad input; here 1 for invalid manifests. */
// biome-ignore lint/suspicious/noConfusingVoidType: actions return an exit code or nothing at all
type Action = <A extends unknown[]>(fn: (...args: A) => Promise<number | void>) => (...args: A) => Promise<void>;

export function registerRenderCommands(program: Command, action: Action): void {
  const render = program.command("render").description("write the stack for another platform");
  render
    .command("k8s")
    .description(
      "Kubernetes manifests (Deployments, headless Services, Envoy's ConfigMap, Prometheus, Zipkin) from the compose stack's model",
    )
    .requiredOption("--out <dir>", "folder to write the manifests into")
    .option("--config <file>", "JSON config file (its scale gives the replicas)")
    .option("--compose-file <path>", "compose file the model is read from")
    .option("--namespace <name>", "namespace of every resource", dnsLabel, "envoy-pipeline")
    .option("--image-prefix <prefix>", "registry path the cluster pulls the service image from (e.g. registry.example/team)")
    .option("--image-tag <tag>", "tag of the images built for the stack", imageTag, "latest")
    .option("--scale <service=replicas>", "replicas per service, as for scale", (v: string, p: string[] = []) => [...p, v])
    .option("--validate", `validate the written manifests offline against Kubernetes ${KUBERNETES_VERSION}'s schemas`)
    .action(
      action(async (o: RenderOptions) => {
        const config = loadConfig({
          ...(o.config !== undefined ? { file: o.config } : {}),
          cli: {
            ...(o.composeFile !== undefined ? { composeFile: o.composeFile } : {}),
            ...(o.scale !== undefined ? { scale: parseScale(o.scale) } : {}),
            // Rendering starts nothing: no per-run project is needed, but the schema wants a name.
            projectName: projectNameSchema.parse("envoy-pipeline"),
          },
        });
        const [{ renderK8s }, { validateManifests }] = await Promise.all([import("./render.ts"), import("./validate.ts")]);
        const files = await renderK8s(config, o.out, {
          namespace: o.namespace,
          imageTag: o.imageTag,
          ...(o.imagePrefix ? { imagePrefix: o.imagePrefix } : {}),
        });
        for (const f of files) log.info(`wrote ${f}`);
        if (!o.validate) return 0;
        const result = await validateManifests(files);
        for (const p of result.problems) log.info(p);
        log.info(
          result.passed ? `valid against Kubernetes ${KUBERNETES_VERSION} (strict)` : `INVALID against Kubernetes ${KUBERNETES_VERSION}`,
        );
        return result.passed ? 0 : 1;
      }),
    );
}
