// The Kubernetes target's manifests, read from the compose stack's model: what the schemas cannot
// check (headless Services, probes, limits, non-root pods, references) and the Envoy names.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../../harness/lib/paths.ts";
import { renameEnvoyUpstreams, renamePrometheusTargets } from "../../harness/render/dns-names.ts";
import { interpolate, readStackModel } from "../../harness/render/model.ts";
import { consistencyProblems } from "../../harness/targets/k8s/consistency.ts";
import { clusterDnsName, k8sManifests, type Manifest } from "../../harness/targets/k8s/manifests.ts";
import { manifestFiles } from "../../harness/targets/k8s/render.ts";
import { resolve } from "node:path";

const model = readStackModel({ composeFile: resolve(repoRoot, "docker-compose.yml"), scale: { service1: 3, service2: 2 }, imageTag: "v7" });
const manifests = k8sManifests(model, { namespace: "shop" });
const of = (kind: string, name: string, list: readonly Manifest[] = manifests): Manifest => {
  const m = list.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) throw new Error(`no ${kind} ${name}`);
  return m;
};
// biome-ignore lint/suspicious/noExplicitAny: the tests walk parsed manifests field by field
type Pod = { securityContext: Record<string, unknown>; containers: Array<Record<string, any>> };
const podOf = (name: string): Pod => (of("Deployment", name).spec as { template: { spec: Pod } }).template.spec;

describe("the stack model", () => {
  it("reads services, images, environment and configuration from the compose stack", () => {
    expect(model.backends.map((b) => [b.name, b.replicas, b.image, b.port, b.environment.SERVICE_ID])).toEqual([
      ["service1", 3, "envoy-pipeline/service:v7", 8080, "1"],
      ["service2", 2, "envoy-pipeline/service:v7", 8080, "2"],
    ]);
    expect(model.envoy.baseImage).toBe("envoyproxy/envoy:v1.40.0");
    // The HTTP listener, the admin, and the L4 (tcp_proxy) listeners of service1 and service2.
    expect(model.envoy.ports).toEqual([8080, 9901, 8081, 8082, 50051, 50052]);
    expect(model.envoy.config).toContain("type: STRICT_DNS");
    expect(model.zipkin.environment.MEM_MAX_SPANS).toBe("40000");
  });

  it("interpolates compose variables as compose does", () => {
    // biome-ignore-start lint/suspicious/noTemplateCurlyInString: compose's ${VAR} syntax is the input
    expect(interpolate("a:${T:-latest}", {})).toBe("a:latest");
    expect(interpolate("a:${T:-latest}", { T: "" })).toBe("a:latest");
    expect(interpolate("a:${T-latest}", { T: "" })).toBe("a:");
    expect(interpolate("a:${T}", { T: "x" })).toBe("a:x");
    // biome-ignore-end lint/suspicious/noTemplateCurlyInString: compose's ${VAR} syntax is the input
  });

  it("fails with the file and field when the compose stack lacks a service the model needs", () => {
    expect(() => readStackModel({ composeFile: resolve(repoRoot, "docker-compose.yml"), scale: { service9: 1 }, imageTag: "x" })).toThrow(
      /docker-compose.yml: no service 'service9'/,
    );
  });
});

describe("Envoy and Prometheus names per target", () => {
  it("renames only the upstream addresses, keeping comments and anchors", () => {
    const out = renameEnvoyUpstreams(model.envoy.config, ["service1", "service2", "zipkin"], (n) => `tasks.${n}`);
    expect(out).toContain("socket_address: { address: tasks.service1, port_value: 8080 }");
    expect(out).toContain("socket_address: { address: tasks.zipkin, port_value: 9411 }");
    expect(out).toContain("socket_address: { address: 0.0.0.0, port_value: 8080 }");
    expect(out).toContain("health_checks: &health_checks");
    expect(out).toContain("# STRICT_DNS makes every address");
    expect(parse(out)).toBeTruthy();
  });

  it("says no when a name is not in the file", () => {
    expect(() => renameEnvoyUpstreams(model.envoy.config, ["service1", "service3"], (n) => n)).toThrow(
      /no upstream address named service3/,
    );
    expect(() => renamePrometheusTargets(model.prometheus.config, ["service7"], (n) => n)).toThrow(/no upstream address named service7/);
  });

  it("keeps Prometheus' compose_service label the bare service name", () => {
    const out = parse(renamePrometheusTargets(model.prometheus.config, ["service1", "service2"], (n) => clusterDnsName(n, "shop"))) as {
      scrape_configs: Array<{ job_name: string; dns_sd_configs: Array<{ names: string[] }>; relabel_configs: Array<{ regex: string }> }>;
    };
    const services = out.scrape_configs.find((j) => j.job_name === "services");
    expect(services?.dns_sd_configs[0]?.names).toEqual(["service1.shop.svc.cluster.local", "service2.shop.svc.cluster.local"]);
    const re = new RegExp(`^${services?.relabel_configs[0]?.regex ?? ""}$`);
    expect("service1.shop.svc.cluster.local".replace(re, "$1")).toBe("service1");
    expect("tasks.service2".replace(re, "$1")).toBe("service2");
    expect("service2".replace(re, "$1")).toBe("service2");
  });
});

