/**
 * Per-pod mode of the compiled agent over pods that the real deployment, replicaset and statefulset
 * controllers created and that the fake kubelet marked Running and Ready. The metric method is `cat`,
 * so each metric value is the exact input of its run, which contains the pod object. The evaluator saves its input
 * to a file, which the tests read.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shMethod, startAgent, writeConfig, type AgentProcess } from "../e2e/agent-process.ts";
import {
  eventually,
  freshNamespace,
  listPods,
  sharedControlPlane,
  waitForPodCount,
  waitForReplicas,
  watchAgent,
  type ControlPlane,
  type PodSummary,
} from "./shared-plane.ts";

const TEST_TIMEOUT_MS = 180_000;

interface MetricEntry {
  resource: string;
  value: string;
  phase?: string;
  ready?: boolean;
  terminating?: boolean;
}

interface EvaluatePayload {
  metrics: MetricEntry[];
  currentReplicas: number;
}

let plane: ControlPlane;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  plane = await sharedControlPlane();
}, TEST_TIMEOUT_MS);

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

/** Returns a path for the evaluator's saved input in a new temporary directory. */
function payloadPath(): string {
  return join(mkdtempSync(join(tmpdir(), "cpa-real-per-pod-")), "evaluate-input.json");
}

/** Returns an evaluator that saves its input to `path` (written whole, then renamed) and prints `replicas` as targetReplicas. */
function savingEvaluator(path: string, replicas: number): Record<string, unknown> {
  return shMethod(`cat > ${path}.tmp && mv ${path}.tmp ${path} && echo '{"targetReplicas": ${replicas}}'`);
}

function readPayload(path: string): EvaluatePayload | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as EvaluatePayload;
}

/**
 * Sorts pod names in the documented per-pod order: a name ending in `-<digits>` sorts by the part
 * before the digits and then by their numeric value, and any other name sorts by itself.
 */
function documentedOrder(names: readonly string[]): string[] {
  const key = (name: string): [string, number] => {
    const match = /^(.*)-(\d+)$/.exec(name);
    return match === null ? [name, -1] : [match[1]!, Number(match[2])];
  };
  return [...names].sort((a, b) => {
    const [baseA, ordinalA] = key(a);
    const [baseB, ordinalB] = key(b);
    if (baseA !== baseB) return baseA < baseB ? -1 : 1;
    if (ordinalA !== ordinalB) return ordinalA - ordinalB;
    if (a === b) return 0;
    return a < b ? -1 : 1;
  });
}

function deploymentManifest(namespace: string, name: string, replicas: number): string {
  const labels = { app: name };
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] } },
    },
  });
}

function agentConfig(namespace: string, ref: { apiVersion: string; kind: string; name: string }, evaluate: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return writeConfig({
    scaleTargetRef: ref,
    namespace,
    runMode: "per-pod",
    interval: 500,
    logFormat: "json",
    metric: shMethod("cat"),
    evaluate,
    ...extra,
  });
}

/** Checks that a metric value is the metric input of the pod named by its entry: the pod object with its uid. */
function expectValueIsPod(entry: MetricEntry, pods: readonly PodSummary[], namespace: string): void {
  const input = JSON.parse(entry.value) as { resource: { metadata: { name: string; namespace: string; uid: string } }; runType: string };
  expect(input.runType).toBe("scaler");
  expect(input.resource.metadata.name).toBe(entry.resource);
  expect(input.resource.metadata.namespace).toBe(namespace);
  expect(input.resource.metadata.uid).toBe(pods.find((candidate) => candidate.name === entry.resource)?.uid ?? "(pod not listed)");
}

