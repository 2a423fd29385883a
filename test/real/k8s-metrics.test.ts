/**
 * Kubernetes metric gathering against a real kube-apiserver, with the three metrics APIs served by
 * the in-test stub behind APIService objects. Pods are created by the test and given their states
 * through the status subresource, since no scheduler or kubelet runs. Needs the binaries from
 * scripts/build-control-plane.sh (or CPA_CONTROL_PLANE_BIN).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import path from "node:path";

import { createKubernetesMetricsSource, KubernetesMetricsError } from "../../src/k8s-metrics/index.ts";
import { KubeClient, loadKubeConnection } from "../../src/kube/index.ts";
import { rootLogger } from "../../src/logging.ts";
import { systemClock } from "../../src/pipeline/target.ts";
import { startControlPlane, type ControlPlane } from "../controlplane/harness.ts";
import { registerMetricsStub, startMetricsStub, type MetricsStub } from "../controlplane/metrics-stub.ts";
import { writeServiceAccountDir } from "../fake-kube/kubeconfig.ts";

const NAMESPACE = "k8s-metrics";
const NODE = "cpa-metrics-node";
const POD_LABELS = { app: "web" };
const DEPLOYMENT_REF = { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: NAMESPACE };

let plane: ControlPlane;
let stub: MetricsStub;
let client: KubeClient;
/** Sample time of every metric the stub serves, in the Go time format. */
let sampleTime: string;

const specs = {
  cpu: { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } } },
  pods: { type: "Pods", pods: { metric: { name: "packets-per-second" }, target: { type: "AverageValue", averageValue: "1" } } },
  object: {
    type: "Object",
    object: { describedObject: { kind: "Deployment", name: "web", apiVersion: "apps/v1" }, metric: { name: "requests-per-second" }, target: { type: "Value", value: "2" } },
  },
  external: {
    type: "External",
    external: { metric: { name: "queue_depth", selector: { matchLabels: { queue: "worker" } } }, target: { type: "AverageValue", averageValue: "30" } },
  },
};

