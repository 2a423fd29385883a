/** Runs the compiled agent as a child process and follows its JSON log lines. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { forEachLine, withTimeout } from "./lines.ts";

export type LogLine = Record<string, unknown> & { message?: string; level?: string };

/** Returns a shell method that runs `script` with /bin/sh -c. */
export function shMethod(script: string, timeout = 5000): Record<string, unknown> {
  return { type: "shell", timeout, shell: { entrypoint: "/bin/sh", command: ["-c", script] } };
}

/**
 * Returns a configuration for Deployment default/web with `overrides` on top. The REST API and the
 * health server listen on 127.0.0.1 on a free port, so runs never bind a public address and never
 * collide on a fixed port.
 */
export function agentConfig(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    apiConfig: { host: "127.0.0.1", port: 0 },
    healthConfig: { host: "127.0.0.1", port: 0 },
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    namespace: "default",
    metric: shMethod("echo 1"),
    evaluate: shMethod('echo \'{"targetReplicas": 2}\''),
    minReplicas: 1,
    maxReplicas: 10,
    logFormat: "json",
    logVerbosity: 1,
    ...overrides,
  };
}

/** A temporary directory for configuration files, removed by `remove()`. */
export class ScratchDir {
  readonly path = mkdtempSync(join(tmpdir(), "cpa-bench-"));

  /** Writes `config` as YAML and returns the file path. */
  writeConfig(name: string, config: Record<string, unknown>): string {
    const file = join(this.path, name);
    writeFileSync(file, stringify(config));
    return file;
  }

  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

interface Waiter {
  predicate: (line: LogLine) => boolean;
  resolve: (value: { line: LogLine; at: number }) => void;
}

/** The agent process with its stderr parsed as JSON log lines, each stamped with `performance.now()` on arrival. */
export class AgentProcess {
  readonly child: ReturnType<typeof Bun.spawn<"ignore", "pipe", "pipe">>;
  /** `performance.now()` just before the spawn. */
  readonly spawnedAt: number;
  /** The last lines, JSON or not, for error messages. */
  private readonly recent: string[] = [];
  private readonly listeners: ((line: LogLine, at: number) => void)[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly reading: Promise<void>;

  constructor(binary: string, args: string[], env: Record<string, string>) {
    const fullEnv: Record<string, string> = { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/root", ...env };
    this.spawnedAt = performance.now();
    this.child = Bun.spawn([binary, ...args], { env: fullEnv, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    this.reading = forEachLine(this.child.stderr, (text) => this.handleLine(text));
    void new Response(this.child.stdout).text();
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Calls `listener` for each later JSON log line until the returned function is called. */
  onLine(listener: (line: LogLine, at: number) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  /**
   * Calls `onCycle` with the count, the line and its arrival time for each of the next `count`
   * "cycle finished" lines, then resolves with the number of "skipped a timer tick" warnings seen.
   * Rejects on a "cycle failed" line, when the agent exits, or after `timeoutMs`.
   */
  followCycles(count: number, timeoutMs: number, onCycle: (index: number, line: LogLine, at: number) => void): Promise<{ skippedTicks: number }> {
    let seen = 0;
    let skippedTicks = 0;
    let unsubscribe = (): void => {};
    const done = new Promise<{ skippedTicks: number }>((resolve, reject) => {
      unsubscribe = this.onLine((line, at) => {
        if (line.message === "skipped a timer tick because the previous cycle is still running") skippedTicks += 1;
        if (line.message === "cycle failed") reject(new Error(`an agent cycle failed: ${JSON.stringify(line)}`));
        if (line.message !== "cycle finished" || seen >= count) return;
        seen += 1;
        onCycle(seen, line, at);
        if (seen === count) resolve({ skippedTicks });
      });
      void this.child.exited.then((code) => reject(new Error(`the agent exited with code ${code}; last lines:\n${this.lastLines()}`)));
    });
    return withTimeout(done, timeoutMs, () => `the agent did not finish ${count} cycles; last lines:\n${this.lastLines()}`).finally(unsubscribe);
  }

  /** Resolves with the next log line matching `predicate` and its arrival time. Rejects when the agent exits first or after `timeoutMs`. */
  waitForLine(predicate: (line: LogLine) => boolean, timeoutMs: number): Promise<{ line: LogLine; at: number }> {
    const found = new Promise<{ line: LogLine; at: number }>((resolve, reject) => {
      this.waiters.push({ predicate, resolve });
      void this.child.exited.then((code) => reject(new Error(`the agent exited with code ${code}; last lines:\n${this.lastLines()}`)));
    });
    return withTimeout(found, timeoutMs, () => `no matching agent log line; last lines:\n${this.lastLines()}`);
  }

  /** Returns the last stderr lines of the agent, newest last. */
  lastLines(): string {
    return this.recent.join("\n");
  }

  /** Sends SIGTERM, and SIGKILL after 5 s, then resolves with the exit code and the time to exit in milliseconds. */
  async stop(): Promise<{ code: number | null; ms: number }> {
    const started = performance.now();
    if (this.child.exitCode === null) this.child.kill("SIGTERM");
    const killer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
    const code = await this.child.exited;
    clearTimeout(killer);
    await this.reading.catch(() => {});
    return { code, ms: performance.now() - started };
  }

  private handleLine(text: string): void {
    const at = performance.now();
    this.recent.push(text);
    if (this.recent.length > 20) this.recent.shift();
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    for (const listener of this.listeners) listener(line, at);
    for (const waiter of [...this.waiters]) {
      if (waiter.predicate(line)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve({ line, at });
      }
    }
  }
}
