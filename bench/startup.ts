/**
 * Start-up time of the compiled binary: from spawn to its first output and to its exit, for
 * `version`, `validate --config FILE` and `run`, next to a spawn of /bin/true.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AgentProcess, ScratchDir, agentConfig } from "./lib/agent.ts";
import { startFakeKubeProcess } from "./lib/fake-kube.ts";
import type { BenchOptions, BenchResult } from "./lib/report.ts";
import { formatNumber, summarize } from "./lib/stats.ts";

/** Interval of the `run` measurement that waits for the first cycle, in milliseconds. */
const FIRST_CYCLE_INTERVAL_MS = 10;

interface CommandTiming {
  /** Milliseconds from just before the spawn to the first bytes on stdout or stderr, or undefined without output. */
  readonly firstOutputMs: number | undefined;
  readonly exitMs: number;
}

/** Reads the first chunk of `stream` and resolves with its arrival time, then drains the rest. */
async function firstChunkAt(stream: ReadableStream<Uint8Array>): Promise<number | undefined> {
  const reader = stream.getReader();
  const first = await reader.read();
  const at = performance.now();
  if (first.done) return undefined;
  while (!(await reader.read()).done) {
    // Drain the rest, because a child blocks once its pipe buffer is full and no one reads it.
  }
  return at;
}

