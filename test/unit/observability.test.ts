import { describe, expect, test } from "bun:test";
import { LIVENESS_GRACE_MS, Readiness, handleHealthRequest, type HealthDeps } from "../../src/api/health.ts";
import { CycleError, MethodError } from "../../src/errors.ts";
import { EventRecorder, REPEAT_WINDOW_MS } from "../../src/events/recorder.ts";
import { KubeApiError, type KubeClient, type KubeRequest } from "../../src/kube/index.ts";
import { rootLogger } from "../../src/logging.ts";
import { AgentMetrics, instrumentRunner } from "../../src/observability/metrics.ts";
import { metricsObserver } from "../../src/observability/metrics-observer.ts";
import { makeConfig } from "../helpers/config.ts";
import { FakeRunner, failing } from "../helpers/fakes.ts";
import { captureLogs } from "../helpers/log-capture.ts";

const RESULT = { metrics: [], currentReplicas: 2, evaluatedReplicas: 5, targetReplicas: 5, scaled: true, disabled: false };

function kubeError(status: number | undefined): KubeApiError {
  return new KubeApiError("failed to get scale for Deployment default/web: boom", {
    status,
    reason: status === 403 ? "Forbidden" : undefined,
    failure: status === undefined ? "network" : "status",
    operation: "get scale",
  } as never);
}

describe("health endpoints", () => {
  function deps(overrides: Partial<HealthDeps> = {}): HealthDeps {
    return { config: makeConfig(), metrics: new AgentMetrics({ processMetrics: false }), readiness: new Readiness(), nextTickAt: () => 1_000_000, now: () => 1_000_000, ...overrides };
  }
  const get = (path: string, d: HealthDeps) => handleHealthRequest(new Request(`http://127.0.0.1${path}`), d);

  test("healthz ok while the timer is on time", async () => {
    expect((await get("/healthz", deps())).status).toBe(200);
  });
  test("healthz fails when a tick is overdue", async () => {
    const response = await get("/healthz", deps({ now: () => 1_000_000 + LIVENESS_GRACE_MS + 1 }));
    expect(response.status).toBe(503);
  });
  test("readyz fails before the API is reached", async () => {
    const response = await get("/readyz", deps());
    expect(response.status).toBe(503);
    expect(await response.text()).toContain("not been reached");
  });
  test("readyz ok once reached", async () => {
    const readiness = new Readiness();
    readiness.markReached();
    expect((await get("/readyz", deps({ readiness }))).status).toBe(200);
  });
  test("metrics in Prometheus text format", async () => {
    const response = await get("/metrics", deps());
    expect(response.headers.get("content-type")).toContain("text/plain");
    expect(await response.text()).toContain("# TYPE cpa_cycles_total counter");
  });
  test("unknown path is 404", async () => {
    expect((await get("/nope", deps())).status).toBe(404);
  });
});

describe("Readiness observer", () => {
  const cases: [string, unknown, boolean][] = [
    ["network failure makes it unready", new CycleError("get-scale", "x", { cause: kubeError(undefined) }), false],
    ["403 still counts as reached", new CycleError("get-scale", "x", { cause: kubeError(403) }), true],
    ["script failure does not change it", new CycleError("metric", "x", { cause: new MethodError("m", { stage: "metric", reason: "exit" }) }), true],
  ];
  for (const [name, error, ready] of cases) {
    test(name, () => {
      const readiness = new Readiness();
      readiness.markReached();
      readiness.observer().cycleFailed?.({ runType: "scaler", error, durationMs: 1, consecutiveFailures: 1 });
      expect(readiness.ready).toBe(ready);
    });
  }
});

describe("metrics observer", () => {
  async function value(metrics: AgentMetrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
    const entry = (metric?.values as { labels: Record<string, string>; value: number }[] | undefined)?.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
    return entry?.value;
  }

  test("success updates replicas and the success time", async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metricsObserver(metrics, () => 5_000).cycleSucceeded?.({ runType: "scaler", dryRun: false, result: RESULT, durationMs: 10 });
    expect(await value(metrics, "cpa_cycles_total", { result: "success" })).toBe(1);
    expect(await value(metrics, "cpa_current_replicas")).toBe(2);
    expect(await value(metrics, "cpa_target_replicas")).toBe(5);
    expect(await value(metrics, "cpa_last_successful_cycle_timestamp_seconds")).toBe(5);
  });

  test("failures count consecutively", async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    metricsObserver(metrics).cycleFailed?.({ runType: "scaler", error: new Error("x"), durationMs: 1, consecutiveFailures: 3 });
    expect(await value(metrics, "cpa_consecutive_failed_cycles")).toBe(3);
    expect(await value(metrics, "cpa_cycles_total", { result: "failure" })).toBe(1);
  });

  test("instrumented runner counts failures by stage and reason", async () => {
    const metrics = new AgentMetrics({ processMetrics: false });
    const runner = instrumentRunner(new FakeRunner({ metric: failing("exit 1") }), metrics);
    await runner.run({ stage: "metric", method: makeConfig().metric, input: "" }).catch(() => {});
    expect(await value(metrics, "cpa_method_failures_total", { stage: "metric", reason: "exit" })).toBe(1);
  });
});

