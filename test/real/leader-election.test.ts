/**
 * Two agents for one target with leader election, against the real API server. Only the leader
 * runs cycles. When the leader is killed, the follower takes over within the lease duration, and
 * on SIGTERM the lease is released, so the follower takes over at once.
 */
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ControlPlane } from "../controlplane/harness.ts";
import { shMethod, startAgent, waitFor, writeConfig, type AgentProcess } from "../e2e/agent-process.ts";
import { deploymentManifest } from "./api-helpers.ts";
import { freshNamespace, sharedControlPlane } from "./shared-plane.ts";

setDefaultTimeout(180_000);

const LEASE_SECONDS = 4;
let plane: ControlPlane;
let agents: AgentProcess[] = [];

beforeAll(async () => {
  plane = await sharedControlPlane();
});
afterEach(async () => {
  await Promise.all(agents.map((a) => a.stop("SIGKILL")));
  agents = [];
});

interface Run {
  agent: string;
  time: number;
}

function readRuns(path: string): Run[] {
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const [agent, time] = line.split(" ");
      return { agent: agent!, time: Number(time) / 1e6 };
    });
}

async function startPair(prefix: string): Promise<{ runs: string; namespace: string; first: AgentProcess; second: AgentProcess }> {
  const namespace = await freshNamespace(plane, prefix);
  await plane.kubectl(["apply", "-f", "-"], { input: deploymentManifest("web", namespace, 1) });
  const runs = join(mkdtempSync(join(tmpdir(), "cpa-leader-")), "runs.log");
  writeFileSync(runs, "");
  const configPath = writeConfig({
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    namespace,
    runMode: "per-resource",
    interval: 200,
    logFormat: "json",
    metric: shMethod("echo 1"),
    // Each evaluation records which agent ran it and when, in nanoseconds.
    evaluate: shMethod(`echo "$AGENT_NAME $(date +%s%N)" >> ${runs}; echo '{"targetReplicas": 3}'`),
    leaderElection: { enabled: true, leaseDuration: LEASE_SECONDS, renewDeadline: 3, retryPeriod: 1 },
  });
  const first = startAgent({ configPath, env: { KUBECONFIG: plane.kubeconfigPath, AGENT_NAME: "first" } });
  agents.push(first);
  await first.waitForLog((l) => l.message === "became the leader", 30_000);
  const second = startAgent({ configPath, env: { KUBECONFIG: plane.kubeconfigPath, AGENT_NAME: "second" } });
  agents.push(second);
  await second.waitForLog((l) => l.message === "leader election on", 30_000);
  await waitFor("cycles of the leader", () => readRuns(runs).length >= 5, 30_000);
  return { runs, namespace, first, second };
}

describe("leader election", () => {
  test("follower runs no cycles while the leader renews", async () => {
    const { runs } = await startPair("leader-follow");
    await Bun.sleep(2000);
    expect(new Set(readRuns(runs).map((r) => r.agent))).toEqual(new Set(["first"]));
  });

  test("killed leader is replaced within the lease duration", async () => {
    const { runs, first, second } = await startPair("leader-kill");
    const killedAt = Date.now();
    await first.stop("SIGKILL");
    const became = await second.waitForLog((l) => l.message === "became the leader", 30_000);
    // The follower acquires the lease once it has seen no renewal for the lease duration; it checks every retry period (1 s).
    expect(Date.parse(String(became["@timestamp"])) - killedAt).toBeLessThan((LEASE_SECONDS + 1) * 1000);
    await waitFor("a cycle of the new leader", () => readRuns(runs).some((r) => r.agent === "second"), 30_000);
    const all = readRuns(runs);
    const firstRuns = all.filter((r) => r.agent === "first");
    const secondRuns = all.filter((r) => r.agent === "second");
    // No cycle of the two agents overlaps in time: every run of the old leader precedes the new one's.
    expect(Math.max(...firstRuns.map((r) => r.time))).toBeLessThan(Math.min(...secondRuns.map((r) => r.time)));
    const takeover = Math.min(...secondRuns.map((r) => r.time)) - killedAt;
    expect(takeover).toBeLessThan((LEASE_SECONDS + 2) * 1000);
  });

  test("SIGTERM releases the lease for an immediate takeover", async () => {
    const { runs, first, second } = await startPair("leader-release");
    const stoppedAt = Date.now();
    const { code } = await first.stop("SIGTERM");
    expect(code).toBe(0);
    expect(first.logs.some((l) => l.message === "released the leader lease")).toBe(true);
    await waitFor("a cycle of the new leader", () => readRuns(runs).some((r) => r.agent === "second"), 30_000);
    const takeover = Math.min(...readRuns(runs).filter((r) => r.agent === "second").map((r) => r.time)) - stoppedAt;
    expect(takeover).toBeLessThan(LEASE_SECONDS * 1000);
    void second;
  });

  test("follower answers a real API run with 503", async () => {
    const { second } = await startPair("leader-api");
    const line = await second.waitForLog((l) => l.message === "serving the REST API", 30_000);
    const address = String(line["address"]);
    const base = `http://127.0.0.1:${address.slice(address.lastIndexOf(":") + 1)}`;
    const real = await fetch(`${base}/api/v1/evaluation`, { method: "POST" });
    expect(real.status).toBe(503);
    expect(((await real.json()) as { code: number }).code).toBe(503);
    expect((await fetch(`${base}/api/v1/evaluation?dry_run=true`, { method: "POST" })).status).toBe(200);
  });
});
