import { beforeEach, describe, expect, test } from "bun:test";
import { runCycle, type CycleDeps } from "../../src/pipeline/cycle.ts";
import { StabilizationWindow } from "../../src/pipeline/scaling.ts";
import { rootLogger } from "../../src/logging.ts";
import { makeConfig, sh } from "../helpers/config.ts";
import { captureLogs, type CapturedLog } from "../helpers/log-capture.ts";
import { FakeClock, FakeRunner, FakeTarget, failing, pod } from "../helpers/fakes.ts";

const HOOKS = { preMetric: sh(":"), postMetric: sh(":"), preEvaluate: sh(":"), postEvaluate: sh(":"), preScale: sh(":"), postScale: sh(":") };

interface Setup {
  deps: CycleDeps;
  target: FakeTarget;
  runner: FakeRunner;
  clock: FakeClock;
  logs: CapturedLog;
}

function setup(options: { config?: Record<string, unknown>; target?: FakeTarget; evaluate?: string; handlers?: ConstructorParameters<typeof FakeRunner>[0] } = {}): Setup {
  const logs = captureLogs();
  const config = makeConfig(options.config);
  const target = options.target ?? new FakeTarget();
  const runner = new FakeRunner({ metric: () => "5", evaluate: () => options.evaluate ?? '{"targetReplicas": 3}', ...options.handlers });
  const clock = new FakeClock();
  const deps: CycleDeps = { config, target, runner, clock, logger: rootLogger(), window: new StabilizationWindow(config.downscaleStabilization) };
  return { deps, target, runner, clock, logs };
}

const run = (deps: CycleDeps, runType: "scaler" | "api" | "api_dry_run" = "scaler", dryRun = false) =>
  runCycle(deps, { runType, dryRun, signal: new AbortController().signal });

describe("runCycle per-resource", () => {
  test("scales to the evaluation", async () => {
    const { deps, target } = setup();
    await run(deps);
    expect(target.patches).toEqual([3]);
  });

  test("runs stages and hooks in order", async () => {
    const { deps, runner } = setup({ config: HOOKS });
    await run(deps);
    expect(runner.stages()).toEqual(["preMetric", "metric", "postMetric", "preEvaluate", "evaluate", "postEvaluate", "preScale", "postScale"]);
  });

  test("metric gets the target object", async () => {
    const { deps, runner } = setup();
    await run(deps);
    expect(runner.inputOf("metric")).toBe('{"resource":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"}},"runType":"scaler"}');
  });

  test("evaluate gets metrics and current replicas", async () => {
    const { deps, runner } = setup();
    await run(deps);
    expect(JSON.parse(runner.inputOf("evaluate")!)).toEqual({
      metrics: [{ resource: "web", value: "5" }],
      resource: { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "default" } },
      runType: "scaler",
      currentReplicas: 1,
    });
  });

  test("no patch when target equals current", async () => {
    const { deps, target, runner } = setup({ config: HOOKS, target: new FakeTarget({ replicas: 3 }) });
    await run(deps);
    expect(target.patches).toEqual([]);
    expect(runner.stages()).toContain("postScale");
  });
});

describe("runCycle invalid evaluations", () => {
  const outputs = ["{}", "null", '{"target_replicas": 8}', '{"targetReplicas": 2.5}', '{"targetReplicas": "3"}', '{"targetReplicas": -3}', '{"targetReplicas": 3000000000}'];
  for (const output of outputs) {
    test(`${output} leaves replicas unchanged`, async () => {
      const { deps, target, runner } = setup({ config: HOOKS, evaluate: output, target: new FakeTarget({ replicas: 8 }) });
      await expect(run(deps)).rejects.toThrow("evaluation");
      expect(target.patches).toEqual([]);
      expect(runner.stages()).not.toContain("preScale");
      expect(runner.stages()).not.toContain("postScale");
    });
  }
});

describe("runCycle clamping", () => {
  test("zero is raised to minReplicas exactly", async () => {
    const { deps, target, logs } = setup({ config: { minReplicas: 15, maxReplicas: 60 }, evaluate: '{"targetReplicas": 0}', target: new FakeTarget({ replicas: 20 }) });
    await run(deps);
    expect(target.patches).toEqual([15]);
    expect(logs.find("evaluation clamped to minReplicas")).toHaveLength(1);
  });

  test("clamp log shows evaluated, clamped and current values", async () => {
    const { deps, target, logs } = setup({ config: { minReplicas: 1, maxReplicas: 5 }, evaluate: '{"targetReplicas": 9}', target: new FakeTarget({ replicas: 3 }) });
    await run(deps);
    const [line] = logs.find("evaluation clamped to maxReplicas");
    expect(line?.["evaluatedReplicas"]).toBe(9);
    expect(line?.["targetReplicas"]).toBe(5);
    expect(line?.["currentReplicas"]).toBe(3);
    expect(line?.["reason"]).toBe("maxReplicas");
    expect(target.patches).toEqual([5]);
  });
});

