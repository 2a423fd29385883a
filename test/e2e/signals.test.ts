/**
 * SIGTERM and SIGINT in every phase: the agent stops its timer, ends running scripts, sends no
 * patch after the signal and exits 0 within 2 seconds.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeKube, type FakeKube } from "../fake-kube/server.ts";
import { deployment } from "../fake-kube/fixtures.ts";
import { shMethod, startAgent, waitFor, writeConfig } from "./agent-process.ts";

setDefaultTimeout(60_000);

const REF = { apiVersion: "apps/v1", kind: "Deployment", name: "web" };
let kube: FakeKube;

beforeAll(async () => {
  kube = await startFakeKube({ token: true });
});
afterAll(async () => {
  await kube.stop();
});

function processAlive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

function config(extra: Record<string, unknown>): string {
  return writeConfig({
    scaleTargetRef: REF,
    runMode: "per-resource",
    interval: 200,
    logFormat: "json",
    metric: shMethod("echo 1"),
    evaluate: shMethod('echo \'{"targetReplicas": 5}\''),
    ...extra,
  });
}

function reset(): void {
  kube.clearFaults();
  kube.clearRequests();
  kube.deleteObject(REF);
  kube.addObject(deployment({ name: "web", replicas: 2 }));
}

describe("agent shutdown", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} during the start delay exits 0 quickly`, async () => {
      reset();
      const agent = startAgent({ configPath: config({ startTime: 3_600_000 }), env: { KUBECONFIG: kube.kubeconfigPath } });
      await agent.waitForLog((l) => l.message === "waiting for the first cycle");
      const { code, ms } = await agent.stop(signal);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(2000);
      expect(kube.requests.filter((r) => r.method === "PATCH")).toEqual([]);
    });
  }

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} during a running script ends its group and sends no patch`, async () => {
      reset();
      const dir = mkdtempSync(join(tmpdir(), "cpa-signal-"));
      const pidFile = join(dir, "metric.pid");
      const childFile = join(dir, "child.pid");
      const metric = shMethod(`sleep 30 & echo $! > ${childFile}; echo $$ > ${pidFile}; wait; echo 1`, 60_000);
      const agent = startAgent({ configPath: config({ metric }), env: { KUBECONFIG: kube.kubeconfigPath } });
      const readPid = (file: string): number => {
        try {
          return Number(readFileSync(file, "utf8"));
        } catch {
          return 0;
        }
      };
      await waitFor("the script to start", () => readPid(pidFile) > 0 && readPid(childFile) > 0, 10_000);
      const { code, ms } = await agent.stop(signal);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(2000);
      await Bun.sleep(100);
      expect(processAlive(readPid(pidFile))).toBe(false);
      expect(processAlive(readPid(childFile))).toBe(false);
      expect(kube.requests.filter((r) => r.method === "PATCH")).toEqual([]);
      expect(kube.replicasOf(REF)).toBe(2);
    });

    test(`${signal} during a hanging API call exits 0 and sends no patch`, async () => {
      reset();
      const fault = kube.fail({ method: "GET", path: "/apis/apps/v1/namespaces/default/deployments/web/scale", hang: true });
      const agent = startAgent({ configPath: config({}), env: { KUBECONFIG: kube.kubeconfigPath } });
      await waitFor("the hanging request", () => fault.hits > 0, 10_000);
      const { code, ms } = await agent.stop(signal);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(2000);
      expect(kube.requests.filter((r) => r.method === "PATCH")).toEqual([]);
    });
  }

  test("SIGTERM logs the shutdown", async () => {
    reset();
    const agent = startAgent({ configPath: config({ startTime: 3_600_000 }), env: { KUBECONFIG: kube.kubeconfigPath } });
    await agent.waitForLog((l) => l.message === "waiting for the first cycle");
    await agent.stop("SIGTERM");
    expect(agent.logs.map((l) => l.message)).toContain("received signal, shutting down");
    expect(agent.logs.map((l) => l.message)).toContain("agent stopped");
  });
});

