/**
 * The shell method: runs `entrypoint` with `command` as its arguments (no shell parsing), writes
 * the payload to stdin and returns stdout verbatim. Each run gets its own process group, and the
 * whole group is ended when the run finishes, times out, overflows its output limit or is aborted,
 * so no process started by a script outlives its run.
 */
import { MethodError } from "../errors.ts";
import { truncate } from "../logging.ts";
import { STDERR_LIMIT_BYTES, STDOUT_LIMIT_BYTES, describeRun, type MethodRequest, type MethodResult } from "./method.ts";
import { reapProcessGroup } from "./reaper.ts";

/** Time between SIGTERM and SIGKILL when a run is ended early. */
export const KILL_GRACE_MS = 500;

type EndReason = "timeout" | "output-limit" | "aborted";

class OutputLimitExceeded extends Error {}

/** Reads a stream to text, failing once it passes `limit` bytes. */
async function readCapped(stream: ReadableStream<Uint8Array>, limit: number, onOverflow: () => void): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > limit) {
      onOverflow();
      throw new OutputLimitExceeded();
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** Signals the run's process group, and the leader itself in case it has not called setsid yet. */
function signalGroup(pid: number, signal: NodeJS.Signals, includeLeader = true): void {
  for (const target of includeLeader ? [-pid, pid] : [-pid]) {
    try {
      process.kill(target, signal);
    } catch {
      // ESRCH: no such process or group left.
    }
  }
}

/** Runs one shell method and returns its stdout, or throws MethodError. */
export async function runShell(request: MethodRequest): Promise<MethodResult> {
  const shell = request.method.shell;
  if (shell === undefined) throw new Error(`${request.stage}: shell method without a shell section`);
  const argv = [shell.entrypoint, ...shell.command];
  const commandText = argv.join(" ");
  const runName = describeRun(request);
  const started = performance.now();

  if (request.signal?.aborted) {
    throw new MethodError(`${runName} was cancelled before it started`, { stage: request.stage, reason: "aborted" });
  }

  let child: ReturnType<typeof Bun.spawn<"pipe", "pipe", "pipe">>;
  try {
    child = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe", detached: true });
  } catch (error) {
    throw new MethodError(`${runName} failed to start command ${commandText}: ${(error as Error).message}`, {
      stage: request.stage,
      reason: "spawn",
      cause: error,
    });
  }

  let endReason: EndReason | undefined;
  let killTimer: Timer | undefined;
  const endGroup = (reason: EndReason): void => {
    if (endReason !== undefined) return;
    endReason = reason;
    signalGroup(child.pid, "SIGTERM");
    killTimer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
  };
  const timeoutTimer = setTimeout(() => endGroup("timeout"), request.method.timeout);
  const onAbort = (): void => endGroup("aborted");
  request.signal?.addEventListener("abort", onAbort, { once: true });

  const stdoutPromise = readCapped(child.stdout, STDOUT_LIMIT_BYTES, () => endGroup("output-limit"));
  const stderrPromise = readCapped(child.stderr, STDERR_LIMIT_BYTES, () => endGroup("output-limit"));
  // Keep the rejections observed until they are awaited below.
  stdoutPromise.catch(() => {});
  stderrPromise.catch(() => {});

  try {
    await child.stdin.write(request.input);
    await child.stdin.end();
  } catch {
    // The script exited without reading stdin; its exit status decides the result.
  }

  const exitCode = await child.exited;
  clearTimeout(timeoutTimer);
  request.signal?.removeEventListener("abort", onAbort);
  // Processes the script left behind hold the pipes open; end them so the reads finish.
  signalGroup(child.pid, "SIGKILL", false);
  if (killTimer !== undefined) clearTimeout(killTimer);

  const [stdout, stderr] = await Promise.allSettled([stdoutPromise, stderrPromise]);
  // Reap the group's processes re-parented here; a process that ignored the pipes may take a moment to end.
  reapProcessGroup(child.pid);
  setTimeout(() => reapProcessGroup(child.pid), 200).unref();
  const stdoutText = stdout.status === "fulfilled" ? stdout.value : "";
  const stderrText = stderr.status === "fulfilled" ? stderr.value : "";
  const durationMs = Math.round(performance.now() - started);
  const details = { stage: request.stage, stdout: stdoutText, stderr: stderrText };

  if (endReason === "timeout") {
    throw new MethodError(`${runName} timed out after ${request.method.timeout} ms (command ${commandText})`, { ...details, reason: "timeout" });
  }
  if (endReason === "aborted") {
    throw new MethodError(`${runName} was cancelled (command ${commandText})`, { ...details, reason: "aborted" });
  }
  if (endReason === "output-limit") {
    throw new MethodError(
      `${runName} wrote more than the output limit (${STDOUT_LIMIT_BYTES} bytes of stdout, ${STDERR_LIMIT_BYTES} bytes of stderr) (command ${commandText})`,
      { ...details, reason: "output-limit" },
    );
  }
  if (child.signalCode) {
    throw new MethodError(`${runName} failed: command ${commandText} was killed by ${child.signalCode}${stderrSuffix(stderrText)}`, {
      ...details,
      reason: "signal",
      signal: String(child.signalCode),
    });
  }
  if (exitCode !== 0) {
    throw new MethodError(`${runName} failed: command ${commandText} exited with code ${exitCode}${stderrSuffix(stderrText)}`, {
      ...details,
      reason: "exit",
      exitCode,
    });
  }
  return { stdout: stdoutText, stderr: stderrText, durationMs };
}

function stderrSuffix(stderr: string): string {
  const text = stderr.trim();
  return text === "" ? " (no stderr)" : `: ${truncate(text, 500)}`;
}
