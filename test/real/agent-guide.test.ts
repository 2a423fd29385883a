/**
 * The Python guide as a user follows it, against a real control plane: `kubectl apply` the example's
 * Deployment, run the compiled agent with the example's configuration, and watch the real deployment
 * and replicaset controllers create the pods.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { EXAMPLE_DIR, pythonMethod, startAgent, type AgentProcess } from "../e2e/agent-process.ts";
import { freshNamespace, sharedControlPlane, waitForPodCount, waitForReplicas, watchAgent, type ControlPlane } from "./shared-plane.ts";

const TEST_TIMEOUT_MS = 180_000;
const POD_SELECTOR = "app=hello-kubernetes";

let plane: ControlPlane;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  plane = await sharedControlPlane();
}, TEST_TIMEOUT_MS);

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

/** Returns the environment that the operator gives the agent, with the example's scripts at their paths in this repository. */
function operatorEnv(namespace: string, evaluateScript: string): Record<string, string> {
  return {
    KUBECONFIG: plane.kubeconfigPath,
    CONFIG_PATH: join(EXAMPLE_DIR, "config.yaml"),
    scaleTargetRef: JSON.stringify({ apiVersion: "apps/v1", kind: "Deployment", name: "hello-kubernetes" }),
    namespace,
    interval: "500",
    logFormat: "json",
    metric: JSON.stringify(pythonMethod("metric.py")),
    evaluate: JSON.stringify(pythonMethod(evaluateScript)),
  };
}

/** Applies the example's deployment.yaml in `namespace`, waits for its first pod and returns the Deployment's API path. */
async function applyHelloKubernetes(namespace: string): Promise<string> {
  await plane.kubectl(["apply", "-n", namespace, "-f", join(EXAMPLE_DIR, "deployment.yaml")]);
  await waitForPodCount(plane, namespace, POD_SELECTOR, 1);
  return `apis/apps/v1/namespaces/${namespace}/deployments/hello-kubernetes`;
}

describe("guide example on a real control plane", () => {
  test("agent scales hello-kubernetes to numPods, then follows label", async () => {
    const namespace = await freshNamespace(plane, "guide");
    const deployment = await applyHelloKubernetes(namespace);

    agent = startAgent({ env: operatorEnv(namespace, "evaluate.py") });
    await waitForReplicas(plane, deployment, 3, watchAgent(agent));
    const pods = await waitForPodCount(plane, namespace, POD_SELECTOR, 3);
    expect(pods).toHaveLength(3);
    const scaled = await agent.waitForLog((line) => line.message === "scaled target");
    expect(scaled["currentReplicas"]).toBe(1);
    expect(scaled["targetReplicas"]).toBe(3);

    await plane.kubectl(["label", "--overwrite", "-n", namespace, "deployment/hello-kubernetes", "numPods=5"]);
    await waitForReplicas(plane, deployment, 5, watchAgent(agent));
    expect(await waitForPodCount(plane, namespace, POD_SELECTOR, 5)).toHaveLength(5);

    expect(agent.logs.filter((line) => line.level === "ERROR")).toEqual([]);
    expect(agent.process.exitCode).toBeNull();
  }, TEST_TIMEOUT_MS);

  test("doubling evaluator scales hello-kubernetes to 6", async () => {
    const namespace = await freshNamespace(plane, "guide-double");
    const deployment = await applyHelloKubernetes(namespace);

    agent = startAgent({ env: operatorEnv(namespace, "evaluate-double.py") });
    await waitForReplicas(plane, deployment, 6, watchAgent(agent));
    expect(await waitForPodCount(plane, namespace, POD_SELECTOR, 6)).toHaveLength(6);

    const scaled = await agent.waitForLog((line) => line.message === "scaled target");
    expect(scaled["evaluatedReplicas"]).toBe(6);
    expect(agent.logs.filter((line) => line.level === "ERROR")).toEqual([]);
  }, TEST_TIMEOUT_MS);
});
