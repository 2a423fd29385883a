/**
 * Probes, Prometheus metrics and Kubernetes Events against the real API server.
 */
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import type { ControlPlane } from "../controlplane/harness.ts";
import { shMethod, startAgent, waitFor, writeConfig, type AgentProcess } from "../e2e/agent-process.ts";
import { deploymentManifest, servedAddress } from "./api-helpers.ts";
import { freshNamespace, sharedControlPlane } from "./shared-plane.ts";

setDefaultTimeout(120_000);

let plane: ControlPlane;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  plane = await sharedControlPlane();
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

async function start(namespace: string, evaluate: Record<string, unknown>, extraEnv: Record<string, string> = {}): Promise<AgentProcess> {
  await plane.kubectl(["apply", "-f", "-"], { input: deploymentManifest("web", namespace, 1) });
  const configPath = writeConfig({
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    namespace,
    runMode: "per-resource",
    interval: 200,
    logFormat: "json",
    metric: shMethod("echo 1"),
    evaluate,
  });
  return startAgent({ configPath, env: { KUBECONFIG: plane.kubeconfigPath, ...extraEnv } });
}

interface EventItem {
  type: string;
  reason: string;
  message: string;
  involvedObject: { kind: string; name: string; uid?: string };
}

async function events(namespace: string): Promise<EventItem[]> {
  const response = await plane.request("GET", `/api/v1/namespaces/${namespace}/events`);
  return (response.body as { items: EventItem[] }).items;
}

describe("probes and metrics", () => {
  test("/healthz, /readyz and /metrics with the v1 API disabled", async () => {
    const namespace = await freshNamespace(plane, "metrics");
    agent = await start(namespace, shMethod('echo \'{"targetReplicas": 2}\''), { apiConfig: '{"enabled": false}' });
    const base = await servedAddress(agent, "serving /healthz, /readyz and /metrics");
    await waitFor("2 replicas", () => agent!.logs.some((l) => l.message === "scaled target"), 30_000);

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const response = await fetch(`${base}/metrics`);
    const text = await response.text();
    // The parser throws on any line that breaks the text format.
    const families = parsePrometheusTextFormat(text);
    const family = (name: string) => families.find((f) => f.name === name);

    expect(family("cpa_cycles_total")?.type).toBe("COUNTER");
    const successes = family("cpa_cycles_total")?.metrics.find((m) => m.labels?.["result"] === "success");
    expect(Number(successes?.value)).toBeGreaterThan(0);
    expect(family("cpa_cycle_duration_seconds")?.type).toBe("HISTOGRAM");
    // The parser folds labelled histogram series into one sample, so stage labels are read from the text.
    expect(family("cpa_stage_duration_seconds")?.type).toBe("HISTOGRAM");
    expect(text).toMatch(/^cpa_stage_duration_seconds_count\{stage="metric"\} [1-9]/m);
    expect(text).toMatch(/^cpa_stage_duration_seconds_count\{stage="evaluate"\} [1-9]/m);
    expect(Number(family("cpa_target_replicas")?.metrics[0]?.value)).toBe(2);
    expect(Number(family("cpa_current_replicas")?.metrics[0]?.value)).toBeGreaterThanOrEqual(1);
    expect(Number(family("cpa_last_successful_cycle_timestamp_seconds")?.metrics[0]?.value)).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(family("cpa_method_failures_total")?.type).toBe("COUNTER");
    expect(family("cpa_api_requests_total")?.type).toBe("COUNTER");
    expect(agent.logs.some((l) => l.message === "serving the REST API")).toBe(false);
  });

  test("script timeouts are counted by stage", async () => {
    const namespace = await freshNamespace(plane, "metrics-timeout");
    agent = await start(namespace, shMethod("sleep 5", 100));
    const base = await servedAddress(agent, "serving /healthz, /readyz and /metrics");
    await agent.waitForLog((l) => l.message === "cycle failed", 30_000);
    const families = parsePrometheusTextFormat(await (await fetch(`${base}/metrics`)).text());
    const failures = families.find((f) => f.name === "cpa_method_failures_total")?.metrics ?? [];
    expect(failures.some((m) => m.labels?.["stage"] === "evaluate" && m.labels?.["reason"] === "timeout")).toBe(true);
  });
});

describe("Kubernetes events", () => {
  test("rescale event with old and new counts", async () => {
    const namespace = await freshNamespace(plane, "events");
    agent = await start(namespace, shMethod('echo \'{"targetReplicas": 4}\''));
    let rescale: EventItem | undefined;
    for (let attempt = 0; attempt < 100 && rescale === undefined; attempt++) {
      rescale = (await events(namespace)).find((e) => e.reason === "SuccessfulRescale");
      if (rescale === undefined) await Bun.sleep(200);
    }
    expect(rescale?.type).toBe("Normal");
    expect(rescale?.message).toContain("New size: 4");
    expect(rescale?.message).toContain("was 1");
    expect(rescale?.involvedObject.kind).toBe("Deployment");
    expect(rescale?.involvedObject.uid).toBeTruthy();
  });

  test("repeated failures give one warning event", async () => {
    const namespace = await freshNamespace(plane, "events-fail");
    agent = await start(namespace, shMethod("echo broken >&2; exit 3"));
    await waitFor("five failed cycles", () => agent!.logs.filter((l) => l.message === "cycle failed").length >= 5, 30_000);
    await Bun.sleep(500);
    const warnings = (await events(namespace)).filter((e) => e.type === "Warning");
    expect(warnings.map((e) => e.reason)).toEqual(["FailedEvaluate"]);
    expect(warnings[0]?.message).toContain("exited with code 3");
  });
});