describe("runCycle disabled at zero", () => {
  test("target at zero with minReplicas 1 is not scaled", async () => {
    const { deps, target, runner, logs } = setup({ config: { ...HOOKS, minReplicas: 1 }, target: new FakeTarget({ replicas: 0 }) });
    const result = await run(deps);
    expect(target.patches).toEqual([]);
    expect(result.disabled).toBe(true);
    expect(runner.stages()).toContain("preScale");
    expect(runner.stages()).not.toContain("postScale");
    expect(logs.find("autoscaling is disabled for this target")[0]?.["message"]).toContain("set minReplicas: 0 to allow scaling from zero");
    expect(deps.window.entries()).toEqual([]);
  });

  test("minReplicas 0 scales from zero", async () => {
    const { deps, target } = setup({ config: { minReplicas: 0 }, target: new FakeTarget({ replicas: 0 }) });
    await run(deps);
    expect(target.patches).toEqual([3]);
  });
});

describe("runCycle stabilization", () => {
  test("restart cannot scale down at once", async () => {
    const { deps, target } = setup({ config: { downscaleStabilization: 300 }, evaluate: '{"targetReplicas": 2}', target: new FakeTarget({ replicas: 10 }) });
    await run(deps);
    expect(target.patches).toEqual([]);
    expect(target.replicas).toBe(10);
  });

  test("scale-down applies after the window", async () => {
    const { deps, target, clock } = setup({ config: { downscaleStabilization: 300 }, evaluate: '{"targetReplicas": 2}', target: new FakeTarget({ replicas: 10 }) });
    await run(deps);
    clock.advance(300_001);
    await run(deps);
    expect(target.patches).toEqual([2]);
  });

  test("dry run records nothing", async () => {
    const { deps } = setup({ config: { downscaleStabilization: 300 } });
    const result = await run(deps, "api_dry_run", true);
    expect(result.targetReplicas).toBe(3);
    expect(deps.window.entries()).toEqual([]);
  });

  test("dry run does not patch or run scale hooks", async () => {
    const { deps, target, runner } = setup({ config: HOOKS });
    await run(deps, "api_dry_run", true);
    expect(target.patches).toEqual([]);
    expect(runner.stages()).not.toContain("preScale");
  });
});

describe("runCycle scale hooks", () => {
  test("scheduler and API send the same shape", async () => {
    const scaler = setup({ config: HOOKS, evaluate: '{"targetReplicas": 4}', target: new FakeTarget({ replicas: 2 }) });
    await run(scaler.deps, "scaler");
    const api = setup({ config: HOOKS, evaluate: '{"targetReplicas": 4}', target: new FakeTarget({ replicas: 2 }) });
    await run(api.deps, "api");
    const fromScaler = JSON.parse(scaler.runner.inputOf("preScale")!);
    const fromApi = JSON.parse(api.runner.inputOf("preScale")!);
    expect(Object.keys(fromApi)).toEqual(Object.keys(fromScaler));
    expect({ ...fromApi, runType: "scaler" }).toEqual(fromScaler);
    expect(fromApi.runType).toBe("api");
  });

  test("preScale payload values", async () => {
    const { deps, runner } = setup({ config: { ...HOOKS, maxReplicas: 3 }, evaluate: '{"targetReplicas": 4}', target: new FakeTarget({ replicas: 2 }) });
    await run(deps);
    const payload = JSON.parse(runner.inputOf("preScale")!);
    expect(payload.evaluation).toEqual({ targetReplicas: 3 });
    expect(payload.targetReplicas).toBe(4);
    expect(payload.currentReplicas).toBe(2);
    expect(payload.minReplicas).toBe(1);
    expect(payload.maxReplicas).toBe(3);
  });

  test("failing preScale stops the patch", async () => {
    const { deps, target } = setup({ config: HOOKS, handlers: { preScale: failing("exit 1") } });
    await expect(run(deps)).rejects.toThrow("preScale failed");
    expect(target.patches).toEqual([]);
  });

  test("failing preMetric stops the cycle", async () => {
    const { deps, runner } = setup({ config: HOOKS, handlers: { preMetric: failing("exit 1") } });
    await expect(run(deps)).rejects.toThrow("preMetric failed");
    expect(runner.stages()).toEqual(["preMetric"]);
  });
});

