/**
 * The compiled agent scaling each kind of target through its /scale subresource on a real control
 * plane: the built-in workload kinds, whose controllers then create the pods, and custom resources
 * with and without a scale subresource.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { pythonMethod, shMethod, startAgent, writeConfig, type AgentProcess } from "../e2e/agent-process.ts";
import type { FakeKubelet } from "../controlplane/harness.ts";
import {
  eventually,
  freshNamespace,
  getJson,
  sharedControlPlane,
  waitForPodCount,
  waitForReplicas,
  watchAgent,
  type ControlPlane,
} from "./shared-plane.ts";

const TEST_TIMEOUT_MS = 180_000;
const CRD_GROUP = "logging.cpa.test";

let plane: ControlPlane;
let agent: AgentProcess | undefined;
let kubelet: FakeKubelet | undefined;

beforeAll(async () => {
  plane = await sharedControlPlane();
}, TEST_TIMEOUT_MS);

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  await kubelet?.stop();
  kubelet = undefined;
});

/** Starts the agent in per-resource mode: the metric prints `replicas` and the example's evaluate.py returns it. */
function startScaler(namespace: string, ref: { apiVersion: string; kind: string; name: string }, replicas: number): AgentProcess {
  const configPath = writeConfig({
    scaleTargetRef: ref,
    namespace,
    runMode: "per-resource",
    interval: 500,
    logFormat: "json",
    metric: shMethod(`cat > /dev/null; printf ${replicas}`),
    evaluate: pythonMethod("evaluate.py"),
  });
  return startAgent({ configPath, env: { KUBECONFIG: plane.kubeconfigPath } });
}

function podTemplate(app: string) {
  return { metadata: { labels: { app } }, spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] } };
}

const workloadCases = [
  {
    kind: "StatefulSet",
    apiVersion: "apps/v1",
    collection: "apis/apps/v1/namespaces/{ns}/statefulsets",
    // OrderedReady pod management: each pod is created only after the one before is Running and Ready.
    spec: (app: string) => ({ replicas: 1, serviceName: app, selector: { matchLabels: { app } }, template: podTemplate(app) }),
  },
  {
    kind: "ReplicaSet",
    apiVersion: "apps/v1",
    collection: "apis/apps/v1/namespaces/{ns}/replicasets",
    spec: (app: string) => ({ replicas: 1, selector: { matchLabels: { app } }, template: podTemplate(app) }),
  },
  {
    kind: "ReplicationController",
    apiVersion: "v1",
    collection: "api/v1/namespaces/{ns}/replicationcontrollers",
    spec: (app: string) => ({ replicas: 1, selector: { app }, template: podTemplate(app) }),
  },
];

/** Returns a CustomResourceDefinition of a namespaced kind whose schema accepts any fields. */
function customResourceDefinition(group: string, kind: string, plural: string, withScale: boolean) {
  const subresources: Record<string, unknown> = { status: {} };
  if (withScale) subresources["scale"] = { specReplicasPath: ".spec.count", statusReplicasPath: ".status.count" };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: "Namespaced",
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
          subresources,
        },
      ],
    },
  };
}

/** Applies a CRD and waits until it is Established and discovery lists its plural. */
async function installDefinition(group: string, kind: string, plural: string, withScale: boolean): Promise<void> {
  await plane.kubectl(["apply", "-f", "-"], { input: JSON.stringify(customResourceDefinition(group, kind, plural, withScale)) });
  await plane.kubectl(["wait", "--for=condition=Established", "--timeout=60s", `customresourcedefinition/${plural}.${group}`]);
  await eventually(`discovery of ${plural} in ${group}/v1`, async () => {
    const resources = await getJson<{ resources: { name: string }[] }>(plane, `/apis/${group}/v1`);
    return resources.resources.some((resource) => resource.name === plural) ? true : undefined;
  });
}

/** Creates the object `main` of a custom resource with `spec.count: 1` and returns its API path. */
async function createCustomObject(group: string, namespace: string, kind: string, plural: string): Promise<string> {
  const object = { apiVersion: `${group}/v1`, kind, metadata: { name: "main", namespace }, spec: { count: 1 } };
  await plane.kubectl(["create", "-f", "-"], { input: JSON.stringify(object) });
  return `apis/${group}/v1/namespaces/${namespace}/${plural}/main`;
}

