/** Runs `runCycle` in the benchmark process with a chosen target and method runner. */
import { KubeTarget } from "../../src/agent/kube-target.ts";
import { validateConfigValues } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import type { MethodRequest, MethodResult, MethodRunner } from "../../src/execute/index.ts";
import { KubeClient, loadKubeConnection } from "../../src/kube/index.ts";
import { configureLogging, rootLogger } from "../../src/logging.ts";
import { runCycle, type CycleDeps, type CycleResult } from "../../src/pipeline/cycle.ts";
import type { KubeObject } from "../../src/pipeline/payloads.ts";
import { StabilizationWindow } from "../../src/pipeline/scaling.ts";
import { systemClock, type ScaleInfo, type TargetApi } from "../../src/pipeline/target.ts";
import { agentConfig } from "./agent.ts";

/** Returns a validated configuration, with the same defaults the agent applies. */
export function benchConfig(overrides: Record<string, unknown>): Config {
  return validateConfigValues(agentConfig(overrides), {}).config;
}

/**
 * Target held in memory: Deployment default/web with 2 replicas and no pods. Each read of the
 * object returns a fresh copy, as a parsed API response would be.
 */
export class MemoryTarget implements TargetApi {
  private replicas = 2;
  private readonly object: KubeObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "default", labels: { app: "web" } },
    spec: { replicas: 2, selector: { matchLabels: { app: "web" } } },
    status: { replicas: 2 },
  };

  describe(): string {
    return "Deployment default/web";
  }
  async getObject(): Promise<KubeObject> {
    return structuredClone(this.object);
  }
  async getScale(): Promise<ScaleInfo> {
    return { replicas: this.replicas, selector: "app=web" };
  }
  async listPods(): Promise<KubeObject[]> {
    return [];
  }
  async patchScale(replicas: number): Promise<void> {
    this.replicas = replicas;
  }
}

/** Returns the target of Deployment default/web through the agent's Kubernetes client. */
export function kubeTarget(kubeconfigPath: string): TargetApi {
  const client = new KubeClient(loadKubeConnection({ kubeconfigPath }));
  return new KubeTarget(client, { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "default" });
}

/** Runner that starts no process: metric returns "1" and evaluate returns 2 replicas. */
export const noProcessRunner: MethodRunner = {
  async run(request: MethodRequest): Promise<MethodResult> {
    const stdout = request.stage === "evaluate" ? '{"targetReplicas": 2}' : "1";
    return { stdout, stderr: "", durationMs: 0 };
  },
};

/** Formats the agent's log lines as JSON at verbosity 1, as in the end-to-end runs, and drops them. */
export function silenceLogs(): void {
  configureLogging({ format: "json", verbosity: 1, sink: () => {} });
}

export interface Samples {
  /** Wall time of each measured call, in milliseconds. */
  readonly wallMs: number[];
  /** CPU time of this process (user + system, child processes excluded) summed over the measured calls, in milliseconds. */
  readonly cpuMs: number;
}

/**
 * Calls each task `warmup` times, then `count` times more while measuring each call. Tasks take
 * turns call by call, so a slow phase of the machine affects every task alike. With `idleMs`, the
 * process sleeps that long before each measured call, as the agent does between timer ticks.
 */
export async function measureInterleaved(
  tasks: Record<string, () => Promise<unknown>>,
  count: number,
  warmup: number,
  idleMs = 0,
): Promise<Record<string, Samples>> {
  const names = Object.keys(tasks);
  for (let index = 0; index < warmup; index++) {
    for (const name of names) await tasks[name]!();
  }
  const results: Record<string, { wallMs: number[]; cpuMs: number }> = {};
  for (const name of names) results[name] = { wallMs: [], cpuMs: 0 };
  for (let index = 0; index < count; index++) {
    for (const name of names) {
      if (idleMs > 0) await Bun.sleep(idleMs);
      const cpuStart = process.cpuUsage();
      const started = performance.now();
      await tasks[name]!();
      const wall = performance.now() - started;
      const cpu = process.cpuUsage(cpuStart);
      results[name]!.wallMs.push(wall);
      results[name]!.cpuMs += (cpu.user + cpu.system) / 1000;
    }
  }
  return results;
}

/** Returns a task that runs one scaler cycle. The task throws when the cycle fails. */
export function cycleTask(deps: { config: Config; target: TargetApi; runner: MethodRunner }): () => Promise<CycleResult> {
  const cycleDeps: CycleDeps = { ...deps, clock: systemClock, logger: rootLogger(), window: new StabilizationWindow(deps.config.downscaleStabilization) };
  const signal = new AbortController().signal;
  return () => runCycle(cycleDeps, { runType: "scaler", signal });
}

/**
 * Returns a task that spawns each of `commands` in turn the way the shell method does (own process
 * group, stdin, stdout and stderr piped, `input` written to stdin), with no agent code around it.
 */
export function spawnTask(commands: readonly string[][], input: string): () => Promise<void> {
  return async () => {
    for (const argv of commands) {
      const child = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe", detached: true });
      const stdout = new Response(child.stdout).text();
      const stderr = new Response(child.stderr).text();
      try {
        await child.stdin.write(input);
        await child.stdin.end();
      } catch {
        // The command exited without reading stdin.
      }
      const code = await child.exited;
      await Promise.all([stdout, stderr]);
      if (code !== 0) throw new Error(`baseline command ${argv.join(" ")} exited with code ${code}`);
    }
  };
}
