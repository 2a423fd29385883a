/**
 * Per-pod mode with 100 pods and a metric script that takes 100 ms (`sleep 0.1; echo 1`): cycle
 * time at several `metricConcurrency` values, through `runCycle` with the agent's Kubernetes client
 * against the fake API server.
 */
import { createMethodRunner } from "../src/execute/index.ts";
import { shMethod } from "./lib/agent.ts";
import { startFakeKubeProcess } from "./lib/fake-kube.ts";
import { mapBounded } from "../src/pipeline/metric-stage.ts";
import { benchConfig, cycleTask, kubeTarget, measureInterleaved, silenceLogs, spawnTask, type Samples } from "./lib/in-process.ts";
import type { BenchOptions, BenchResult } from "./lib/report.ts";
import { formatNumber, summarize } from "./lib/stats.ts";

const POD_COUNT = 100;
const SCRIPT_MS = 100;
const CONCURRENCY_LEVELS = [1, 10, 20, 50] as const;
const METRIC_COMMAND = ["/bin/sh", "-c", `sleep ${SCRIPT_MS / 1000}; echo 1`];
/** Runs of the metric command per baseline measurement. */
const BASELINE_RUNS = 20;

/**
 * Spawns the metric command BASELINE_RUNS times, at most `concurrency` at a time, with no agent
 * code around it, and returns this process's CPU time per run in milliseconds.
 */
async function baselineCpuPerRun(concurrency: number): Promise<number> {
  const run = spawnTask([METRIC_COMMAND], "{}");
  const result = await measureInterleaved({ batch: () => mapBounded(Array.from({ length: BASELINE_RUNS }), concurrency, run) }, 1, 0);
  return result["batch"]!.cpuMs / BASELINE_RUNS;
}

export async function runPerPod(options: BenchOptions): Promise<BenchResult> {
  // At concurrency 1 a cycle takes over 10 s, so that level gets fewer cycles.
  const cyclesAt = (concurrency: number): number => {
    if (concurrency === 1) return options.quick ? 1 : 3;
    return options.quick ? 2 : 7;
  };
  silenceLogs();
  const runner = createMethodRunner();
  const kube = await startFakeKubeProcess({ pods: POD_COUNT, replicas: 2 });
  const samples: Record<number, Samples> = {};
  let requests: Record<string, number>;
  try {
    const target = kubeTarget(kube.kubeconfigPath);
    const configFor = (metricConcurrency: number) =>
      benchConfig({ runMode: "per-pod", metricConcurrency, metric: shMethod(METRIC_COMMAND[2]!) });
    // One cycle first, so API discovery and the TLS handshake fall outside the measured cycles.
    await cycleTask({ config: configFor(10), target, runner })();
    for (const concurrency of CONCURRENCY_LEVELS) {
      const task = cycleTask({ config: configFor(concurrency), target, runner });
      const result = await measureInterleaved({ cycle: task }, cyclesAt(concurrency), 0);
      samples[concurrency] = result["cycle"]!;
    }
  } finally {
    requests = await kube.stop();
  }
  const baselineCpu = { serial: await baselineCpuPerRun(1), parallel: await baselineCpuPerRun(10) };

  const serialMedian = summarize(samples[1]!.wallMs).median;
  const rows = CONCURRENCY_LEVELS.map((concurrency) => {
    const wall = summarize(samples[concurrency]!.wallMs);
    const floorMs = Math.ceil(POD_COUNT / concurrency) * SCRIPT_MS;
    return [
      String(concurrency) + (concurrency === 10 ? " (default)" : ""),
      String(wall.count),
      formatNumber(wall.median, 0),
      formatNumber(wall.max, 0),
      formatNumber(floorMs, 0),
      formatNumber(wall.median / floorMs, 2),
      formatNumber(serialMedian / wall.median, 2),
      formatNumber(samples[concurrency]!.cpuMs / wall.count, 0),
      formatNumber(samples[concurrency]!.cpuMs / wall.count / POD_COUNT, 2),
    ];
  });
  const perRunAboveSleepMs = (serialMedian - POD_COUNT * SCRIPT_MS) / POD_COUNT;

  return {
    name: "per-pod",
    tables: [
      {
        title: `Per-pod mode, ${POD_COUNT} pods, metric script of ${SCRIPT_MS} ms`,
        columns: ["metricConcurrency", "Cycles", "Median (ms)", "Max (ms)", "Sleep floor (ms)", "Median / floor", "Speed-up vs 1", "Agent CPU per cycle (ms)", "Agent CPU per pod (ms)"],
        rows,
        notes: [
          `Metric \`/bin/sh -c "sleep ${SCRIPT_MS / 1000}; echo 1"\` once per pod, evaluate \`/bin/sh -c "echo '{\\"targetReplicas\\": 2}'"\`. The cycles ran through runCycle with the agent's Kubernetes client against the fake API server in another process, which lists ${POD_COUNT} Running pods.`,
          `Sleep floor: ceil(${POD_COUNT} / metricConcurrency) x ${SCRIPT_MS} ms, the cycle time if starting a script cost nothing. At concurrency 1 each run takes ${formatNumber(perRunAboveSleepMs, 2)} ms more than its sleep (median cycle minus ${POD_COUNT * SCRIPT_MS} ms, divided by ${POD_COUNT}).`,
          "Agent CPU is user + system time of the benchmark process over the cycles at that level, divided by the cycle count. The scripts' own CPU time is not in it.",
          `Baseline without agent code: Bun.spawn of the same metric command ${BASELINE_RUNS} times costs ${formatNumber(baselineCpu.serial, 2)} ms of CPU per run one at a time and ${formatNumber(baselineCpu.parallel, 2)} ms per run 10 at a time.`,
          `API requests over all ${Object.values(samples).reduce((sum, s) => sum + s.wallMs.length, 1)} cycles: ${Object.entries(requests)
            .map(([key, value]) => `${key}: ${value}`)
            .join(", ")}.`,
        ],
      },
    ],
    data: { podCount: POD_COUNT, scriptMs: SCRIPT_MS, samples, requests, baselineCpu },
  };
}
