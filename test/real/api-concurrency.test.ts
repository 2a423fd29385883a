/**
 * The REST API under 200 concurrent requests while the timer runs, against the real API server:
 * cycles never overlap, dry runs leave no stabilization entry, and every response is well-formed.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ControlPlane } from "../controlplane/harness.ts";
import { shMethod, startAgent, writeConfig, type AgentProcess } from "../e2e/agent-process.ts";
import { deploymentManifest, servedAddress } from "./api-helpers.ts";
import { freshNamespace, sharedControlPlane } from "./shared-plane.ts";

setDefaultTimeout(180_000);

let plane: ControlPlane;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  plane = await sharedControlPlane();
});
afterAll(async () => {
  await agent?.stop();
});

async function replicasOf(namespace: string, name: string): Promise<number> {
  const response = await plane.request("GET", `/apis/apps/v1/namespaces/${namespace}/deployments/${name}/scale`);
  return (response.body as { spec: { replicas: number } }).spec.replicas;
}

describe("REST API under concurrent load", () => {
  test("200 requests while the timer runs", async () => {
    const namespace = await freshNamespace(plane, "api-load");
    await plane.kubectl(["apply", "-f", "-"], { input: deploymentManifest("web", namespace, 1) });

    const dir = mkdtempSync(join(tmpdir(), "cpa-api-load-"));
    const scriptLog = join(dir, "scripts.log");
    const values = join(dir, "values.log");
    writeFileSync(scriptLog, "");
    writeFileSync(values, "");
    // Each script writes start and end lines; overlapping cycles would interleave them.
    const metric = shMethod(`echo start >> ${scriptLog}; sleep 0.005; echo end >> ${scriptLog}; echo 1`);
    const evaluate = shMethod(
      [
        "input=$(cat)",
        `echo start >> ${scriptLog}`,
        'case "$input" in *\'"runType":"api_dry_run"\'*) kind=dry; value=10;; *) kind=real; value=$(( $(od -An -N2 -tu2 /dev/urandom) % 8 + 1 ));; esac',
        `echo "$kind $value" >> ${values}`,
        `echo end >> ${scriptLog}`,
        'echo "{\\"targetReplicas\\": $value}"',
      ].join("\n"),
    );
    const configPath = writeConfig({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
      namespace,
      runMode: "per-resource",
      interval: 200,
      logFormat: "json",
      minReplicas: 1,
      maxReplicas: 10,
      downscaleStabilization: 600,
      metric,
      evaluate,
    });
    agent = startAgent({ configPath, env: { KUBECONFIG: plane.kubeconfigPath, apiConfig: '{"port": 0, "host": "127.0.0.1", "waitTimeout": 5000}' } });
    const base = await servedAddress(agent, "serving the REST API");

    const observed: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        observed.push(await replicasOf(namespace, "web"));
        await Bun.sleep(50);
      }
    })();

    const requests = Array.from({ length: 200 }, (_, i) => {
      const kind = i % 4;
      if (kind === 0) return { method: "GET", path: "/api/v1/metrics" };
      if (kind === 1) return { method: "POST", path: "/api/v1/evaluation?dry_run=true" };
      return { method: "POST", path: "/api/v1/evaluation" };
    });
    const responses = await Promise.all(
      requests.map(async (r) => {
        const response = await fetch(`${base}${r.path}`, { method: r.method });
        return { request: r, status: response.status, type: response.headers.get("content-type"), body: (await response.json()) as unknown };
      }),
    );
    // Values read before a pause were all applied after it; a cycle may log one more meanwhile.
    const realValues = (): number[] =>
      readFileSync(values, "utf8").trim().split("\n").filter((l) => l.startsWith("real")).map((l) => Number(l.split(" ")[1]));
    const before = realValues();
    await Bun.sleep(1000);
    const final = await replicasOf(namespace, "web");
    const after = realValues();
    sampling = false;
    await sampler;
    await agent.stop();
    agent = undefined;

    for (const response of responses) {
      expect([200, 429]).toContain(response.status);
      expect(response.type).toBe("application/json");
      if (response.status === 429) {
        expect(response.body).toMatchObject({ code: 429 });
      } else if (response.request.path.startsWith("/api/v1/metrics")) {
        expect(response.body).toEqual([{ resource: "web", value: "1\n" }]);
      } else {
        expect(Number.isInteger((response.body as { targetReplicas: number }).targetReplicas)).toBe(true);
      }
    }
    expect(responses.filter((r) => r.status === 200).length).toBeGreaterThan(0);

    const lines = readFileSync(scriptLog, "utf8").trim().split("\n");
    const overlaps = lines.filter((line, i) => line === (i % 2 === 0 ? "end" : "start"));
    expect(overlaps).toEqual([]);

    expect(final).toBeGreaterThanOrEqual(Math.max(1, ...before));
    expect(final).toBeLessThanOrEqual(Math.max(1, ...after));
    expect(final).toBeLessThan(10);
    for (let i = 1; i < observed.length; i++) expect(observed[i]!).toBeGreaterThanOrEqual(observed[i - 1]!);
  });
});