describe("per-pod mode on a real control plane", () => {
  test("Deployment pods: each metric run gets its own pod", async () => {
    const namespace = await freshNamespace(plane, "per-pod");
    await plane.kubectl(["apply", "-f", "-"], { input: deploymentManifest(namespace, "web", 3) });
    await waitForPodCount(plane, namespace, "app=web", 3);
    expect(await plane.makePodsReady(namespace, { labelSelector: "app=web" })).toHaveLength(3);
    const pods = await listPods(plane, namespace, "app=web");

    const saved = payloadPath();
    const configPath = agentConfig(namespace, { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, savingEvaluator(saved, 3));
    agent = startAgent({ configPath, env: { KUBECONFIG: plane.kubeconfigPath } });
    const payload = await eventually("an evaluate input with 3 metrics", async () => {
      const input = readPayload(saved);
      return input?.metrics.length === 3 ? input : undefined;
    }, watchAgent(agent));

    expect(payload.currentReplicas).toBe(3);
    expect(payload.metrics.map((entry) => entry.resource)).toEqual(documentedOrder(pods.map((pod) => pod.name)));
    for (const entry of payload.metrics) {
      expectValueIsPod(entry, pods, namespace);
      expect(entry.phase).toBe("Running");
      expect(entry.ready).toBe(true);
      expect(entry.terminating).toBe(false);
    }
    expect(agent.logs.filter((line) => line.level === "ERROR")).toEqual([]);
  }, TEST_TIMEOUT_MS);

  // A pod bound to a node stays Terminating after its deletion until a kubelet confirms it stopped, and
  // no kubelet runs here. Its ReplicaSet creates a Pending replacement at once.
  const terminatingCases = [
    { includeTerminatingPods: false, expected: [{ phase: "Running", ready: true }, { phase: "Running", ready: true }, { phase: "Pending", ready: false }] },
    {
      includeTerminatingPods: true,
      expected: [{ phase: "Running", ready: true }, { phase: "Running", ready: true }, { phase: "Pending", ready: false }, { phase: "Running", ready: true, terminating: true }],
    },
  ];
  for (const { includeTerminatingPods, expected } of terminatingCases) {
    test(`per-pod entries with includeTerminatingPods ${includeTerminatingPods}`, async () => {
      const namespace = await freshNamespace(plane, "per-pod-terminating");
      await plane.kubectl(["apply", "-f", "-"], { input: deploymentManifest(namespace, "web", 3) });
      await waitForPodCount(plane, namespace, "app=web", 3);
      await plane.makePodsReady(namespace, { labelSelector: "app=web" });
      const deleted = (await listPods(plane, namespace, "app=web"))[0]!.name;
      await plane.kubectl(["delete", "pod", "-n", namespace, deleted, "--wait=false"]);
      await eventually("a terminating pod and its Pending replacement", async () => {
        const pods = await listPods(plane, namespace, "app=web");
        return pods.length === 4 && pods.some((pod) => pod.terminating) ? true : undefined;
      });
      const pods = await listPods(plane, namespace, "app=web");

      const saved = payloadPath();
      const configPath = agentConfig(namespace, { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, savingEvaluator(saved, 3), {
        includeTerminatingPods,
      });
      agent = startAgent({ configPath, env: { KUBECONFIG: plane.kubeconfigPath } });
      const payload = await eventually(`an evaluate input with ${expected.length} metrics`, async () => {
        const input = readPayload(saved);
        return input?.metrics.length === expected.length ? input : undefined;
      }, watchAgent(agent));

      const expectedPods = pods.filter((pod) => includeTerminatingPods || !pod.terminating);
      expect(payload.metrics.map((entry) => entry.resource)).toEqual(documentedOrder(expectedPods.map((pod) => pod.name)));
      const states = payload.metrics.map((entry) => ({ phase: entry.phase, ready: entry.ready, terminating: entry.terminating }));
      const expectedStates = expected.map((state) => ({ terminating: false, ...state }));
      // Compared without order, because the order follows the random pod names.
      const byText = (a: object, b: object) => JSON.stringify(a).localeCompare(JSON.stringify(b));
      expect([...states].sort(byText)).toEqual([...expectedStates].sort(byText));
      const terminatingEntry = payload.metrics.find((entry) => entry.terminating === true);
      expect(terminatingEntry?.resource).toBe(includeTerminatingPods ? deleted : undefined);
      for (const entry of payload.metrics) expectValueIsPod(entry, pods, namespace);
    }, TEST_TIMEOUT_MS);
  }

  test("StatefulSet with 11 pods: ordinals in numeric order", async () => {
    const namespace = await freshNamespace(plane, "per-pod-sts");
    const labels = { app: "db" };
    const statefulSet = {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "db", namespace },
      spec: {
        replicas: 11,
        serviceName: "db",
        podManagementPolicy: "Parallel",
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: "db", image: "registry.invalid/db:1" }] } },
      },
    };
    await plane.kubectl(["apply", "-f", "-"], { input: JSON.stringify(statefulSet) });
    await waitForPodCount(plane, namespace, "app=db", 11);
    await plane.makePodsReady(namespace, { labelSelector: "app=db" });
    const pods = await listPods(plane, namespace, "app=db");

    // The evaluator rejects any order other than db-0 … db-10, so the agent scales to 12 only when
    // the entries arrived in numeric ordinal order (a plain string sort puts db-10 third).
    const saved = payloadPath();
    const checkOrder = [
      "import json, sys",
      "data = sys.stdin.read()",
      "open(sys.argv[1], 'w').write(data)",
      "names = [m['resource'] for m in json.loads(data)['metrics']]",
      "expected = ['db-%d' % i for i in range(11)]",
      "if names[:11] != expected or names[10] != 'db-10':",
      "    sys.stderr.write('last entry is %s, expected db-10; entries: %s\\n' % (names[-1] if names else None, names))",
      "    sys.exit(1)",
      "print(json.dumps({'targetReplicas': 12}))",
    ].join("\n");
    const evaluate = { type: "shell", timeout: 5000, shell: { entrypoint: "python", command: ["-c", checkOrder, saved] } };
    const configPath = agentConfig(namespace, { apiVersion: "apps/v1", kind: "StatefulSet", name: "db" }, evaluate, { maxReplicas: 20 });
    agent = startAgent({ configPath, env: { KUBECONFIG: plane.kubeconfigPath } });

    await waitForReplicas(plane, `apis/apps/v1/namespaces/${namespace}/statefulsets/db`, 12, watchAgent(agent));
    const scaled = await agent.waitForLog((line) => line.message === "scaled target");
    expect(scaled["currentReplicas"]).toBe(11);
    expect(scaled["targetReplicas"]).toBe(12);

    const payload = readPayload(saved);
    const names = payload?.metrics.map((entry) => entry.resource) ?? [];
    expect(names.slice(0, 11)).toEqual(Array.from({ length: 11 }, (_, index) => `db-${index}`));
    for (const entry of payload?.metrics.slice(0, 11) ?? []) {
      expectValueIsPod(entry, pods, namespace);
      expect(entry.phase).toBe("Running");
      expect(entry.ready).toBe(true);
    }
  }, TEST_TIMEOUT_MS);
});