describe("runCycle patch conflicts", () => {
  test("retries once on conflict", async () => {
    const { deps, target } = setup();
    target.patchErrors = [new Error("conflict: object has been modified")];
    await run(deps);
    expect(target.patches).toEqual([3]);
    expect(target.calls.filter((c) => c.startsWith("patchScale"))).toHaveLength(2);
  });

  test("second conflict fails the cycle", async () => {
    const { deps, target } = setup();
    target.patchErrors = [new Error("conflict 1"), new Error("conflict 2")];
    await expect(run(deps)).rejects.toThrow("conflict 2");
    expect(target.patches).toEqual([]);
  });

  test("other patch errors are not retried", async () => {
    const { deps, target } = setup();
    target.patchErrors = [new Error("forbidden")];
    await expect(run(deps)).rejects.toThrow("forbidden");
    expect(target.calls.filter((c) => c.startsWith("patchScale"))).toHaveLength(1);
  });
});

describe("runCycle abort", () => {
  test("no patch after the signal", async () => {
    const controller = new AbortController();
    const { deps, target } = setup({ handlers: { evaluate: () => (controller.abort(new Error("SIGTERM")), '{"targetReplicas": 3}') } });
    await expect(runCycle(deps, { runType: "scaler", signal: controller.signal })).rejects.toThrow("scaling cancelled before the patch");
    expect(target.patches).toEqual([]);
  });
});

describe("runCycle per-pod", () => {
  let target: FakeTarget;
  beforeEach(() => {
    target = new FakeTarget({ replicas: 3, pods: ["web-10", "web-2", "web-1"].map((name) => pod(name)) });
  });

  test("metrics keep per-pod order", async () => {
    const { deps } = setup({ config: { runMode: "per-pod" }, target, handlers: { metric: async (r) => (await Bun.sleep(r.subject === "pod web-1" ? 30 : 1), r.subject!) } });
    const result = await run(deps);
    expect(result.metrics.map((m) => m.resource)).toEqual(["web-1", "web-2", "web-10"]);
    expect(result.metrics.map((m) => m.value)).toEqual(["pod web-1", "pod web-2", "pod web-10"]);
  });

  test("entries carry pod phase and readiness", async () => {
    target.pods = [pod("web-0", { phase: "Pending", ready: false })];
    const { deps } = setup({ config: { runMode: "per-pod" }, target });
    const result = await run(deps);
    expect(result.metrics).toEqual([{ resource: "web-0", value: "5", phase: "Pending", ready: false, terminating: false }]);
  });

  test("terminating pods are skipped by default", async () => {
    target.pods.push(pod("web-3", { terminating: true }));
    const { deps } = setup({ config: { runMode: "per-pod" }, target });
    const result = await run(deps);
    expect(result.metrics.map((m) => m.resource)).toEqual(["web-1", "web-2", "web-10"]);
  });

  test("terminating pods included when configured", async () => {
    target.pods.push(pod("web-3", { terminating: true }));
    const { deps } = setup({ config: { runMode: "per-pod", includeTerminatingPods: true }, target });
    const result = await run(deps);
    expect(result.metrics.find((m) => m.resource === "web-3")?.terminating).toBe(true);
  });

  test("lists pods with the scale selector", async () => {
    const { deps } = setup({ config: { runMode: "per-pod" }, target });
    await run(deps);
    expect(target.calls).toContain("listPods app=web");
  });

  test("empty selector is an error", async () => {
    const { deps } = setup({ config: { runMode: "per-pod" }, target: new FakeTarget({ selector: "" }) });
    await expect(run(deps)).rejects.toThrow("empty pod selector");
  });

  test("no pods gives an empty metrics list", async () => {
    const { deps, runner } = setup({ config: { runMode: "per-pod" }, target: new FakeTarget() });
    await run(deps);
    expect(JSON.parse(runner.inputOf("evaluate")!).metrics).toEqual([]);
  });

  test("failed pod is named and nothing is scaled", async () => {
    const { deps, target: t } = setup({
      config: { runMode: "per-pod" },
      target,
      handlers: { metric: (r) => (r.subject === "pod web-2" ? failing("timed out")(r) : "1") },
    });
    await expect(run(deps)).rejects.toThrow("metric failed: timed out");
    expect(t.patches).toEqual([]);
  });

  test("runs in parallel up to metricConcurrency", async () => {
    target.pods = Array.from({ length: 12 }, (_, i) => pod(`web-${i}`));
    let running = 0;
    let peak = 0;
    const metric = async (): Promise<string> => {
      running++;
      peak = Math.max(peak, running);
      await Bun.sleep(5);
      running--;
      return "1";
    };
    const { deps } = setup({ config: { runMode: "per-pod", metricConcurrency: 4 }, target, handlers: { metric } });
    await run(deps);
    expect(peak).toBe(4);
  });
});
