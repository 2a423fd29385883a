/**
 * Scale targets other than Deployments, through the compiled agent and the fake API server:
 * custom resources found through discovery, and per-pod mode over a StatefulSet's pods.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startFakeKube, type FakeKube } from "../fake-kube/server.ts";
import { countedResource, pod, statefulSet } from "../fake-kube/fixtures.ts";
import { shMethod, startAgent, waitFor, writeConfig, type AgentProcess } from "./agent-process.ts";

setDefaultTimeout(60_000);

const LOGSTASH = { apiVersion: "logstash.k8s.elastic.co/v1alpha1", kind: "Logstash", name: "ingest" };
const WIDGET = { apiVersion: "example.com/v1", kind: "Widget", name: "w" };
let kube: FakeKube;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  kube = await startFakeKube({ token: true });
  kube.registerKind({ apiVersion: LOGSTASH.apiVersion, kind: "Logstash", plural: "logstashes", replicasPath: ".spec.count", statusReplicasPath: ".status.count" });
  kube.registerKind({ apiVersion: WIDGET.apiVersion, kind: "Widget", plural: "widgets", noScale: true });
});
afterAll(async () => {
  await kube.stop();
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

function start(ref: Record<string, string>, extra: Record<string, unknown> = {}): AgentProcess {
  const configPath = writeConfig({
    scaleTargetRef: ref,
    runMode: "per-resource",
    interval: 200,
    logFormat: "json",
    metric: shMethod("echo 1"),
    evaluate: shMethod('echo \'{"targetReplicas": 3}\''),
    ...extra,
  });
  return startAgent({ configPath, env: { KUBECONFIG: kube.kubeconfigPath } });
}

describe("custom resource targets", () => {
  test("irregular plural and .spec.count are scaled through /scale", async () => {
    kube.addObject(countedResource({ ...LOGSTASH, count: 1, selector: "app=ingest" }));
    kube.clearRequests();
    agent = start(LOGSTASH);
    await waitFor(".spec.count of 3", () => kube.replicasOf(LOGSTASH) === 3);
    const object = kube.getObject(LOGSTASH) as { spec: Record<string, unknown> };
    expect(object.spec["count"]).toBe(3);
    expect(object.spec["replicas"]).toBeUndefined();
    const writes = kube.requests.filter((r) => r.method !== "GET" && !r.pathname.endsWith("/events"));
    expect(writes.map((r) => `${r.method} ${r.pathname}`)).toEqual([
      "PATCH /apis/logstash.k8s.elastic.co/v1alpha1/namespaces/default/logstashes/ingest/scale",
    ]);
  });

  test("kind without /scale fails with a clear error", async () => {
    kube.addObject({ apiVersion: WIDGET.apiVersion, kind: "Widget", metadata: { name: "w", namespace: "default" }, spec: {} });
    agent = start(WIDGET);
    const failure = await agent.waitForLog((l) => l.message === "cycle failed");
    expect(String(failure["error"])).toContain("example.com/Widget does not expose a /scale subresource");
    expect(agent.process.exitCode).toBeNull();
  });

  test("unknown kind names the kind and group version", async () => {
    agent = start({ apiVersion: "example.com/v1", kind: "Gadget", name: "g" });
    const failure = await agent.waitForLog((l) => l.message === "cycle failed");
    expect(String(failure["error"])).toContain("Gadget");
  });
});

describe("per-pod mode over a StatefulSet", () => {
  test("metric runs once per pod, in ordinal order", async () => {
    const labels = { app: "recorder" };
    kube.addObject(statefulSet({ name: "recorder", replicas: 11, labels }));
    for (const index of [10, 2, 0, 1, 3, 4, 5, 6, 7, 8, 9]) kube.addObject(pod({ name: `recorder-${index}`, labels }));
    // The evaluator scales to 12 only when the last entry belongs to the highest ordinal.
    const evaluate = shMethod(`python3 -c 'import json,sys; m=json.load(sys.stdin)["metrics"]; print(json.dumps({"targetReplicas": 12 if m[-1]["resource"] == "recorder-10" else 1}))'`);
    agent = start({ apiVersion: "apps/v1", kind: "StatefulSet", name: "recorder" }, { runMode: "per-pod", evaluate, maxReplicas: 20 });
    await waitFor("12 replicas", () => kube.replicasOf({ apiVersion: "apps/v1", kind: "StatefulSet", name: "recorder" }) === 12);
    expect(kube.replicasOf({ apiVersion: "apps/v1", kind: "StatefulSet", name: "recorder" })).toBe(12);
  });
});
