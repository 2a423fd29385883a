/**
 * Per-cycle overhead of the agent in per-resource mode with trivial scripts (`/bin/sh -c "echo
 * ..."`): wall time and CPU time per cycle, in the benchmark process through `runCycle` and end to
 * end through the compiled binary against the fake API server. A baseline that spawns the same two
 * commands with no agent code around them separates the cost of process creation.
 */
import { createMethodRunner } from "../src/execute/index.ts";
import { metricPayload } from "../src/pipeline/payloads.ts";
import { AgentProcess, ScratchDir, agentConfig } from "./lib/agent.ts";
import { startFakeKubeProcess } from "./lib/fake-kube.ts";
import { benchConfig, cycleTask, kubeTarget, measureInterleaved, MemoryTarget, noProcessRunner, silenceLogs, spawnTask, type Samples } from "./lib/in-process.ts";
import { cpuTimeMs, tcpSocketsTo } from "./lib/proc.ts";
import type { BenchOptions, BenchResult } from "./lib/report.ts";
import { formatNumber, summarize, type Summary } from "./lib/stats.ts";

const METRIC_COMMAND = ["/bin/sh", "-c", "echo 1"];
const EVALUATE_COMMAND = ["/bin/sh", "-c", 'echo \'{"targetReplicas": 2}\''];
/** Timer interval of the end-to-end run, in milliseconds. */
const E2E_INTERVAL_MS = 50;

interface Row {
  readonly setup: string;
  readonly wall: Summary;
  readonly cpuPerCycleMs: number;
  /** Wall median and CPU per cycle of the spawn baseline, subtracted for the "minus" columns. */
  readonly baseline?: { wallMedianMs: number; cpuPerCycleMs: number };
}

/** Runs the agent binary for `warmup + count` cycles and returns durationMs of the last `count` and its CPU time over them. */
async function endToEnd(options: BenchOptions, count: number, warmup: number) {
  const kube = await startFakeKubeProcess({ replicas: 2 });
  const scratch = new ScratchDir();
  let agent: AgentProcess | undefined;
  try {
    const configPath = scratch.writeConfig("config.yaml", agentConfig({ runMode: "per-resource", interval: E2E_INTERVAL_MS }));
    agent = new AgentProcess(options.binary, ["--config", configPath], { KUBECONFIG: kube.kubeconfigPath });
    const pid = agent.pid;
    const durations: number[] = [];
    let cpuStart = 0;
    let cpuEnd = 0;
    const timeoutMs = 30_000 + (warmup + count) * E2E_INTERVAL_MS * 4;
    const { skippedTicks } = await agent.followCycles(warmup + count, timeoutMs, (index, line) => {
      if (index === warmup) cpuStart = cpuTimeMs(pid);
      if (index > warmup) durations.push(Number(line["durationMs"]));
      if (index === warmup + count) cpuEnd = cpuTimeMs(pid);
    });
    const sockets = tcpSocketsTo(Number(new URL(kube.url).port));
    const stopped = await agent.stop();
    agent = undefined;
    const requests = await kube.stop();
    return { durations, cpuMs: cpuEnd - cpuStart, skippedTicks, requests, sockets, cycles: warmup + count, exitCode: stopped.code };
  } finally {
    await agent?.stop();
    await kube.stop().catch(() => ({}));
    scratch.remove();
  }
}

/** Says what the socket counts at the end of a run imply, when they imply something. */
function connectionVerdict(sockets: { established: number; timeWait: number }): string {
  if (sockets.established === 1 && sockets.timeWait === 0) return ", so the agent reused one connection for every request";
  if (sockets.timeWait > 0) return ", so the agent closed connections during the run";
  return "";
}

