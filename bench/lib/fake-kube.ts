/** Starts and stops bench/fake-kube-server.ts as a child process. */
import { join } from "node:path";
import { forEachLine, withTimeout } from "./lines.ts";
import { REPO_ROOT } from "./paths.ts";

export interface FakeKubeProcess {
  readonly kubeconfigPath: string;
  readonly url: string;
  /** Stops the server and returns the number of requests it served, per `METHOD path`. Later calls return the same result. */
  stop(): Promise<Record<string, number>>;
}

/** Starts the fake API server with Deployment default/web and `pods` pods labelled app=web. */
export async function startFakeKubeProcess(options: { pods?: number; replicas?: number } = {}): Promise<FakeKubeProcess> {
  const args = ["--pods", String(options.pods ?? 0), "--replicas", String(options.replicas ?? 2)];
  const child = Bun.spawn([process.execPath, join(REPO_ROOT, "bench", "fake-kube-server.ts"), ...args], {
    cwd: REPO_ROOT,
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });

  const messages: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  const wakeAll = (): void => {
    for (const wake of waiters.splice(0)) wake();
  };
  let ended = false;
  const reading = forEachLine(child.stdout, (line) => {
    messages.push(JSON.parse(line) as Record<string, unknown>);
    wakeAll();
  }).finally(() => {
    ended = true;
    wakeAll();
  });
  const nextMessage = async (index: number): Promise<Record<string, unknown>> => {
    while (messages.length <= index) {
      if (ended) throw new Error(`the fake API server closed its output before it reported (exit code ${await child.exited})`);
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
    return messages[index]!;
  };

  const ready = await withTimeout(nextMessage(0), 15_000, "the fake API server did not report its address");
  let stopping: Promise<Record<string, number>> | undefined;
  const stop = async (): Promise<Record<string, number>> => {
    await child.stdin.end();
    let summary: Record<string, unknown> = {};
    try {
      summary = await withTimeout(nextMessage(1), 5000, "the fake API server did not report its request counts");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await child.exited;
      await reading.catch(() => {});
    }
    return (summary["requests"] ?? {}) as Record<string, number>;
  };
  return {
    kubeconfigPath: String(ready["kubeconfigPath"]),
    url: String(ready["url"]),
    stop: () => (stopping ??= stop()),
  };
}
