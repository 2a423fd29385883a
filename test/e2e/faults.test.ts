/**
 * The compiled agent against API faults the real API server cannot produce on demand: each
 * gives a clear logged error, no crash and no scaling, and the agent recovers once the API is back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startFakeKube, type FakeKube, type FaultRule } from "../fake-kube/server.ts";
import { deployment } from "../fake-kube/fixtures.ts";
import { shMethod, startAgent, waitFor, writeConfig, type AgentProcess } from "./agent-process.ts";

setDefaultTimeout(60_000);

const REF = { apiVersion: "apps/v1", kind: "Deployment", name: "web" };
const SCALE_PATH = "/apis/apps/v1/namespaces/default/deployments/web/scale";
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
  kube.clearFaults();
});

function start(evaluateTo: number): AgentProcess {
  kube.deleteObject(REF);
  kube.addObject(deployment({ name: "web", replicas: 2 }));
  const configPath = writeConfig({
    scaleTargetRef: REF,
    runMode: "per-resource",
    interval: 300,
    logFormat: "json",
    metric: shMethod("echo 1"),
    evaluate: shMethod(`echo '{"targetReplicas": ${evaluateTo}}'`),
  });
  return startAgent({ configPath, env: { KUBECONFIG: kube.kubeconfigPath } });
}

const cases: { name: string; fault: FaultRule; message: string }[] = [
  { name: "500 on get scale", fault: { method: "GET", path: SCALE_PATH, status: 500, message: "etcd is unhappy" }, message: "failed to get scale for Deployment default/web" },
  {
    name: "403 with a Status body",
    fault: { method: "GET", path: SCALE_PATH, status: 403, message: 'deployments.apps "web" is forbidden: User "fake-admin" cannot get resource "deployments/scale"' },
    message: "forbidden",
  },
  { name: "409 on every patch", fault: { method: "PATCH", path: SCALE_PATH, status: 409, message: "the object has been modified" }, message: "failed to patch scale for Deployment default/web" },
  { name: "dropped connection", fault: { method: "GET", path: SCALE_PATH, drop: true }, message: "failed to" },
];

describe("agent under API faults", () => {
  for (const c of cases) {
    test(`${c.name} is logged, then recovered`, async () => {
      const fault = kube.fail(c.fault);
      agent = start(5);
      const failure = await agent.waitForLog((l) => l.message === "cycle failed");
      expect(String(failure["error"])).toContain(c.message);
      expect(kube.replicasOf(REF)).toBe(2);
      fault.clear();
      await waitFor("recovery to 5 replicas", () => kube.replicasOf(REF) === 5);
      expect(agent.process.exitCode).toBeNull();
    });
  }

  test("403 message shows the API's Status message", async () => {
    kube.fail({ method: "GET", path: SCALE_PATH, status: 403, message: 'User "fake-admin" cannot get resource "deployments/scale"' });
    agent = start(5);
    const failure = await agent.waitForLog((l) => l.message === "cycle failed");
    expect(String(failure["error"])).toContain('cannot get resource "deployments/scale"');
  });

  test("one 409 on patch is retried within the cycle", async () => {
    const fault = kube.fail({ method: "PATCH", path: SCALE_PATH, status: 409, message: "the object has been modified", times: 1 });
    agent = start(6);
    await waitFor("6 replicas", () => kube.replicasOf(REF) === 6);
    expect(fault.hits).toBe(1);
    expect(agent.logs.filter((l) => l.message === "cycle failed")).toEqual([]);
  });

  test("slow API answer within the timeout still scales", async () => {
    kube.fail({ method: "GET", path: SCALE_PATH, delayMs: 1500 });
    agent = start(4);
    await waitFor("4 replicas", () => kube.replicasOf(REF) === 4);
    expect(kube.replicasOf(REF)).toBe(4);
  });

  test("API that never answers times out, then recovers", async () => {
    const fault = kube.fail({ method: "GET", path: SCALE_PATH, hang: true, times: 1 });
    agent = start(7);
    const failure = await agent.waitForLog((l) => l.message === "cycle failed", 20_000);
    expect(String(failure["error"])).toContain("timed out");
    expect(fault.hits).toBe(1);
    await waitFor("recovery to 7 replicas", () => kube.replicasOf(REF) === 7);
  });
});
