/** Reads CPU time and memory of a Linux process from /proc. */
import { readFileSync } from "node:fs";

let clockTicks: number | undefined;

/** Returns the kernel clock tick rate (`getconf CLK_TCK`), the unit of utime and stime in /proc/<pid>/stat. */
export function clockTicksPerSecond(): number {
  if (clockTicks !== undefined) return clockTicks;
  const result = Bun.spawnSync(["getconf", "CLK_TCK"], { stdout: "pipe", stderr: "ignore" });
  const parsed = Number(result.stdout.toString().trim());
  if (result.exitCode !== 0 || !Number.isInteger(parsed) || parsed <= 0) {
    throw new Error(`getconf CLK_TCK failed with exit code ${result.exitCode}, and the CPU time benchmarks need the clock tick rate`);
  }
  clockTicks = parsed;
  return parsed;
}

/**
 * Returns utime + stime of `pid` in milliseconds. Time of its child processes is not included
 * (that is cutime and cstime). The resolution is one clock tick, 10 ms at CLK_TCK 100.
 */
export function cpuTimeMs(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name in field 2 may contain spaces, so the fields are counted after its ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of the line are utime and stime, at index 11 and 12 after the ")".
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / clockTicksPerSecond();
}

export interface MemorySample {
  /** Resident set size, in KiB. */
  readonly rssKiB: number;
  /** Peak resident set size since the process started, in KiB. */
  readonly hwmKiB: number;
}

/** Reads VmRSS and VmHWM of `pid` from /proc/<pid>/status. */
export function memoryOf(pid: number): MemorySample {
  const text = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(text);
    if (match === null) throw new Error(`/proc/${pid}/status has no ${name} line`);
    return Number(match[1]);
  };
  return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
}

/**
 * Counts IPv4 TCP sockets on this machine whose remote port is `port`, by state: ESTABLISHED and
 * TIME_WAIT. A socket stays in TIME_WAIT for 60 s after the client closes it, so their sum shows
 * how many connections a client opened to a local server in the last minute.
 */
export function tcpSocketsTo(port: number): { established: number; timeWait: number } {
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  let established = 0;
  let timeWait = 0;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // Fields: sl, local_address, rem_address (HEXIP:HEXPORT), st (hex state), ...
    if (fields.length < 4 || !fields[2]!.endsWith(`:${portHex}`)) continue;
    if (fields[3] === "01") established += 1;
    if (fields[3] === "06") timeWait += 1;
  }
  return { established, timeWait };
}
