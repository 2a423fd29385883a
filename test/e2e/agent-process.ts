/**
 * Runs the compiled agent binary as a child process for end-to-end tests, with its JSON log
 * lines collected for assertions.
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";

export const REPO_ROOT = resolve(import.meta.dir, "../..");
export const BINARY = process.env["CPA_BINARY"] ?? join(REPO_ROOT, "dist", "cpa");
export const EXAMPLE_DIR = join(REPO_ROOT, "example", "python-custom-autoscaler");

/** Builds the binary when it is missing, so a single e2e file can run on its own. */
export function ensureBinary(): void {
  if (existsSync(BINARY)) return;
  const build = Bun.spawnSync(["./node_modules/.bin/bun", "scripts/build.ts"], { cwd: REPO_ROOT, stdout: "inherit", stderr: "inherit" });
  if (build.exitCode !== 0) throw new Error(`failed to build ${BINARY}: scripts/build.ts exited with code ${build.exitCode}`);
}

export type LogLine = Record<string, unknown> & { message: string; level: string };

export interface AgentProcess {
  readonly process: ReturnType<typeof Bun.spawn>;
  readonly logs: LogLine[];
  /** stderr lines that are not JSON log lines (start-up errors). */
  readonly otherOutput: string[];
  readonly stdout: () => string;
  /** Resolves with the first log line matching `predicate`, or rejects after `timeoutMs`. */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends `signal` and resolves with the exit code and the time to exit in milliseconds. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

/** Returns a shell method running a Python script of the example with `python`. */
export function pythonMethod(script: string, timeout = 2500): Record<string, unknown> {
  return { type: "shell", timeout, shell: { entrypoint: "python", command: [join(EXAMPLE_DIR, script)] } };
}

/** Returns a shell method running `script` with /bin/sh -c. */
export function shMethod(script: string, timeout = 5000): Record<string, unknown> {
  return { type: "shell", timeout, shell: { entrypoint: "/bin/sh", command: ["-c", script] } };
}

/** Writes `config` as YAML into a new temporary directory and returns the file path. */
export function writeConfig(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "cpa-e2e-"));
  const path = join(dir, "config.yaml");
  writeFileSync(path, stringify(config));
  return path;
}

/** Starts the agent with `args` and `env` on top of a minimal environment. */
export function startAgent(options: { args?: string[]; env?: Record<string, string>; configPath?: string }): AgentProcess {
  ensureBinary();
  // Free ports by default, so agents never clash with each other or with services on this machine.
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: process.env["HOME"] ?? "/root",
    apiConfig: '{"port": 0, "host": "127.0.0.1"}',
    healthConfig: '{"port": 0, "host": "127.0.0.1"}',
    ...options.env,
  };
  if (options.configPath) env["CONFIG_PATH"] = options.configPath;
  const child = Bun.spawn([BINARY, ...(options.args ?? [])], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const logs: LogLine[] = [];
  const otherOutput: string[] = [];
  let stdoutText = "";
  const waiters: { predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];

  void (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of child.stderr) {
      buffer += decoder.decode(chunk, { stream: true });
      let index: number;
      while ((index = buffer.indexOf("\n")) >= 0) {
        const text = buffer.slice(0, index);
        buffer = buffer.slice(index + 1);
        let line: LogLine | undefined;
        try {
          line = JSON.parse(text) as LogLine;
        } catch {
          otherOutput.push(text);
        }
        if (line === undefined) continue;
        logs.push(line);
        for (const waiter of [...waiters]) {
          if (waiter.predicate(line)) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(line);
          }
        }
      }
    }
  })();
  void (async () => {
    for await (const chunk of child.stdout) stdoutText += new TextDecoder().decode(chunk);
  })();

  return {
    process: child,
    logs,
    otherOutput,
    stdout: () => stdoutText,
    waitForLog(predicate, timeoutMs = 15_000) {
      const found = logs.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise<LogLine>((resolvePromise, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${logs.slice(-8).map((l) => JSON.stringify(l)).join("\n")}\n${otherOutput.slice(-5).join("\n")}`));
        }, timeoutMs);
        waiters.push({ predicate, resolve: (line) => (clearTimeout(timer), resolvePromise(line)) });
      });
    },
    async stop(signal = "SIGTERM") {
      const started = performance.now();
      if (child.exitCode === null) child.kill(signal);
      const code = await child.exited;
      return { code, ms: performance.now() - started };
    },
  };
}

/** Polls `condition` every 50 ms until it holds, or throws after `timeoutMs` with `what` in the message. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(50);
  }
}