/** Formats epoch milliseconds as RFC 3339 with whole seconds, as the apiserver stores pod times. */
function rfc3339(milliseconds: number): string {
  return new Date(Math.floor(milliseconds / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

async function must(method: string, apiPath: string, body?: unknown, contentType?: string) {
  const options: { body?: unknown; contentType?: string } = {};
  if (body !== undefined) options.body = body;
  if (contentType !== undefined) options.contentType = contentType;
  const response = await plane.request(method, apiPath, options);
  if (response.status < 200 || response.status > 299) throw new Error(`${method} ${apiPath} returned HTTP ${response.status}: ${response.text.slice(0, 500)}`);
  return response;
}

interface PodState {
  name: string;
  /** Undefined leaves the pod Pending and unbound. */
  phase?: "Running";
  ready?: "True" | "False";
  startedSecondsAgo?: number;
  readySinceSecondsAgo?: number;
  terminating?: boolean;
  labels?: Record<string, string>;
}

/** Creates a pod requesting 100m cpu, binds it to the fake node and sets its phase and Ready condition. */
async function createPod(state: PodState): Promise<void> {
  const podPath = `/api/v1/namespaces/${NAMESPACE}/pods/${state.name}`;
  await must("POST", `/api/v1/namespaces/${NAMESPACE}/pods`, {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: state.name, labels: state.labels ?? POD_LABELS, finalizers: state.terminating ? ["example.com/hold"] : [] },
    spec: { containers: [{ name: "app", image: "registry.invalid/web:1", resources: { requests: { cpu: "100m" } } }] },
  });
  if (state.phase === undefined) return;

  await must("POST", `${podPath}/binding`, { apiVersion: "v1", kind: "Binding", metadata: { name: state.name }, target: { apiVersion: "v1", kind: "Node", name: NODE } });
  const now = Date.now();
  const started = now - (state.startedSecondsAgo ?? 3600) * 1000;
  const readySince = now - (state.readySinceSecondsAgo ?? 3580) * 1000;
  await must(
    "PATCH",
    `${podPath}/status`,
    {
      status: {
        phase: state.phase,
        startTime: rfc3339(started),
        conditions: [{ type: "Ready", status: state.ready ?? "True", lastTransitionTime: rfc3339(readySince) }],
      },
    },
    "application/merge-patch+json",
  );
  if (state.terminating) await must("DELETE", podPath);
}

function source(options: { require?: boolean; specList: unknown[]; kubeClient?: KubeClient }) {
  return createKubernetesMetricsSource({
    client: options.kubeClient ?? client,
    config: {
      namespace: NAMESPACE,
      kubernetesMetricSpecs: options.specList as Record<string, unknown>[],
      requireKubernetesMetrics: options.require ?? false,
      initialReadinessDelay: 30,
      cpuInitializationPeriod: 300,
    },
    logger: rootLogger(),
    clock: systemClock,
  });
}

/** Reads the Deployment's scale and gathers `specList` once. */
async function gather(specList: unknown[], require = false, kubeClient = client): Promise<Record<string, unknown>[]> {
  const scale = await client.getScale(DEPLOYMENT_REF);
  return (await source({ specList, require, kubeClient }).gather({}, scale, new AbortController().signal)) as Record<string, unknown>[];
}

beforeAll(async () => {
  plane = await startControlPlane({ startControllerManager: false });
  stub = await startMetricsStub();
  await registerMetricsStub(plane, stub);
  client = new KubeClient(loadKubeConnection({ kubeconfigPath: plane.kubeconfigPath }));

  await must("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
  await must("POST", "/api/v1/nodes", { apiVersion: "v1", kind: "Node", metadata: { name: NODE } });
  // The Deployment's own labels differ from its selector: pods must be found through /scale status.selector.
  // No controller manager runs, so it creates no pods; the test creates them.
  await must("POST", `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", labels: { team: "a" } },
    spec: {
      replicas: 6,
      selector: { matchLabels: POD_LABELS },
      template: { metadata: { labels: POD_LABELS }, spec: { containers: [{ name: "app", image: "registry.invalid/web:1" }] } },
    },
  });

  await createPod({ name: "web-ready-1", phase: "Running" });
  await createPod({ name: "web-ready-2", phase: "Running" });
  await createPod({ name: "web-warming", phase: "Running", ready: "False", startedSecondsAgo: 20, readySinceSecondsAgo: 20 });
  await createPod({ name: "web-pending" });
  await createPod({ name: "web-no-metrics", phase: "Running" });
  await createPod({ name: "web-terminating", phase: "Running", terminating: true });
  await createPod({ name: "other-team", phase: "Running", labels: { app: "other" } });

  sampleTime = rfc3339(Date.now());
  const cpuSample = (name: string, cpu: string, labels = POD_LABELS) => ({
    namespace: NAMESPACE,
    name,
    labels,
    timestamp: sampleTime,
    window: "30s",
    containers: [{ name: "app", usage: { cpu, memory: "10Mi" } }],
  });
  stub.podMetrics = [
    cpuSample("web-ready-1", "40m"),
    cpuSample("web-ready-2", "60m"),
    cpuSample("web-warming", "190m"),
    cpuSample("web-terminating", "30m"),
    cpuSample("other-team", "999m", { app: "other" }),
  ];
  const podValue = (name: string, value: string) => ({
    namespace: NAMESPACE,
    resource: "pods",
    describedObject: { kind: "Pod", name, apiVersion: "/v1" },
    labels: POD_LABELS,
    metric: "packets-per-second",
    value,
    timestamp: sampleTime,
  });
  stub.customMetrics = [
    podValue("web-ready-1", "1500m"),
    podValue("web-ready-2", "2"),
    {
      namespace: NAMESPACE,
      resource: "deployments.apps",
      describedObject: { kind: "Deployment", name: "web", apiVersion: "apps/v1" },
      metric: "requests-per-second",
      value: "2500m",
      timestamp: sampleTime,
    },
  ];
  stub.externalMetrics = [
    { namespace: NAMESPACE, metric: "queue_depth", labels: { queue: "worker" }, value: "30", timestamp: sampleTime },
    { namespace: NAMESPACE, metric: "queue_depth", labels: { queue: "worker" }, value: "12", timestamp: sampleTime },
    { namespace: NAMESPACE, metric: "queue_depth", labels: { queue: "other" }, value: "1000", timestamp: sampleTime },
  ];
}, 180_000);

afterAll(async () => {
  await stub?.dispose();
  await plane?.stop();
}, 60_000);

describe("kubernetes metrics on a real control plane", () => {
  test("cpu utilisation over pods in several readiness states", async () => {
    const [entry] = await gather([specs.cpu]);
    const sample = (value: number) => ({ Timestamp: sampleTime, Window: 30_000_000_000, Value: value });
    expect(entry).toEqual({
      current_replicas: 6,
      spec: specs.cpu,
      resource: {
        pod_metrics_info: { "web-ready-1": sample(40), "web-ready-2": sample(60), "web-terminating": sample(30) },
        requests: { "web-no-metrics": 100, "web-pending": 100, "web-ready-1": 100, "web-ready-2": 100, "web-terminating": 100, "web-warming": 100 },
        ready_pod_count: 2,
        ignored_pods: { "web-pending": {}, "web-warming": {} },
        missing_pods: { "web-no-metrics": {} },
        total_pods: 6,
        timestamp: sampleTime,
      },
    });
    expect(stub.requests).toContain(`/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods?labelSelector=app%3Dweb`);
  });

  test("pods metric", async () => {
    const [entry] = await gather([specs.pods]);
    const sample = (value: number) => ({ Timestamp: sampleTime, Window: 60_000_000_000, Value: value });
    expect(entry!["pods"]).toEqual({
      pod_metrics_info: { "web-ready-1": sample(1500), "web-ready-2": sample(2000) },
      // Pending and terminating pods are not counted, and readiness is not checked for custom metrics.
      ready_pod_count: 2,
      ignored_pods: null,
      missing_pods: { "web-no-metrics": {}, "web-warming": {} },
      total_pods: 6,
      timestamp: sampleTime,
    });
  });

  test("object metric of the Deployment", async () => {
    const [entry] = await gather([specs.object]);
    // Running with Ready True: both ready pods, the one without metrics and the terminating one.
    expect(entry!["object"]).toEqual({ current: { value: 2500 }, ready_pod_count: 4, timestamp: sampleTime });
    expect(stub.requests).toContain(`/apis/custom.metrics.k8s.io/v1beta2/namespaces/${NAMESPACE}/deployments.apps/web/requests-per-second`);
  });

  test("external metric sums the matching series", async () => {
    const [entry] = await gather([specs.external]);
    expect(JSON.stringify(entry)).toBe(
      `{"current_replicas":6,"spec":{"type":"External","external":{"metric":{"name":"queue_depth","selector":{"matchLabels":{"queue":"worker"}}},"target":{"type":"AverageValue","averageValue":"30"}}},"external":{"current":{"average_value":42000},"timestamp":"${sampleTime}"}}`,
    );
  });

  test("service account with the documented Role gathers every source", async () => {
    const rules = [
      { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
      { apiGroups: ["metrics.k8s.io"], resources: ["pods"], verbs: ["list"] },
      { apiGroups: ["custom.metrics.k8s.io"], resources: ["*"], verbs: ["get"] },
      { apiGroups: ["external.metrics.k8s.io"], resources: ["*"], verbs: ["list"] },
    ];
    await must("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/roles`, { metadata: { name: "metrics-reader" }, rules });
    await must("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${NAMESPACE}/rolebindings`, {
      metadata: { name: "metrics-reader" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "metrics-reader" },
      subjects: [{ kind: "ServiceAccount", name: "autoscaler", namespace: NAMESPACE }],
    });
    const token = await plane.createServiceAccountToken(NAMESPACE, "autoscaler");
    const directory = writeServiceAccountDir(path.join(plane.dir, "autoscaler-serviceaccount"), { token, caPem: plane.caPem, namespace: NAMESPACE });
    const server = new URL(plane.server);
    const restricted = new KubeClient(
      loadKubeConnection({
        serviceAccountDir: directory,
        env: { KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port },
        homeDir: path.join(plane.dir, "no-home"),
      }),
    );
    const entries = await gather([specs.cpu, specs.pods, specs.object, specs.external], true, restricted);
    expect(entries.map((entry) => Object.keys(entry)[2])).toEqual(["resource", "pods", "object", "external"]);
  });

  // Runs last: after the stub stops, the aggregator marks the APIServices unavailable.
  test("metrics API outage: error entries, then a required failure", async () => {
    await stub.stop();
    const all = [specs.cpu, specs.pods, specs.object, specs.external];

    const entries = await gather(all);
    expect(entries.map((entry) => Object.keys(entry))).toEqual(Array(4).fill(["current_replicas", "spec", "error"]));
    for (const entry of entries) expect(String(entry["error"])).toContain("service unavailable");
    expect(String(entries[0]!["error"])).toStartWith("failed to get resource metric: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: ");

    const required = gather(all, true);
    await expect(required).rejects.toBeInstanceOf(KubernetesMetricsError);
    await expect(required).rejects.toThrow(/^4 of 4 required Kubernetes metrics failed: resource\/cpu: .*; pods\/packets-per-second: .*; object\/Deployment\/web\/requests-per-second: .*; external\/queue_depth: /);
  });
});
