/**
 * The Python guide's autoscaler, run as a user runs it: the example's config.yaml, with the
 * settings the operator passes as environment variables, against a fake API server over HTTPS.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { startFakeKube, type FakeKube } from "../fake-kube/server.ts";
import { deployment } from "../fake-kube/fixtures.ts";
import { EXAMPLE_DIR, pythonMethod, startAgent, waitFor, type AgentProcess } from "./agent-process.ts";

setDefaultTimeout(60_000);

const REF = { apiVersion: "apps/v1", kind: "Deployment", name: "hello-kubernetes" };
let kube: FakeKube;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  kube = await startFakeKube({ token: true });
});
afterAll(async () => {
  await kube.stop();
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

function operatorEnv(evaluateScript: string): Record<string, string> {
  return {
    KUBECONFIG: kube.kubeconfigPath,
    CONFIG_PATH: join(EXAMPLE_DIR, "config.yaml"),
    // The operator passes scaleTargetRef, namespace and spec.config entries as variables.
    scaleTargetRef: JSON.stringify(REF),
    namespace: "default",
    interval: "200",
    logFormat: "json",
    // The example's config names /metric.py and /evaluate.py, where its image puts them.
    metric: JSON.stringify(pythonMethod("metric.py")),
    evaluate: JSON.stringify(pythonMethod(evaluateScript)),
  };
}

function addHelloKubernetes(numPods: string): void {
  const object = deployment({ name: "hello-kubernetes", replicas: 1, labels: { app: "hello-kubernetes" } });
  (object["metadata"] as Record<string, unknown>)["labels"] = { app: "hello-kubernetes", numPods };
  kube.deleteObject(REF);
  kube.addObject(object);
}

describe("guide example against the fake API server", () => {
  test("scales hello-kubernetes from 1 to 3, then follows the label", async () => {
    addHelloKubernetes("3");
    agent = startAgent({ env: operatorEnv("evaluate.py") });
    await waitFor("3 replicas", () => kube.replicasOf(REF) === 3);
    expect(kube.replicasOf(REF)).toBe(3);

    kube.setLabel(REF, "numPods", "5");
    await waitFor("5 replicas after the label change", () => kube.replicasOf(REF) === 5);
    expect(kube.replicasOf(REF)).toBe(5);
  });

  test("doubling evaluator gives 6", async () => {
    addHelloKubernetes("3");
    agent = startAgent({ env: operatorEnv("evaluate-double.py") });
    await waitFor("6 replicas", () => kube.replicasOf(REF) === 6);
    expect(kube.replicasOf(REF)).toBe(6);
  });

  test("patches go to /scale as merge patches", async () => {
    addHelloKubernetes("4");
    kube.clearRequests();
    agent = startAgent({ env: operatorEnv("evaluate.py") });
    await waitFor("4 replicas", () => kube.replicasOf(REF) === 4);
    const patches = kube.requests.filter((r) => r.method === "PATCH");
    expect(patches.map((r) => r.pathname)).toEqual(["/apis/apps/v1/namespaces/default/deployments/hello-kubernetes/scale"]);
    expect(patches[0]?.contentType).toBe("application/merge-patch+json");
    expect(JSON.parse(patches[0]!.body)).toEqual({ spec: { replicas: 4 } });
  });

  test("logs the version at start and never the token", async () => {
    addHelloKubernetes("2");
    agent = startAgent({ env: operatorEnv("evaluate.py") });
    const start = await agent.waitForLog((l) => l.message === "starting Custom Pod Autoscaler agent");
    expect(typeof start["version"]).toBe("string");
    await waitFor("2 replicas", () => kube.replicasOf(REF) === 2);
    const everything = JSON.stringify(agent.logs) + agent.otherOutput.join("\n");
    expect(kube.token).toBeTruthy();
    expect(everything).not.toContain(kube.token!);
  });

  test("missing label fails the cycle with the script's message and keeps running", async () => {
    addHelloKubernetes("3");
    kube.setLabel(REF, "numPods", undefined);
    agent = startAgent({ env: operatorEnv("evaluate.py") });
    const failure = await agent.waitForLog((l) => l.message === "cycle failed");
    expect(String(failure["error"])).toContain("numPods");
    expect(kube.replicasOf(REF)).toBe(1);
    kube.setLabel(REF, "numPods", "2");
    await waitFor("recovery to 2 replicas", () => kube.replicasOf(REF) === 2);
  });
});
