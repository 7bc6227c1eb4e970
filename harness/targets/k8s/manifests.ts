// Kubernetes manifests of the stack, from the same model as the compose and swarm targets.
// Design notes: docs/kubernetes.md ("targets/k8s/manifests.ts").
import { createHash } from "node:crypto";
import { renameEnvoyUpstreams, renamePrometheusTargets } from "../../render/dns-names.ts";
import type { StackModel } from "../../render/model.ts";

export type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
} & Record<string, unknown>;

export interface K8sOptions {
  namespace: string;
  /** Where the cluster pulls the images built for this stack (the backends), e.g. registry.example/envoy-pipeline. */
  imagePrefix?: string;
}

const PART_OF = "envoy-pipeline";

/** Kubernetes resource requests and limits; sized from the compose stack's use on a 2-core host. */
interface Resources {
  cpu: [request: string, limit: string];
  memory: [request: string, limit: string];
}

interface PodSpecInput {
  name: string;
  image: string;
  /** The image's user: runAsNonRoot needs a numeric one to check. */
  uid: number;
  ports: Array<{ name: string; port: number }>;
  env?: Record<string, string>;
  command?: string[];
  args?: string[];
  probe: { path: string; port: string; livenessPath?: string };
  resources: Resources;
  mounts?: Array<{ volume: Record<string, unknown> & { name: string }; path: string }>;
  annotations?: Record<string, string>;
}

const labelsFor = (name: string): Record<string, string> => ({ "app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF });

/** The in-cluster DNS name of a headless Service: answers with the addresses of its ready pods. */
export const clusterDnsName = (service: string, namespace: string): string => `${service}.${namespace}.svc.cluster.local`;

function deployment(namespace: string, replicas: number, p: PodSpecInput): Manifest {
  const labels = labelsFor(p.name);
  const httpGet = (path: string) => ({ httpGet: { path, port: p.probe.port } });
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: p.name, namespace, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      // As swarm's --update-order start-first: a new pod is ready before an old one goes.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels, ...(p.annotations ? { annotations: p.annotations } : {}) },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 10,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: p.uid,
            runAsGroup: p.uid,
            fsGroup: p.uid,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: p.name,
              image: p.image,
              imagePullPolicy: "IfNotPresent",
              ...(p.command ? { command: p.command } : {}),
              ...(p.args ? { args: p.args } : {}),
              ports: p.ports.map((x) => ({ name: x.name, containerPort: x.port, protocol: "TCP" })),
              ...(p.env ? { env: Object.entries(p.env).map(([name, value]) => ({ name, value })) } : {}),
              // Ready: Envoy (through the headless Service's DNS) and Prometheus see the pod only then.
              readinessProbe: { ...httpGet(p.probe.path), periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 1 },
              livenessProbe: {
                ...httpGet(p.probe.livenessPath ?? p.probe.path),
                initialDelaySeconds: 10,
                periodSeconds: 10,
                timeoutSeconds: 2,
                failureThreshold: 3,
              },
              resources: {
                requests: { cpu: p.resources.cpu[0], memory: p.resources.memory[0] },
                limits: { cpu: p.resources.cpu[1], memory: p.resources.memory[1] },
              },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
              ...(p.mounts
                ? { volumeMounts: p.mounts.map((m) => ({ name: m.volume.name, mountPath: m.path, readOnly: !("emptyDir" in m.volume) })) }
                : {}),
            },
          ],
          ...(p.mounts ? { volumes: p.mounts.map((m) => m.volume) } : {}),
        },
      },
    },
  };
}

function headlessService(namespace: string, name: string, ports: Array<{ name: string; port: number }>): Manifest {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, labels: labelsFor(name) },
    spec: {
      clusterIP: "None",
      selector: labelsFor(name),
      ports: ports.map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: "TCP" })),
    },
  };
}

