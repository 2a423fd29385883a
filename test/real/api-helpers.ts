/** Helpers for tests of the agent's REST API and probes against the real control plane. */
import type { AgentProcess } from "../e2e/agent-process.ts";

/** Returns the base URL of a server the agent logged as started, such as `http://127.0.0.1:41234`. */
export async function servedAddress(agent: AgentProcess, message: string, scheme = "http"): Promise<string> {
  const line = await agent.waitForLog((l) => l.message === message, 20_000);
  const address = String(line["address"]);
  const port = address.slice(address.lastIndexOf(":") + 1);
  return `${scheme}://127.0.0.1:${port}`;
}

/** Returns a Deployment manifest with `replicas` and the label app=NAME. */
export function deploymentManifest(name: string, namespace: string, replicas: number): string {
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] } },
    },
  });
}