describe("Kubernetes manifests", () => {
  it("has a Deployment and a headless Service per backend, with the scale's replicas", () => {
    for (const b of model.backends) {
      expect((of("Deployment", b.name).spec as { replicas: number }).replicas).toBe(b.replicas);
      const svc = of("Service", b.name).spec as { clusterIP: string };
      expect(svc.clusterIP).toBe("None");
      expect(podOf(b.name).containers[0]?.image).toBe("envoy-pipeline/service:v7");
    }
    for (const name of ["front-envoy", "prometheus", "zipkin"]) {
      of("Deployment", name);
      expect((of("Service", name).spec as { clusterIP: string }).clusterIP).toBe("None");
    }
  });

  it("gives Envoy a ConfigMap with the cluster's DNS names of the headless Services", () => {
    const text = (of("ConfigMap", "front-envoy-config").data as Record<string, string>)["envoy.yaml"] ?? "";
    expect(text).toContain("address: service1.shop.svc.cluster.local");
    expect(text).toContain("address: zipkin.shop.svc.cluster.local");
    expect(text).not.toMatch(/address: service\d,/);
    expect(podOf("front-envoy").containers[0]?.args).toEqual(["-c", "/etc/envoy-pipeline/envoy.yaml"]);
  });

  it("probes every backend on /healthz and every container for readiness and liveness", () => {
    for (const b of model.backends) {
      const c = podOf(b.name).containers[0];
      expect(c?.readinessProbe.httpGet.path).toBe("/healthz");
      expect(c?.livenessProbe.httpGet.path).toBe("/healthz");
    }
    for (const d of manifests.filter((m) => m.kind === "Deployment")) {
      for (const c of podOf(d.metadata.name).containers) {
        expect(c.readinessProbe, d.metadata.name).toBeDefined();
        expect(c.livenessProbe, d.metadata.name).toBeDefined();
      }
    }
  });

  it("runs every pod as a non-root user without privileges, with requests and limits", () => {
    for (const d of manifests.filter((m) => m.kind === "Deployment")) {
      const pod = podOf(d.metadata.name);
      expect(pod.securityContext.runAsNonRoot, d.metadata.name).toBe(true);
      expect(pod.securityContext.runAsUser, d.metadata.name).toBeGreaterThan(0);
      for (const c of pod.containers) {
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        });
        for (const k of ["cpu", "memory"]) {
          expect(c.resources.requests[k], `${d.metadata.name} ${k}`).toBeTruthy();
          expect(c.resources.limits[k], `${d.metadata.name} ${k}`).toBeTruthy();
        }
      }
    }
  });

  it("hangs together: selectors, probe ports and ConfigMaps all resolve", () => {
    expect(consistencyProblems(manifests)).toEqual([]);
  });

  it("says no to a Service that selects nothing, a probe on an unnamed port and a missing ConfigMap", () => {
    const broken = structuredClone(manifests);
    const svc = of("Service", "service2", broken);
    (svc.spec as { selector: Record<string, string> }).selector["app.kubernetes.io/name"] = "service-2";
    const dep = of("Deployment", "service1", broken);
    const pod = (dep.spec as { template: { spec: Pod } }).template.spec;
    (pod.containers[0] as { readinessProbe: { httpGet: { port: string } } }).readinessProbe.httpGet.port = "web";
    const withoutConfig = broken.filter((m) => m.metadata.name !== "prometheus-config");
    expect(consistencyProblems(withoutConfig)).toEqual([
      "Deployment service1: readinessProbe uses port 'web', which container service1 does not name",
      "Deployment prometheus: volume config needs ConfigMap prometheus-config, which is not rendered",
      "Service service2: selector matches no Deployment's pods",
    ]);
  });

  it("takes the image registry from --image-prefix for the images built here only", () => {
    const pushed = k8sManifests(model, { namespace: "shop", imagePrefix: "registry.example/team/" });
    const image = (name: string) => (of("Deployment", name, pushed).spec as { template: { spec: Pod } }).template.spec.containers[0]?.image;
    expect(image("service1")).toBe("registry.example/team/service:v7");
    expect(image("zipkin")).toBe("openzipkin/zipkin:3");
  });

  it("writes one file per component, the namespace first", () => {
    const files = manifestFiles(manifests);
    expect([...files.keys()]).toEqual([
      "00-namespace.yaml",
      "service1.yaml",
      "service2.yaml",
      "front-envoy.yaml",
      "prometheus.yaml",
      "zipkin.yaml",
    ]);
    expect(
      files
        .get("front-envoy.yaml")
        ?.split(/^---$/m)
        .map((d) => (parse(d) as Manifest).kind),
    ).toEqual(["ConfigMap", "Deployment", "Service"]);
  });
});