/** A component's configuration file, labelled as the component it belongs to. */
function configMap(namespace: string, component: string, data: Record<string, string>): Manifest {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${component}-config`, namespace, labels: labelsFor(component) }, data };
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** Envoy: its configuration, one pod that rolls when the configuration changes, and its service. */
function envoyManifests(ns: string, model: StackModel, envoyYaml: string, [listenerPort, adminPort]: [number, number]): Manifest[] {
  const envoyPorts = [
    { name: "http", port: listenerPort },
    { name: "admin", port: adminPort },
  ];
  return [
    configMap(ns, model.envoy.name, { "envoy.yaml": envoyYaml }),
    deployment(ns, 1, {
      name: model.envoy.name,
      image: model.envoy.baseImage,
      // The image's `envoy` user; the entry point is bypassed (it only drops root, which we never have).
      uid: 101,
      command: ["envoy"],
      args: ["-c", "/etc/envoy-pipeline/envoy.yaml"],
      ports: envoyPorts,
      // /ready is 200 "LIVE" once the listeners are up, 503 while draining.
      probe: { path: "/ready", port: "admin", livenessPath: "/server_info" },
      resources: { cpu: ["100m", "1"], memory: ["64Mi", "256Mi"] },
      mounts: [{ volume: { name: "config", configMap: { name: `${model.envoy.name}-config` } }, path: "/etc/envoy-pipeline" }],
      // A changed configuration rolls the pods (a ConfigMap change alone does not).
      annotations: { "envoy-pipeline/config-sha256": sha256(envoyYaml) },
    }),
    headlessService(ns, model.envoy.name, envoyPorts),
  ];
}

/** Prometheus: its configuration, one pod with an emptyDir for its data, and its service. */
function prometheusManifests(ns: string, model: StackModel, prometheusYml: string, prometheusPort: number): Manifest[] {
  const promPorts = [{ name: "http", port: prometheusPort }];
  return [
    configMap(ns, model.prometheus.name, { "prometheus.yml": prometheusYml }),
    deployment(ns, 1, {
      name: model.prometheus.name,
      image: model.prometheus.baseImage,
      // `nobody`, as the official image runs.
      uid: 65534,
      args: ["--config.file=/etc/envoy-pipeline/prometheus.yml", "--storage.tsdb.path=/prometheus"],
      ports: promPorts,
      probe: { path: "/-/ready", port: "http", livenessPath: "/-/healthy" },
      resources: { cpu: ["100m", "1"], memory: ["128Mi", "512Mi"] },
      mounts: [
        { volume: { name: "config", configMap: { name: `${model.prometheus.name}-config` } }, path: "/etc/envoy-pipeline" },
        { volume: { name: "data", emptyDir: {} }, path: "/prometheus" },
      ],
      annotations: { "envoy-pipeline/config-sha256": sha256(prometheusYml) },
    }),
    headlessService(ns, model.prometheus.name, promPorts),
  ];
}

/** Zipkin: one pod and its service. */
function zipkinManifests(ns: string, model: StackModel): Manifest[] {
  const zipkinPorts = [{ name: "http", port: model.zipkin.port }];
  return [
    deployment(ns, 1, {
      name: model.zipkin.name,
      image: model.zipkin.image,
      uid: 1000,
      ports: zipkinPorts,
      env: model.zipkin.environment,
      probe: { path: "/health", port: "http" },
      // The JVM's fixed heap (JAVA_OPTS in the compose file) plus room for the rest of the process.
      resources: { cpu: ["100m", "1"], memory: ["512Mi", "768Mi"] },
      mounts: [{ volume: { name: "tmp", emptyDir: {} }, path: "/tmp" }],
    }),
    headlessService(ns, model.zipkin.name, zipkinPorts),
  ];
}

/** Every manifest of the stack, in an order `kubectl apply` can take. */
export function k8sManifests(model: StackModel, opts: K8sOptions): Manifest[] {
  const ns = opts.namespace;
  const dnsNames = [...model.backends.map((b) => b.name), model.zipkin.name];
  const envoyYaml = renameEnvoyUpstreams(model.envoy.config, dnsNames, (n) => clusterDnsName(n, ns));
  const prometheusYml = renamePrometheusTargets(model.prometheus.config, [model.envoy.name, ...model.backends.map((b) => b.name)], (n) =>
    clusterDnsName(n, ns),
  );
  const backendImage = (image: string): string =>
    opts.imagePrefix ? `${opts.imagePrefix.replace(/\/$/, "")}/${image.replace(/^.*\//, "")}` : image;
  const [listenerPort = 8080, adminPort = 9901] = model.envoy.ports;
  const [prometheusPort = 9090] = model.prometheus.ports;

  const out: Manifest[] = [
    {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns, labels: { "app.kubernetes.io/part-of": PART_OF, "pod-security.kubernetes.io/enforce": "restricted" } },
    },
  ];

  for (const b of model.backends) {
    const ports = [{ name: "http", port: b.port }];
    out.push(
      deployment(ns, b.replicas, {
        name: b.name,
        image: backendImage(b.image),
        // The `node` user of the Node.js images (official and air-gapped alike).
        uid: 1000,
        ports,
        env: b.environment,
        probe: { path: b.healthPath, port: "http" },
        resources: { cpu: ["50m", "500m"], memory: ["64Mi", "256Mi"] },
      }),
      headlessService(ns, b.name, ports),
    );
  }

  out.push(
    ...envoyManifests(ns, model, envoyYaml, [listenerPort, adminPort]),
    ...prometheusManifests(ns, model, prometheusYml, prometheusPort),
    ...zipkinManifests(ns, model),
  );
  return out;
}
