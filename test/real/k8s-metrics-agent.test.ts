/**
 * The CPU autoscaler example run by the compiled agent against a real control plane, with the
 * metrics served by the metrics stub. The agent scales up on high utilisation and does not scale
 * down while one of its metrics fails. While required metrics are down, every cycle stops. Needs
 * the binaries from scripts/build-control-plane.sh.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";

import { BINARY, ensureBinary, REPO_ROOT, startAgent, writeConfig, type AgentProcess, type LogLine } from "../e2e/agent-process.ts";
import { startControlPlane, type ControlPlane } from "../controlplane/harness.ts";
import { registerMetricsStub, startMetricsStub, type MetricsStub } from "../controlplane/metrics-stub.ts";

const NAMESPACE = "k8s-metrics-agent";
const EXAMPLE = join(REPO_ROOT, "example", "cpu-autoscaler");
const SCALE_PATH = `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/web/scale`;
const POD_NAMES = ["web-1", "web-2", "web-3", "web-4"];
const TIMEOUT_MS = 120_000;

let plane: ControlPlane;
let stub: MetricsStub;
let agent: AgentProcess | undefined;

function python(script: string): Record<string, unknown> {
  return { type: "shell", timeout: 5000, shell: { entrypoint: "python3", command: [join(EXAMPLE, script)] } };
}

function agentConfig(requireKubernetesMetrics: boolean): string {
  return writeConfig({
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    namespace: NAMESPACE,
    runMode: "per-resource",
    interval: 500,
    minReplicas: 1,
    maxReplicas: 10,
    logFormat: "json",
    apiConfig: { enabled: false },
    healthConfig: { enabled: false },
    kubernetesEvents: false,
    kubernetesMetricSpecs: [
      { type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 50 } } },
      { type: "External", external: { metric: { name: "queue_depth" }, target: { type: "AverageValue" } } },
    ],
    requireKubernetesMetrics,
    metric: python("metric.py"),
    evaluate: python("evaluate.py"),
  });
}

async function must(method: string, path: string, body?: unknown, contentType?: string) {
  const options: { body?: unknown; contentType?: string } = {};
  if (body !== undefined) options.body = body;
  if (contentType !== undefined) options.contentType = contentType;
  const response = await plane.request(method, path, options);
  if (response.status < 200 || response.status > 299) throw new Error(`${method} ${path} returned HTTP ${response.status}: ${response.text.slice(0, 500)}`);
  return response;
}

async function replicas(): Promise<number> {
  return ((await must("GET", SCALE_PATH)).body as { spec: { replicas: number } }).spec.replicas;
}

async function waitForReplicas(expected: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while ((await replicas()) !== expected) {
    if (Date.now() > deadline) throw new Error(`spec.replicas stayed ${await replicas()}, expected ${expected}; last agent lines:\n${agent?.logs.slice(-6).map((line) => JSON.stringify(line)).join("\n")}`);
    await Bun.sleep(200);
  }
}

/** Serves the same CPU usage for every pod, in millicores of a 100m request. */
function serveCpu(millicores: number): void {
  stub.podMetrics = POD_NAMES.map((name) => ({
    namespace: NAMESPACE,
    name,
    labels: { app: "web" },
    window: "30s",
    containers: [{ name: "app", usage: { cpu: `${millicores}m` } }],
  }));
}

const queueDepth = () => [{ namespace: NAMESPACE, metric: "queue_depth", labels: {}, value: "5" }];
const metricFailures = () => agent?.logs.filter((line: LogLine) => line.message.startsWith("failed to get Kubernetes metric")) ?? [];

beforeAll(async () => {
  plane = await startControlPlane({ startControllerManager: false });
  stub = await startMetricsStub();
  await registerMetricsStub(plane, stub);
  await must("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } });
  await must("POST", "/api/v1/nodes", { apiVersion: "v1", kind: "Node", metadata: { name: "cpa-agent-node" } });
  // No controller manager runs, so the Deployment creates no pods and its replica count is only a number.
  await must("POST", `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: {
      replicas: 4,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "app", image: "registry.invalid/web:1" }] } },
    },
  });
  const startedAt = new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d+Z$/, "Z");
  for (const name of POD_NAMES) {
    const path = `/api/v1/namespaces/${NAMESPACE}/pods`;
    await must("POST", path, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, labels: { app: "web" } },
      spec: { containers: [{ name: "app", image: "registry.invalid/web:1", resources: { requests: { cpu: "100m" } } }] },
    });
    await must("POST", `${path}/${name}/binding`, { apiVersion: "v1", kind: "Binding", metadata: { name }, target: { apiVersion: "v1", kind: "Node", name: "cpa-agent-node" } });
    await must(
      "PATCH",
      `${path}/${name}/status`,
      { status: { phase: "Running", startTime: startedAt, conditions: [{ type: "Ready", status: "True", lastTransitionTime: startedAt }] } },
      "application/merge-patch+json",
    );
  }
}, TIMEOUT_MS);

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

afterAll(async () => {
  await stub?.dispose();
  await plane?.stop();
}, 60_000);

describe("CPU autoscaler example in the compiled agent", () => {
  test("scales up, holds while a metric fails, then scales down", async () => {
    serveCpu(80);
    stub.externalMetrics = queueDepth();
    agent = startAgent({ args: ["--kubeconfig", plane.kubeconfigPath], configPath: agentConfig(false) });
    // 80% of the request against a 50% target over 4 pods: ceil(1.6 * 4) = 7.
    await waitForReplicas(7);
    expect(metricFailures()).toEqual([]);

    // CPU drops to 5%, which alone gives ceil(0.1 * 4) = 1 replica, but the queue metric is gone:
    // its entry carries an error, and the example does not scale down on incomplete data.
    serveCpu(5);
    stub.externalMetrics = [];
    await agent.waitForLog((line) => line.message.startsWith("failed to get Kubernetes metric"), 20_000);
    await Bun.sleep(3000);
    expect(await replicas()).toBe(7);
    expect(String(metricFailures()[0]!["error"])).toEndWith("no metrics returned from external metrics API");

    stub.externalMetrics = queueDepth();
    await waitForReplicas(1);
    expect(agent.process.exitCode).toBeNull();
  }, TIMEOUT_MS);

  test("required metrics down: every cycle fails and nothing scales", async () => {
    await stub.stop();
    await must("PATCH", SCALE_PATH, { spec: { replicas: 3 } }, "application/merge-patch+json");
    agent = startAgent({ args: ["--kubeconfig", plane.kubeconfigPath], configPath: agentConfig(true) });
    const failed = await agent.waitForLog((line) => String(line["error"] ?? "").includes("required Kubernetes metrics failed"), 20_000);
    expect(String(failed["error"])).toStartWith("2 of 2 required Kubernetes metrics failed: resource/cpu: failed to get resource metric");
    expect(String(failed["error"])).toContain("; external/queue_depth: failed to get external metric");
    await Bun.sleep(1500);
    expect(await replicas()).toBe(3);
  }, TIMEOUT_MS);
});
