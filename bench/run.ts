/**
 * Runs the agent's benchmarks and prints their results as Markdown tables.
 *
 * Usage: bun bench/run.ts [--quick] [--only NAME[,NAME...]] [--memory-cycles N] [--binary FILE]
 *                         [--rebuild] [--json FILE]
 *
 * Each benchmark starts its own fake Kubernetes API server on 127.0.0.1 (bench/fake-kube-server.ts),
 * runs a bounded number of cycles and stops every process it started.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import { runCycleOverhead } from "./cycle-overhead.ts";
import { machineInfo } from "./lib/machine.ts";
import { DEFAULT_BINARY, ensureBinary } from "./lib/paths.ts";
import { markdownTable, type BenchOptions, type BenchResult } from "./lib/report.ts";
import { runMemory } from "./memory.ts";
import { runPerPod } from "./per-pod.ts";
import { runStartup } from "./startup.ts";

const BENCHMARKS: Readonly<Record<string, { summary: string; run: (options: BenchOptions) => Promise<BenchResult> }>> = {
  cycle: { summary: "per-cycle wall and CPU time with trivial scripts, in process and end to end", run: runCycleOverhead },
  "per-pod": { summary: "cycle time with 100 pods and a 100 ms metric script at metricConcurrency 1, 10, 20 and 50", run: runPerPod },
  memory: { summary: "RSS of dist/cpa over 1,000 cycles (200 with --quick, or --memory-cycles)", run: runMemory },
  startup: { summary: "time from spawn to first output and to exit of dist/cpa version, validate and run", run: runStartup },
};

const USAGE = `Usage: bun bench/run.ts [options]

Runs the benchmarks of the agent and prints Markdown tables of the results.

Options:
  --only NAMES     Comma-separated benchmarks to run. Default: all of
${Object.entries(BENCHMARKS)
  .map(([name, bench]) => `                     ${name.padEnd(8)} ${bench.summary}`)
  .join("\n")}
  --quick          Fewer cycles and runs: checks that the benchmarks work, with noisier numbers.
  --memory-cycles N
                   Cycles of the memory benchmark. Default: 1000, or 200 with --quick.
  --binary FILE    Agent binary to measure. Default: CPA_BINARY, else dist/cpa, which is built
                   with scripts/build.ts when missing.
  --rebuild        Build dist/cpa first even when it exists.
  --json FILE      Also write the machine description and raw results to FILE as JSON.
  -h, --help       Print this help.`;

/** Returns the 1, 5 and 15 minute load averages, which show other work on the machine during a run. */
function loadAverage(): string {
  return os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(", ");
}

function parseOptions() {
  try {
    return parseArgs({
      args: Bun.argv.slice(2),
      options: {
        only: { type: "string" },
        quick: { type: "boolean", default: false },
        binary: { type: "string" },
        "memory-cycles": { type: "string" },
        rebuild: { type: "boolean", default: false },
        json: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}

async function main(): Promise<number> {
  const values = parseOptions();
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const names = values.only === undefined ? Object.keys(BENCHMARKS) : values.only.split(",").map((name) => name.trim());
  const unknown = names.filter((name) => !Object.hasOwn(BENCHMARKS, name));
  if (unknown.length > 0) {
    console.error(`error: unknown benchmark ${unknown.join(", ")}: expected ${Object.keys(BENCHMARKS).join(", ")}`);
    return 2;
  }

  const memoryCycles = values["memory-cycles"] === undefined ? undefined : Number(values["memory-cycles"]);
  if (memoryCycles !== undefined && (!Number.isInteger(memoryCycles) || memoryCycles < 10 || memoryCycles > 100_000)) {
    console.error(`error: invalid --memory-cycles "${values["memory-cycles"]}": expected an integer from 10 to 100000`);
    return 2;
  }

  const binary = values.binary ?? process.env["CPA_BINARY"] ?? DEFAULT_BINARY;
  ensureBinary(binary, values.rebuild);
  const options: BenchOptions = { quick: values.quick, binary, ...(memoryCycles === undefined ? {} : { memoryCycles }) };
  const machine = machineInfo();
  const command = ["bun", "bench/run.ts", ...Bun.argv.slice(2)].join(" ");

  console.log(`## Benchmark results\n`);
  console.log(`- Command: \`${command}\``);
  console.log(`- Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB memory, ${machine.kernel}`);
  console.log(`- Bun ${machine.bunVersion}, revision ${machine.revision}, binary ${binary}`);
  console.log(`- Started ${new Date().toISOString()}${options.quick ? ", quick mode" : ""}, load average ${loadAverage()}\n`);

  const results: BenchResult[] = [];
  for (const name of names) {
    const started = performance.now();
    console.error(`running benchmark ${name}`);
    const result = await BENCHMARKS[name]!.run(options);
    results.push(result);
    for (const table of result.tables) console.log(markdownTable(table));
    console.error(`benchmark ${name} took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }

  console.log(`Finished ${new Date().toISOString()}, load average ${loadAverage()}`);

  if (values.json !== undefined) {
    writeFileSync(values.json, `${JSON.stringify({ command, machine, quick: options.quick, results }, null, 2)}\n`);
  }
  return 0;
}

process.exit(await main());