export async function runCycleOverhead(options: BenchOptions): Promise<BenchResult> {
  const counts = options.quick
    ? { noProcess: 500, shell: 60, idle: 30, e2e: 40, warmup: 5 }
    : { noProcess: 5000, shell: 400, idle: 200, e2e: 300, warmup: 20 };
  silenceLogs();
  const config = benchConfig({ runMode: "per-resource" });
  const rows: Row[] = [];

  const pipeline = await measureInterleaved({ pipeline: cycleTask({ config, target: new MemoryTarget(), runner: noProcessRunner }) }, counts.noProcess, counts.warmup * 10);
  rows.push({ setup: "runCycle, target in memory, methods answered in process (no child processes)", wall: summarize(pipeline["pipeline"]!.wallMs), cpuPerCycleMs: pipeline["pipeline"]!.cpuMs / counts.noProcess });

  const memoryTarget = new MemoryTarget();
  const input = metricPayload(await memoryTarget.getObject(), "scaler");
  const runner = createMethodRunner();
  const spawnBoth = spawnTask([METRIC_COMMAND, EVALUATE_COMMAND], input);
  const kube = await startFakeKubeProcess({ replicas: 2 });
  let kubeRequests: Record<string, number>;
  let busy: Record<string, Samples>;
  let idle: Record<string, Samples>;
  try {
    const apiCycle = cycleTask({ config, target: kubeTarget(kube.kubeconfigPath), runner });
    busy = await measureInterleaved({ baseline: spawnBoth, memory: cycleTask({ config, target: memoryTarget, runner }), api: apiCycle }, counts.shell, counts.warmup);
    idle = await measureInterleaved({ baseline: spawnBoth, api: apiCycle }, counts.idle, 0, E2E_INTERVAL_MS);
  } finally {
    kubeRequests = await kube.stop();
  }

  const baselineOf = (samples: Samples) => ({ wallMedianMs: summarize(samples.wallMs).median, cpuPerCycleMs: samples.cpuMs / samples.wallMs.length });
  const row = (setup: string, samples: Samples, baseline?: Row["baseline"]): Row => ({
    setup,
    wall: summarize(samples.wallMs),
    cpuPerCycleMs: samples.cpuMs / samples.wallMs.length,
    ...(baseline === undefined ? {} : { baseline }),
  });
  const busyBaseline = baselineOf(busy["baseline"]!);
  const idleBaseline = baselineOf(idle["baseline"]!);
  rows.push(row("Baseline B: Bun.spawn of the same 2 commands in turn, no agent code", busy["baseline"]!));
  rows.push(row("runCycle, target in memory, 2 shell methods (minus B)", busy["memory"]!, busyBaseline));
  rows.push(row("runCycle, agent's Kubernetes client and fake API server, 2 shell methods (minus B)", busy["api"]!, busyBaseline));
  rows.push(row(`Baseline I: as B, ${E2E_INTERVAL_MS} ms idle before each`, idle["baseline"]!));
  rows.push(row(`runCycle, Kubernetes client and fake API server, 2 shell methods, ${E2E_INTERVAL_MS} ms idle before each (minus I)`, idle["api"]!, idleBaseline));

  const e2e = await endToEnd(options, counts.e2e, counts.warmup);
  rows.push({
    setup: `dist/cpa against the fake API server, interval ${E2E_INTERVAL_MS} ms, durationMs of "cycle finished", CPU from /proc (minus I)`,
    wall: summarize(e2e.durations),
    cpuPerCycleMs: e2e.cpuMs / counts.e2e,
    baseline: idleBaseline,
  });

  const minus = (row: Row, value: number, key: "wallMedianMs" | "cpuPerCycleMs"): string =>
    row.baseline === undefined ? "" : formatNumber(value - row.baseline[key], 3);
  const e2eWall = summarize(e2e.durations);
  const perCycle = (requests: Record<string, number>, cycles: number): string =>
    Object.entries(requests)
      .map(([key, value]) => `${key}: ${value} (${formatNumber(value / cycles, 2)} per cycle)`)
      .join(", ");

  return {
    name: "cycle",
    tables: [
      {
        title: "Per-cycle overhead, per-resource mode, trivial scripts",
        columns: ["Setup", "Cycles", "Wall median (ms)", "Wall p90 (ms)", "CPU per cycle (ms)", "Wall median minus baseline (ms)", "CPU minus baseline (ms)"],
        rows: rows.map((row) => [
          row.setup,
          String(row.wall.count),
          formatNumber(row.wall.median, 3),
          formatNumber(row.wall.p90, 3),
          formatNumber(row.cpuPerCycleMs, 3),
          minus(row, row.wall.median, "wallMedianMs"),
          minus(row, row.cpuPerCycleMs, "cpuPerCycleMs"),
        ]),
        notes: [
          `Methods: metric \`/bin/sh -c "echo 1"\`, evaluate \`/bin/sh -c "echo '{\\"targetReplicas\\": 2}'"\`. The evaluation equals the current 2 replicas, so no cycle patches the scale.`,
          "CPU time is user + system time of the agent's process only. The scripts' own CPU time is not in it, but the cost of creating their processes is.",
          `In-process rows ran ${counts.warmup} warm-up cycles first (${counts.warmup * 10} for the row without child processes). Rows measured together took turns cycle by cycle: B with the next two rows, I with the row after it. The rows with idle time measure the same work after the process has slept, as the agent does between timer ticks. The end-to-end row skipped the first ${counts.warmup} cycles, which include API discovery and the TLS handshake.`,
          `End to end: durationMs is rounded to whole milliseconds by the agent, and its mean is ${formatNumber(e2eWall.mean, 3)} ms. CPU is the utime + stime delta from /proc/<pid>/stat over the ${counts.e2e} measured cycles, including the idle time between them. Timer ticks skipped because a cycle was still running: ${e2e.skippedTicks}.`,
          `API requests end to end, ${e2e.cycles} cycles including the first ones: ${perCycle(e2e.requests, e2e.cycles)}. TCP connections to the fake API server at the end of the run: ${e2e.sockets.established} established, ${e2e.sockets.timeWait} in TIME_WAIT${connectionVerdict(e2e.sockets)}.`,
          `API requests in process, ${counts.shell + counts.warmup + counts.idle} cycles: ${perCycle(kubeRequests, counts.shell + counts.warmup + counts.idle)}.`,
        ],
      },
    ],
    data: { counts, rows, e2e, kubeRequests },
  };
}
