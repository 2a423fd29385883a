/** Describes the machine, runtime and source revision a benchmark ran on. */
import { readFileSync } from "node:fs";
import os from "node:os";
import { REPO_ROOT } from "./paths.ts";

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly bunVersion: string;
  /** `git describe`-style revision, with `-dirty` when the working tree has changes. */
  readonly revision: string;
}

function cpuModel(): string {
  try {
    const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (match) return match[1]!.trim();
  } catch {
    // Not Linux, or /proc is not mounted. os.cpus() below names the model on most systems.
  }
  return os.cpus()[0]?.model ?? "unknown";
}

function revision(): string {
  const result = Bun.spawnSync(["git", "describe", "--always", "--dirty"], { cwd: REPO_ROOT, stdout: "pipe", stderr: "ignore" });
  return result.exitCode === 0 ? result.stdout.toString().trim() : "unknown";
}

export function machineInfo(): MachineInfo {
  return {
    cpus: os.availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    bunVersion: Bun.version,
    revision: revision(),
  };
}