/** Installs a CRD in CRD_GROUP and creates one object of it. Returns the object's API path. */
async function installCustomResource(namespace: string, kind: string, plural: string, withScale: boolean): Promise<string> {
  await installDefinition(CRD_GROUP, kind, plural, withScale);
  return createCustomObject(CRD_GROUP, namespace, kind, plural);
}

describe("agent scaling each target kind on a real control plane", () => {
  for (const workload of workloadCases) {
    test(`${workload.kind} scaled from 1 to 4 with 4 pods`, async () => {
      const namespace = await freshNamespace(plane, `kinds-${workload.kind}`);
      const app = "worker";
      const collection = workload.collection.replace("{ns}", namespace);
      kubelet = plane.startFakeKubelet({ namespace });
      const object = { apiVersion: workload.apiVersion, kind: workload.kind, metadata: { name: app, namespace }, spec: workload.spec(app) };
      await plane.kubectl(["apply", "-f", "-"], { input: JSON.stringify(object) });
      await waitForPodCount(plane, namespace, `app=${app}`, 1);

      agent = startScaler(namespace, { apiVersion: workload.apiVersion, kind: workload.kind, name: app }, 4);
      await waitForReplicas(plane, `${collection}/${app}`, 4, watchAgent(agent));
      const pods = await waitForPodCount(plane, namespace, `app=${app}`, 4);
      expect(pods).toHaveLength(4);
      if (workload.kind === "StatefulSet") {
        expect(pods.map((pod) => pod.name).sort()).toEqual(["worker-0", "worker-1", "worker-2", "worker-3"]);
      }
      expect(agent.logs.filter((line) => line.level === "ERROR")).toEqual([]);
    }, TEST_TIMEOUT_MS);
  }

  test("custom resource with irregular plural scaled through /scale", async () => {
    const namespace = await freshNamespace(plane, "kinds-logstash");
    const objectPath = await installCustomResource(namespace, "Logstash", "logstashes", true);

    agent = startScaler(namespace, { apiVersion: `${CRD_GROUP}/v1`, kind: "Logstash", name: "main" }, 5);
    await waitForReplicas(plane, objectPath, 5, watchAgent(agent));
    const object = await getJson<{ spec: { count: number } }>(plane, `/${objectPath}`);
    expect(object.spec.count).toBe(5);
    const scaled = await agent.waitForLog((line) => line.message === "scaled target");
    expect(scaled["currentReplicas"]).toBe(1);
    expect(scaled["targetReplicas"]).toBe(5);
  }, TEST_TIMEOUT_MS);

  test("custom resource without /scale fails each cycle clearly", async () => {
    const namespace = await freshNamespace(plane, "kinds-noscale");
    const objectPath = await installCustomResource(namespace, "Fluentd", "fluentds", false);

    agent = startScaler(namespace, { apiVersion: `${CRD_GROUP}/v1`, kind: "Fluentd", name: "main" }, 5);
    const running = agent;
    const failures = () => running.logs.filter((line) => line.message === "cycle failed");
    await eventually("3 failed cycles", async () => (failures().length >= 3 ? true : undefined), watchAgent(running));

    for (const failure of failures()) {
      expect(failure.level).toBe("ERROR");
      expect(String(failure["error"])).toContain(`${CRD_GROUP}/Fluentd does not expose a /scale subresource`);
    }
    expect(running.process.exitCode).toBeNull();
    const object = await getJson<{ spec: { count: number } }>(plane, `/${objectPath}`);
    expect(object.spec.count).toBe(1);
  }, TEST_TIMEOUT_MS);
  test("custom resource installed after agent start is scaled", async () => {
    const namespace = await freshNamespace(plane, "kinds-late-crd");
    // The group is served by no other CRD, so the first cycles find no API group version at all.
    const group = "late.cpa.test";

    agent = startScaler(namespace, { apiVersion: `${group}/v1`, kind: "Kibana", name: "main" }, 3);
    const running = agent;
    const notServed = await running.waitForLog((line) => line.message === "cycle failed", 30_000);
    expect(String(notServed["error"])).toContain(`API group version ${group}/v1 is not served`);

    await installDefinition(group, "Kibana", "kibanas", true);
    const objectPath = await createCustomObject(group, namespace, "Kibana", "kibanas");
    await waitForReplicas(plane, objectPath, 3, watchAgent(running));
    expect(running.process.exitCode).toBeNull();
  }, TEST_TIMEOUT_MS);
});
