// Child-process helpers for the test control plane. They start daemons in their own process groups
// with logs in files, run one-shot commands with captured output, and find free loopback ports. A
// watchdog cleans up when the test runner dies without running its exit handlers.

import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  readonly spawnError?: string;
}

/** A daemon started by {@link startDaemon}. Its process id is also its process group id. */
export interface Daemon {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  readonly exited: Promise<ExitStatus>;
  /** The exit status once the process has exited, else undefined. */
  exitStatus(): ExitStatus | undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function describeExit(status: ExitStatus): string {
  if (status.spawnError !== undefined) {
    return `failed to start: ${status.spawnError}`;
  }
  return status.signal === null ? `exited with code ${status.code}` : `was killed by ${status.signal}`;
}

/**
 * Starts `file` in a new session and process group (setsid), with stdout and stderr appended to
 * `logPath`. The child is unreferenced, so it does not keep the runner's event loop alive.
 */
export function startDaemon(name: string, file: string, args: string[], logPath: string): Daemon {
  const logFd = openSync(logPath, "a");
  let child: ChildProcess;
  try {
    child = spawn(file, args, { detached: true, stdio: ["ignore", logFd, logFd] });
  } finally {
    closeSync(logFd);
  }

  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => {
      status = { code, signal };
      resolve(status);
    });
    child.once("error", (error) => {
      status = { code: null, signal: null, spawnError: error.message };
      resolve(status);
    });
  });
  if (child.pid === undefined) {
    throw new Error(`failed to start ${name} from ${file}; check that the file exists and is executable`);
  }
  child.unref();
  return { name, pid: child.pid, logPath, exited, exitStatus: () => status };
}

/** Sends `signal` to the daemon's whole process group and ignores a group that is already gone. */
export function signalGroup(daemon: Daemon, signal: NodeJS.Signals): void {
  if (daemon.exitStatus() !== undefined) {
    return;
  }
  try {
    process.kill(-daemon.pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") {
      throw error;
    }
  }
}

/** Sends SIGTERM to the daemon's process group, then SIGKILL if it is still running after `graceMs`. */
export async function stopDaemon(daemon: Daemon, graceMs: number): Promise<void> {
  signalGroup(daemon, "SIGTERM");
  const exitedInTime = await Promise.race([daemon.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!exitedInTime) {
    signalGroup(daemon, "SIGKILL");
    await daemon.exited;
  }
}

/** Returns the last `lineCount` lines of a log file, or a note when the file does not exist. */
export function tailLog(path: string, lineCount = 40): string {
  if (!existsSync(path)) {
    return `(no log file at ${path})`;
  }
  const text = readFileSync(path, "utf8").trimEnd();
  if (text === "") {
    return "(log file is empty)";
  }
  return text.split("\n").slice(-lineCount).join("\n");
}

/** Returns the resident set size of a process in bytes, from /proc, or undefined if it is gone. */
export function residentSetBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CommandOptions {
  /** Text written to the command's stdin, which is closed afterwards. */
  input?: string;
  /** The command is killed with SIGKILL after this many milliseconds. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs a command to completion and captures its output. Rejects only when it cannot start or times out. */
export function runCommand(file: string, args: string[], options: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], env: options.env ?? process.env });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));

    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, options.timeoutMs);

    child.once("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`failed to run ${file}: ${error.message}`, { cause: error }));
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new Error(`${file} ${args.join(" ")} timed out after ${options.timeoutMs} ms`));
        return;
      }
      resolve({
        exitCode: code ?? 128 + (signal === null ? 0 : signalNumber(signal)),
        stdout: Buffer.concat(stdout).toString("utf8"),
        stderr: Buffer.concat(stderr).toString("utf8"),
      });
    });
    child.stdin.end(options.input ?? "");
  });
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return numbers[signal] ?? 0;
}

/**
 * Returns `count` distinct TCP ports that were free on 127.0.0.1 a moment ago. The listeners are
 * closed before returning, so another process could take a port before the caller binds it.
 */
export async function pickFreePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      const port = await new Promise<number>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
          const address = server.address();
          if (address === null || typeof address === "string") {
            reject(new Error("listening socket has no TCP address"));
          } else {
            resolve(address.port);
          }
        });
      });
      ports.push(port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

// Waits while the parent process is alive. When it is gone, sends SIGTERM and later SIGKILL to every
// process group listed in the pid file, then removes the directory unless keep_dir is 1.
const WATCHDOG_SCRIPT = `
parent=$1 pid_file=$2 dir=$3 keep_dir=$4
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
if [ -f "$pid_file" ]; then
  for pid in $(cat "$pid_file"); do kill -TERM "-$pid" 2>/dev/null; done
  sleep 5
  for pid in $(cat "$pid_file"); do kill -KILL "-$pid" 2>/dev/null; done
fi
[ "$keep_dir" = 1 ] || rm -rf -- "$dir"
`;

/**
 * Starts a shell that stops the process groups listed in `pidFile` (one pid a line) and removes
 * `dir` once the current process has died, for example from SIGKILL, which runs no exit handler.
 * Stop the returned daemon when the control plane stops normally.
 */
export function startWatchdog(pidFile: string, dir: string, keepDir: boolean): Daemon {
  return startDaemon(
    "watchdog",
    "/bin/sh",
    ["-c", WATCHDOG_SCRIPT, "watchdog", String(process.pid), pidFile, dir, keepDir ? "1" : "0"],
    "/dev/null",
  );
}
