import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateConfigValues } from "../../src/config/load.ts";
import type { MethodConfig } from "../../src/config/schema.ts";
import { MethodError } from "../../src/errors.ts";
import { STDERR_LIMIT_BYTES, STDOUT_LIMIT_BYTES } from "../../src/execute/method.ts";
import { becomeSubreaper } from "../../src/execute/reaper.ts";
import { runShell } from "../../src/execute/shell.ts";

function method(shell: Record<string, unknown>, timeout = 5000): MethodConfig {
  const metric = { type: "shell", timeout, shell };
  return validateConfigValues({ scaleTargetRef: { apiVersion: "v1", kind: "K", name: "n" }, metric, evaluate: metric }, {}).config.metric;
}

const sh = (script: string, timeout = 5000): MethodConfig => method({ entrypoint: "/bin/sh", command: ["-c", script] }, timeout);

async function failure(promise: Promise<unknown>): Promise<MethodError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MethodError) return error;
    throw error;
  }
  throw new Error("expected the run to fail");
}

/** Reports whether a process runs; a zombie (ended, not yet reaped by its new parent) counts as ended. */
function processAlive(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

describe("runShell", () => {
  test("passes stdin and returns stdout verbatim", async () => {
    const result = await runShell({ stage: "metric", method: sh("cat; printf '  \\n'"), input: '{"a":1}' });
    expect(result.stdout).toBe('{"a":1}  \n');
  });

  test("arguments are not shell-parsed", async () => {
    const result = await runShell({ stage: "metric", method: method({ entrypoint: "/bin/echo", command: ["$HOME", "a b", "*"] }), input: "" });
    expect(result.stdout).toBe("$HOME a b *\n");
  });

  test("default entrypoint is /bin/sh", async () => {
    const result = await runShell({ stage: "evaluate", method: method({ command: ["-c", 'echo \'{"targetReplicas":2}\''] }), input: "" });
    expect(result.stdout).toBe('{"targetReplicas":2}\n');
  });

  test("returns stderr of a successful run", async () => {
    const result = await runShell({ stage: "evaluate", method: sh("echo 'debug: avg=12' >&2; echo ok"), input: "" });
    expect(result.stderr).toBe("debug: avg=12\n");
  });

  test("non-zero exit names stage, command, code and stderr", async () => {
    const error = await failure(runShell({ stage: "metric", method: sh("echo boom >&2; exit 3"), input: "" }));
    expect(error.message).toBe("metric failed: command /bin/sh -c echo boom >&2; exit 3 exited with code 3: boom");
    expect(error.exitCode).toBe(3);
    expect(error.reason).toBe("exit");
  });

  test("non-zero exit keeps stdout for the log", async () => {
    const error = await failure(runShell({ stage: "metric", method: sh("echo partial; exit 1"), input: "" }));
    expect(error.stdout).toBe("partial\n");
  });

  test("script that ignores stdin still succeeds", async () => {
    const result = await runShell({ stage: "metric", method: sh("echo 7"), input: "x".repeat(1024 * 1024) });
    expect(result.stdout).toBe("7\n");
  });

  test("killed by a signal names the signal", async () => {
    const error = await failure(runShell({ stage: "metric", method: sh("kill -9 $$"), input: "" }));
    expect(error.signal).toBe("SIGKILL");
  });

  test("missing program fails with a clear error", async () => {
    const error = await failure(runShell({ stage: "metric", method: method({ entrypoint: "/nonexistent/python", command: ["/m.py"] }), input: "" }));
    expect(error.message).toContain("/nonexistent/python");
  });

  test("timeout names the subject", async () => {
    const error = await failure(runShell({ stage: "metric", subject: "pod web-7", method: sh("sleep 5", 100), input: "" }));
    expect(error.message).toStartWith("metric for pod web-7 timed out after 100 ms");
    expect(error.reason).toBe("timeout");
  });

  test("timeout ends the whole process group", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpa-shell-"));
    const pidFile = join(dir, "child.pid");
    await failure(runShell({ stage: "metric", method: sh(`sleep 30 & echo $! > ${pidFile}; wait`, 200), input: "" }));
    const child = Number(readFileSync(pidFile, "utf8"));
    await Bun.sleep(50);
    expect(processAlive(child)).toBe(false);
  });

  test("script ignoring SIGTERM is killed after the grace period", async () => {
    const started = performance.now();
    const error = await failure(runShell({ stage: "metric", method: sh("trap '' TERM; sleep 30", 100), input: "" }));
    expect(error.reason).toBe("timeout");
    expect(performance.now() - started).toBeLessThan(5000);
  });

  test("background process is ended after a successful run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpa-shell-"));
    const pidFile = join(dir, "child.pid");
    const result = await runShell({ stage: "metric", method: sh(`sleep 30 & echo $! > ${pidFile}; echo done`), input: "" });
    expect(result.stdout).toBe("done\n");
    const child = Number(readFileSync(pidFile, "utf8"));
    await Bun.sleep(50);
    expect(processAlive(child)).toBe(false);
  });

  test("left-behind process leaves no zombie", async () => {
    expect(becomeSubreaper()).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), "cpa-shell-"));
    const pidFile = join(dir, "child.pid");
    await runShell({ stage: "metric", method: sh(`sleep 30 >/dev/null 2>&1 & echo $! > ${pidFile}; echo done`), input: "" });
    const child = Number(readFileSync(pidFile, "utf8"));
    await Bun.sleep(400);
    expect(existsSync(`/proc/${child}`)).toBe(false);
  });

  test("output over the limit fails the run", async () => {
    const error = await failure(runShell({ stage: "metric", method: sh(`head -c ${STDOUT_LIMIT_BYTES + 10} /dev/zero`), input: "" }));
    expect(error.reason).toBe("output-limit");
    expect(error.message).toContain("output limit");
  });

  test("stderr over the limit fails the run", async () => {
    const error = await failure(runShell({ stage: "metric", method: sh(`head -c ${STDERR_LIMIT_BYTES + 10} /dev/zero >&2; echo 1`), input: "" }));
    expect(error.reason).toBe("output-limit");
  });

  test("endless output is stopped at the limit", async () => {
    const error = await failure(runShell({ stage: "metric", method: sh("yes"), input: "" }));
    expect(error.reason).toBe("output-limit");
  });

  test("abort ends the run", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await failure(runShell({ stage: "metric", method: sh("sleep 30"), input: "", signal: controller.signal }));
    expect(error.reason).toBe("aborted");
  });

  test("aborted signal prevents the start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpa-shell-"));
    const marker = join(dir, "ran");
    const controller = new AbortController();
    controller.abort();
    await failure(runShell({ stage: "metric", method: sh(`touch ${marker}`), input: "", signal: controller.signal }));
    expect(existsSync(marker)).toBe(false);
  });
});
