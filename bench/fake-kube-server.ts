/**
 * Runs the test fake Kubernetes API server (test/fake-kube) in its own process, so that its CPU
 * time is not counted in the process being measured.
 *
 * Usage: bun bench/fake-kube-server.ts [--pods N] [--replicas N]
 *
 * It serves Deployment default/web with label app=web and N Running pods web-000, web-001, ...
 * with that label, on 127.0.0.1 on a free port. Once listening it writes one JSON line to stdout:
 * {"kubeconfigPath": "...", "url": "..."}. When stdin closes or on SIGTERM it writes a second line
 * with the request count per method and path, {"requests": {"GET /apis/...": 12, ...}}, stops the
 * server and exits.
 */
import { parseArgs } from "node:util";
import { deployment, pod } from "../test/fake-kube/fixtures.ts";
import { startFakeKube } from "../test/fake-kube/server.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { pods: { type: "string", default: "0" }, replicas: { type: "string", default: "2" } },
  strict: true,
});
const podCount = Number(values.pods);
const replicas = Number(values.replicas);
if (!Number.isInteger(podCount) || podCount < 0 || !Number.isInteger(replicas) || replicas < 0) {
  console.error(`invalid --pods "${values.pods}" or --replicas "${values.replicas}": expected integers >= 0`);
  process.exit(2);
}

const kube = await startFakeKube({ token: true });
const labels = { app: "web" };
kube.addObject(deployment({ name: "web", replicas, labels }));
for (let index = 0; index < podCount; index++) {
  kube.addObject(pod({ name: `web-${String(index).padStart(3, "0")}`, labels }));
}
process.stdout.write(`${JSON.stringify({ kubeconfigPath: kube.kubeconfigPath, url: kube.url })}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  const counts: Record<string, number> = {};
  for (const request of kube.requests) {
    const key = `${request.method} ${request.pathname}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  process.stdout.write(`${JSON.stringify({ requests: counts })}\n`);
  await kube.stop();
  process.exit(0);
}

process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
process.stdin.on("end", () => void stop());
process.stdin.resume();
