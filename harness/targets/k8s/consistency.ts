// What the OpenAPI schemas cannot see: references between manifests. A Service whose selector
// matches no pod template, a Deployment whose selector misses its own pods, a probe on a port the
// container does not name or a ConfigMap that is not there all validate, then serve nothing.
import type { Manifest } from "./manifests.ts";

type Labels = Record<string, string>;
interface Container {
  name: string;
  ports?: Array<{ name?: string }>;
  readinessProbe?: { httpGet?: { port: string | number } };
  livenessProbe?: { httpGet?: { port: string | number } };
}
interface PodTemplate {
  metadata?: { labels?: Labels };
  spec: { containers: Container[]; volumes?: Array<{ name: string; configMap?: { name: string } }> };
}

const matches = (selector: Labels, labels: Labels | undefined): boolean => Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** One line per broken reference; empty when the manifests hang together. */
export function consistencyProblems(manifests: readonly Manifest[]): string[] {
  const problems: string[] = [];
  const deployments = manifests.filter((m) => m.kind === "Deployment");
  const configMaps = new Set(manifests.filter((m) => m.kind === "ConfigMap").map((m) => m.metadata.name));
  const templates = deployments.map((d) => {
    const spec = d.spec as { selector: { matchLabels: Labels }; template: PodTemplate };
    if (!matches(spec.selector.matchLabels, spec.template.metadata?.labels))
      problems.push(`Deployment ${d.metadata.name}: selector does not match its pod template's labels`);
    for (const c of spec.template.spec.containers) {
      const names = new Set((c.ports ?? []).map((p) => p.name));
      for (const [probe, def] of [
        ["readinessProbe", c.readinessProbe],
        ["livenessProbe", c.livenessProbe],
      ] as const) {
        const port = def?.httpGet?.port;
        if (def === undefined) problems.push(`Deployment ${d.metadata.name}: container ${c.name} has no ${probe}`);
        else if (typeof port === "string" && !names.has(port))
          problems.push(`Deployment ${d.metadata.name}: ${probe} uses port '${port}', which container ${c.name} does not name`);
      }
    }
    for (const v of spec.template.spec.volumes ?? []) {
      if (v.configMap && !configMaps.has(v.configMap.name))
        problems.push(`Deployment ${d.metadata.name}: volume ${v.name} needs ConfigMap ${v.configMap.name}, which is not rendered`);
    }
    return spec.template;
  });
  for (const s of manifests.filter((m) => m.kind === "Service")) {
    const spec = s.spec as { selector: Labels; ports: Array<{ name: string; targetPort: string | number }> };
    const pods = templates.filter((t) => matches(spec.selector, t.metadata?.labels));
    if (pods.length === 0) {
      problems.push(`Service ${s.metadata.name}: selector matches no Deployment's pods`);
      continue;
    }
    for (const p of spec.ports) {
      const named = pods.some((t) => t.spec.containers.some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort)));
      if (typeof p.targetPort === "string" && !named)
        problems.push(`Service ${s.metadata.name}: port ${p.name} targets '${p.targetPort}', which its pods do not name`);
    }
  }
  return problems;
}
