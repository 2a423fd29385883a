import { describe, expect, test } from "bun:test";
import { Agent } from "../../src/agent/agent.ts";
import { CycleBusyError } from "../../src/agent/cycle-lock.ts";
import { createMethodRunner } from "../../src/execute/index.ts";
import { rootLogger } from "../../src/logging.ts";
import { makeConfig, sh } from "../helpers/config.ts";
import { FakeClock, FakeTarget, pod } from "../helpers/fakes.ts";
import { captureLogs } from "../helpers/log-capture.ts";

function makeAgent(config: Record<string, unknown>, target = new FakeTarget()) {
  const logs = captureLogs(1);
  const agent = new Agent({ config: makeConfig(config), target, runner: createMethodRunner(), clock: new FakeClock(), logger: rootLogger() });
  return { agent, target, logs };
}

const EVALUATE_2_WITH_STDERR = sh("echo 'debug: avg=12' >&2; echo '{\"targetReplicas\": 2}'");

describe("Agent stderr logging", () => {
  test("stderr of a successful script is not logged by default", async () => {
    const { agent, target, logs } = makeAgent({ evaluate: EVALUATE_2_WITH_STDERR });
    await agent.runExclusive("scaler");
    expect(target.patches).toEqual([2]);
    expect(logs.find("method stderr")).toEqual([]);
  });

  test("logStderr logs stderr with the stage", async () => {
    const evaluate = { ...EVALUATE_2_WITH_STDERR, shell: { ...(EVALUATE_2_WITH_STDERR["shell"] as object), logStderr: true } };
    const { agent, logs } = makeAgent({ evaluate });
    await agent.runExclusive("scaler");
    const [line] = logs.find("method stderr");
    expect(line?.["stage"]).toBe("evaluate");
    expect(line?.["stderr"]).toBe("debug: avg=12\n");
    expect(line?.["level"]).toBe("INFO");
  });

  test("failed script logs exit code, stderr and stdout", async () => {
    const { agent, logs } = makeAgent({ evaluate: sh("echo partial; echo broken >&2; exit 4") });
    await expect(agent.runExclusive("scaler")).rejects.toThrow("exited with code 4");
    const [line] = logs.find("cycle failed");
    expect(line?.["exitCode"]).toBe(4);
    expect(line?.["stderr"]).toBe("broken\n");
    expect(line?.["output"]).toBe("partial\n");
    expect(line?.["stage"]).toBe("evaluate");
  });
});

describe("Agent per-pod failures", () => {
  test("hanging pod script is named in the cycle error", async () => {
    const pods = Array.from({ length: 10 }, (_, i) => pod(`web-${i}`));
    const metric = sh('case "$(cat)" in *\\"web-7\\"*) sleep 5;; esac; echo 1', 300);
    const { agent, target, logs } = makeAgent({ runMode: "per-pod", metric }, new FakeTarget({ replicas: 3, pods }));
    await expect(agent.runExclusive("scaler")).rejects.toThrow("metric for pod web-7 timed out after 300 ms");
    expect(target.patches).toEqual([]);
    expect(logs.find("cycle failed")[0]?.["stage"]).toBe("metric");
  });
});

describe("Agent method defaults", () => {
  test("method without timeout or entrypoint runs and scales", async () => {
    const metric = { type: "shell", shell: { entrypoint: "/bin/sh", command: ["-c", "echo 5"] } };
    const evaluate = { type: "shell", timeout: 2500, shell: { command: ["-c", "echo '{\"targetReplicas\": 2}'"] } };
    const { agent, target } = makeAgent({ metric, evaluate });
    const result = await agent.runExclusive("scaler");
    expect(result.metrics).toEqual([{ resource: "web", value: "5\n" }]);
    expect(target.patches).toEqual([2]);
  });
});

describe("Agent cycle rules", () => {
  test("second cycle is rejected while one runs", async () => {
    const { agent } = makeAgent({ metric: sh("sleep 0.3; echo 1") });
    const first = agent.runExclusive("scaler");
    await expect(agent.runExclusive("api")).rejects.toBeInstanceOf(CycleBusyError);
    await first;
  });

  test("cycle deadline stops a slow cycle without scaling", async () => {
    const { agent, target, logs } = makeAgent({ cycleTimeout: 200, metric: sh("sleep 5; echo 1", 10_000) });
    await expect(agent.runExclusive("scaler")).rejects.toThrow("cycle did not finish within 200 ms");
    expect(target.patches).toEqual([]);
    expect(logs.find("cycle failed")[0]?.["stage"]).toBe("deadline");
  });

  test("stop cancels a running script quickly", async () => {
    const { agent, target } = makeAgent({ metric: sh("sleep 30; echo 1", 60_000) });
    const cycle = agent.runExclusive("scaler").catch((error: unknown) => error);
    await Bun.sleep(100);
    const started = performance.now();
    await agent.stop("test");
    expect(performance.now() - started).toBeLessThan(1600);
    expect(String(await cycle)).toContain("cancelled by shutdown");
    expect(target.patches).toEqual([]);
  });

  test("consecutive failures are counted", async () => {
    const { agent, logs } = makeAgent({ metric: sh("exit 1") });
    await agent.runExclusive("scaler").catch(() => {});
    await agent.runExclusive("scaler").catch(() => {});
    expect(logs.find("cycle failed").map((l) => l["count"])).toEqual([1, 2]);
  });
});
