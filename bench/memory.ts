/**
 * Memory of the compiled agent over many cycles: VmRSS and VmHWM from /proc/<pid>/status, sampled
 * every 100 ms and at fixed cycle counts, with a short interval against the fake API server.
 */
import { AgentProcess, ScratchDir, agentConfig } from "./lib/agent.ts";
import { startFakeKubeProcess } from "./lib/fake-kube.ts";
import { memoryOf, type MemorySample } from "./lib/proc.ts";
import type { BenchOptions, BenchResult } from "./lib/report.ts";
import { formatNumber } from "./lib/stats.ts";

const INTERVAL_MS = 30;
const POD_COUNT = 5;
const SAMPLE_EVERY_MS = 100;

interface Point extends MemorySample {
  readonly label: string;
  readonly cycles: number;
}

/** Returns the least-squares slope of `y` over `x`. */
function slope(x: readonly number[], y: readonly number[]): number {
  const meanX = x.reduce((sum, value) => sum + value, 0) / x.length;
  const meanY = y.reduce((sum, value) => sum + value, 0) / y.length;
  let numerator = 0;
  let denominator = 0;
  for (let index = 0; index < x.length; index++) {
    numerator += (x[index]! - meanX) * (y[index]! - meanY);
    denominator += (x[index]! - meanX) ** 2;
  }
  return denominator === 0 ? 0 : numerator / denominator;
}

const mib = (kib: number): string => formatNumber(kib / 1024, 1);

export async function runMemory(options: BenchOptions): Promise<BenchResult> {
  const totalCycles = options.memoryCycles ?? (options.quick ? 200 : 1000);
  const milestones = new Set([1, 10, ...[0.1, 0.25, 0.5, 0.75, 1].map((share) => Math.round(share * totalCycles))]);
  /** Cycles after which samples go into the growth slope, so start-up allocations are left out. */
  const settledAfter = Math.round(totalCycles / 10);

  const kube = await startFakeKubeProcess({ pods: POD_COUNT, replicas: 2 });
  const scratch = new ScratchDir();
  let agent: AgentProcess | undefined;
  const points: Point[] = [];
  const samples: { cycles: number; rssKiB: number; hwmKiB: number }[] = [];
  let sampler: Timer | undefined;
  let skippedTicks = 0;
  let elapsedMs = 0;
  try {
    const config = agentConfig({ runMode: "per-pod", interval: INTERVAL_MS });
    const configPath = scratch.writeConfig("config.yaml", config);
    agent = new AgentProcess(options.binary, ["--config", configPath], { KUBECONFIG: kube.kubeconfigPath });
    const pid = agent.pid;
    const running = agent;
    const started = await agent.waitForLine((line) => line.message === "waiting for the first cycle", 15_000);
    points.push({ label: "after start-up, before the first cycle", cycles: 0, ...memoryOf(pid) });

    let cycles = 0;
    sampler = setInterval(() => {
      if (running.child.exitCode === null) samples.push({ cycles, ...memoryOf(pid) });
    }, SAMPLE_EVERY_MS);
    const timeoutMs = 60_000 + totalCycles * INTERVAL_MS * 4;
    ({ skippedTicks } = await agent.followCycles(totalCycles, timeoutMs, (index, _line, at) => {
      cycles = index;
      if (milestones.has(index)) points.push({ label: `after cycle ${index}`, cycles: index, ...memoryOf(pid) });
      if (index === totalCycles) elapsedMs = at - started.at;
    }));
    clearInterval(sampler);
    sampler = undefined;
    await agent.stop();
    agent = undefined;
  } finally {
    if (sampler !== undefined) clearInterval(sampler);
    await agent?.stop();
    await kube.stop();
    scratch.remove();
  }

  const settled = samples.filter((sample) => sample.cycles >= settledAfter);
  const growthPer100 = settled.length > 1 ? slope(settled.map((s) => s.cycles), settled.map((s) => s.rssKiB)) * 100 : Number.NaN;
  const maxSampled = Math.max(...samples.map((sample) => sample.rssKiB), ...points.map((point) => point.rssKiB));
  const last = points[points.length - 1]!;
  const firstSettled = points.find((point) => point.cycles >= settledAfter) ?? last;

  return {
    name: "memory",
    tables: [
      {
        title: `Memory of dist/cpa over ${totalCycles} cycles`,
        columns: ["Point", "VmRSS (MiB)", "VmHWM, peak so far (MiB)"],
        rows: [
          ...points.map((point) => [point.label, mib(point.rssKiB), mib(point.hwmKiB)]),
          [`maximum VmRSS of ${samples.length} samples every ${SAMPLE_EVERY_MS} ms and the points above`, mib(maxSampled), ""],
          [`VmRSS change from cycle ${firstSettled.cycles} to cycle ${last.cycles}`, formatNumber((last.rssKiB - firstSettled.rssKiB) / 1024, 2), ""],
          [`VmRSS slope over the samples from cycle ${settledAfter} on (least squares), per 100 cycles`, formatNumber(growthPer100 / 1024, 3), ""],
        ],
        notes: [
          `Per-pod mode with ${POD_COUNT} pods, interval ${INTERVAL_MS} ms, logVerbosity 1 with JSON logs, metric \`/bin/sh -c "echo 1"\` per pod and evaluate \`/bin/sh -c "echo '{\\"targetReplicas\\": 2}'"\`, so each cycle makes 3 API requests and starts ${POD_COUNT + 1} processes.`,
          `The ${totalCycles} cycles took ${formatNumber(elapsedMs / 1000, 1)} s from the "waiting for the first cycle" line. Timer ticks skipped because a cycle was still running: ${skippedTicks}.`,
          "VmHWM is the kernel's peak resident set size of the process since it started.",
        ],
      },
    ],
    data: { totalCycles, points, samples, growthPer100KiB: growthPer100, skippedTicks, elapsedMs },
  };
}