/** Spawns `argv` and times its first output and its exit. Throws unless it exits with code 0. */
async function timeCommand(argv: string[]): Promise<CommandTiming> {
  const started = performance.now();
  const child = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" } });
  const outputs = [firstChunkAt(child.stdout), firstChunkAt(child.stderr)];
  const code = await child.exited;
  const exitMs = performance.now() - started;
  const arrivals = (await Promise.all(outputs)).filter((at): at is number => at !== undefined);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited with code ${code}`);
  return { firstOutputMs: arrivals.length === 0 ? undefined : Math.min(...arrivals) - started, exitMs };
}

/**
 * Compiles a program that only writes one line into `directory`, with the Bun.build options that
 * scripts/build.ts uses for the agent, and returns its path. Its start-up is the floor that the Bun
 * runtime sets for any compiled executable.
 */
async function buildHelloBinary(directory: string): Promise<string> {
  const source = join(directory, "hello.ts");
  const binary = join(directory, "hello");
  writeFileSync(source, 'process.stdout.write("hello\\n");\n');
  const result = await Bun.build({
    entrypoints: [source],
    target: "bun",
    format: "esm",
    bytecode: true,
    minify: { whitespace: true, syntax: true, identifiers: false },
    sourcemap: "linked",
    compile: { outfile: binary, autoloadDotenv: false, autoloadBunfig: false },
    throw: false,
  });
  if (!result.success) throw new Error(`failed to compile ${source}: ${result.logs.map(String).join("; ")}`);
  return binary;
}

export async function runStartup(options: BenchOptions): Promise<BenchResult> {
  const runs = options.quick ? 10 : 30;
  const kube = await startFakeKubeProcess({ replicas: 2 });
  const scratch = new ScratchDir();
  const samples: Record<string, number[]> = {};
  const add = (key: string, value: number | undefined): void => {
    if (value === undefined) throw new Error(`no value for ${key}`);
    (samples[key] ??= []).push(value);
  };

  try {
    const validatePath = scratch.writeConfig("validate.yaml", agentConfig({ runMode: "per-resource" }));
    const idlePath = scratch.writeConfig("idle.yaml", agentConfig({ runMode: "per-resource", interval: 600_000 }));
    const cyclePath = scratch.writeConfig("cycle.yaml", agentConfig({ runMode: "per-resource", interval: FIRST_CYCLE_INTERVAL_MS }));
    const env = { KUBECONFIG: kube.kubeconfigPath };
    const hello = await buildHelloBinary(scratch.path);

    // One untimed round first, so every command finds the binary in the page cache.
    await timeCommand([options.binary, "version"]);
    for (let index = 0; index < runs; index++) {
      const baseline = await timeCommand(["/bin/true"]);
      add("true.exit", baseline.exitMs);

      const floor = await timeCommand([hello]);
      add("hello.first", floor.firstOutputMs);
      add("hello.exit", floor.exitMs);

      const version = await timeCommand([options.binary, "version"]);
      add("version.first", version.firstOutputMs);
      add("version.exit", version.exitMs);

      const validate = await timeCommand([options.binary, "validate", "--config", validatePath]);
      add("validate.first", validate.firstOutputMs);
      add("validate.exit", validate.exitMs);

      const idle = new AgentProcess(options.binary, ["--config", idlePath], env);
      try {
        const first = await idle.waitForLine(() => true, 10_000);
        const waiting = await idle.waitForLine((line) => line.message === "waiting for the first cycle", 10_000);
        add("run.first", first.at - idle.spawnedAt);
        add("run.waiting", waiting.at - idle.spawnedAt);
      } finally {
        const stopped = await idle.stop();
        add("run.stop", stopped.ms);
      }

      const cycling = new AgentProcess(options.binary, ["--config", cyclePath], env);
      try {
        const cycle = await cycling.waitForLine((line) => line.message === "cycle finished", 10_000);
        add("cycle.first", cycle.at - cycling.spawnedAt);
        add("cycle.duration", Number(cycle.line["durationMs"]));
      } finally {
        await cycling.stop();
      }
    }
  } finally {
    await kube.stop();
    scratch.remove();
  }

  const cells = (key: string): string[] => {
    const summary = summarize(samples[key]!);
    return [formatNumber(summary.median, 1), formatNumber(summary.p90, 1)];
  };
  return {
    name: "startup",
    tables: [
      {
        title: `Start-up of dist/cpa, ${runs} runs each`,
        columns: ["Command", "Measured span", "Median (ms)", "p90 (ms)"],
        rows: [
          ["/bin/true (spawn baseline)", "spawn to exit", ...cells("true.exit")],
          ["Compiled one-line program (Bun runtime, no agent code)", "spawn to first output", ...cells("hello.first")],
          ["Compiled one-line program (Bun runtime, no agent code)", "spawn to exit", ...cells("hello.exit")],
          ["cpa version", "spawn to first output", ...cells("version.first")],
          ["cpa version", "spawn to exit", ...cells("version.exit")],
          ["cpa validate --config FILE", "spawn to first output", ...cells("validate.first")],
          ["cpa validate --config FILE", "spawn to exit", ...cells("validate.exit")],
          ["cpa run --config FILE", 'spawn to first log line ("starting Custom Pod Autoscaler agent")', ...cells("run.first")],
          ["cpa run --config FILE", 'spawn to "waiting for the first cycle"', ...cells("run.waiting")],
          ["cpa run --config FILE", "SIGTERM to exit, no cycle running", ...cells("run.stop")],
          [`cpa run, interval ${FIRST_CYCLE_INTERVAL_MS} ms`, 'spawn to the first "cycle finished"', ...cells("cycle.first")],
          [`cpa run, interval ${FIRST_CYCLE_INTERVAL_MS} ms`, "durationMs of the first cycle", ...cells("cycle.duration")],
        ],
        notes: [
          `The one-line program is compiled by this benchmark with the Bun.build options of scripts/build.ts (Bun ${Bun.version}), so its times are the floor of any compiled executable, and the difference to \`cpa version\` is the agent's own start-up: loading its bundled modules and its work before the first output.`,
          "Times are taken in the benchmark process with performance.now(), from just before Bun.spawn to the arrival of the output or to the exit status, so they include the cost of spawning and of the pipes.",
          `Commands take turns run by run after one untimed \`cpa version\`. \`run\` uses JSON logs, logVerbosity 1 and the fake API server. Its first cycle includes API discovery and the TLS handshake, and it starts about ${FIRST_CYCLE_INTERVAL_MS} ms after the timer starts (startTime 1, interval ${FIRST_CYCLE_INTERVAL_MS}).`,
        ],
      },
    ],
    data: { runs, samples },
  };
}