describe("EventRecorder", () => {
  function fakeClient(answer: (request: KubeRequest) => unknown = () => ({})) {
    const requests: KubeRequest[] = [];
    const client = {
      request: async (request: KubeRequest) => {
        requests.push(request);
        return answer(request);
      },
      getObject: async () => ({ metadata: { uid: "uid-1" } }),
    } as unknown as KubeClient;
    return { client, requests };
  }
  const target = { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "default" };

  test("rescale writes a Normal event with old and new counts", async () => {
    captureLogs(0);
    const { client, requests } = fakeClient();
    const recorder = new EventRecorder({ client, target, logger: rootLogger() });
    recorder.observer().cycleSucceeded?.({ runType: "scaler", dryRun: false, result: RESULT, durationMs: 1 });
    await Bun.sleep(10);
    const event = JSON.parse(requests[0]!.body!);
    expect(requests[0]!.path).toBe("/api/v1/namespaces/default/events");
    expect(event.type).toBe("Normal");
    expect(event.reason).toBe("SuccessfulRescale");
    expect(event.message).toContain("New size: 5");
    expect(event.message).toContain("was 2");
    expect(event.involvedObject).toEqual({ ...target, uid: "uid-1" });
  });

  test("failure writes a Warning with the step's reason", async () => {
    captureLogs(0);
    const { client, requests } = fakeClient();
    const recorder = new EventRecorder({ client, target, logger: rootLogger() });
    recorder.observer().cycleFailed?.({ runType: "scaler", error: new CycleError("get-scale", "failed to get scale"), durationMs: 1, consecutiveFailures: 1 });
    await Bun.sleep(10);
    const event = JSON.parse(requests[0]!.body!);
    expect(event.type).toBe("Warning");
    expect(event.reason).toBe("FailedGetScale");
  });

  test("patch failure writes FailedRescale", async () => {
    captureLogs(0);
    const { client, requests } = fakeClient();
    const recorder = new EventRecorder({ client, target, logger: rootLogger() });
    recorder.observer().cycleFailed?.({ runType: "scaler", error: new CycleError("scale", "failed to patch scale"), durationMs: 1, consecutiveFailures: 1 });
    await Bun.sleep(10);
    const event = JSON.parse(requests[0]!.body!);
    expect(event.type).toBe("Warning");
    expect(event.reason).toBe("FailedRescale");
    expect(event.message).toBe("failed to patch scale");
  });

  test("repeats within the window are not sent", async () => {
    captureLogs(0);
    let now = 0;
    const { client, requests } = fakeClient();
    const recorder = new EventRecorder({ client, target, logger: rootLogger(), now: () => now });
    await recorder.record("Warning", "FailedGetScale", "same");
    await recorder.record("Warning", "FailedGetScale", "same");
    now += REPEAT_WINDOW_MS;
    await recorder.record("Warning", "FailedGetScale", "same");
    expect(requests.length).toBe(2);
  });

  test("dry run writes no event", async () => {
    const { client, requests } = fakeClient();
    new EventRecorder({ client, target, logger: rootLogger() }).observer().cycleSucceeded?.({ runType: "api_dry_run", dryRun: true, result: RESULT, durationMs: 1 });
    await Bun.sleep(10);
    expect(requests).toEqual([]);
  });

  test("forbidden pauses event writes and warns once", async () => {
    const logs = captureLogs(0);
    const { client, requests } = fakeClient(() => {
      throw kubeError(403);
    });
    const recorder = new EventRecorder({ client, target, logger: rootLogger(), now: () => 0 });
    await recorder.record("Warning", "A", "one");
    await recorder.record("Warning", "B", "two");
    expect(requests.length).toBe(1);
    expect(logs.find("lacks create on events")).toHaveLength(1);
  });
});
