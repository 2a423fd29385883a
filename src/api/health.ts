/**
 * Probes and metrics on their own port (`healthConfig`), served also when the v1 API is off:
 * `/healthz` (the timer is alive), `/readyz` (configuration loaded and the Kubernetes API reached)
 * and `/metrics` (Prometheus text format).
 */
import type { Server } from "bun";
import type { AgentObserver } from "../agent/agent.ts";
import type { Config } from "../config/schema.ts";
import { errorMessage, findCause } from "../errors.ts";
import { KubeApiError } from "../kube/index.ts";
import type { AgentMetrics } from "../observability/metrics.ts";

/** Time past a missed timer tick before the liveness probe fails. */
export const LIVENESS_GRACE_MS = 30_000;

/**
 * Tracks whether the Kubernetes API responded. Any HTTP response counts, including 403, because
 * the API was reached and the cycle error names the problem. Only connection failures and
 * timeouts make the agent unready, and other errors leave the state as it was.
 */
export class Readiness {
  private reached = false;
  private lastError = "the Kubernetes API has not been reached yet";

  get ready(): boolean {
    return this.reached;
  }

  get reason(): string {
    return this.lastError;
  }

  markReached(): void {
    this.reached = true;
  }

  markUnreachable(reason: string): void {
    this.reached = false;
    this.lastError = reason;
  }

  observer(): AgentObserver {
    return {
      cycleSucceeded: () => this.markReached(),
      cycleFailed: ({ error }) => {
        const cause = findCause(error, KubeApiError);
        if (cause === undefined) return;
        if (cause.failure === "network" || cause.failure === "timeout") this.markUnreachable(errorMessage(cause));
        else if (cause.status !== undefined) this.markReached();
      },
    };
  }
}

export interface HealthDeps {
  readonly config: Config;
  readonly metrics: AgentMetrics;
  readonly readiness: Readiness;
  /** Time of the next timer tick in milliseconds since the epoch. */
  readonly nextTickAt: () => number;
  readonly now?: () => number;
}

function text(body: string, status: number, contentType = "text/plain; charset=utf-8"): Response {
  return new Response(body, { status, headers: { "Content-Type": contentType } });
}

/** Handles one probe or metrics request; exported so tests can call it without a socket. */
export async function handleHealthRequest(request: Request, deps: HealthDeps): Promise<Response> {
  const { pathname } = new URL(request.url);
  if (request.method !== "GET" && request.method !== "HEAD") return text("method not allowed; use GET\n", 405);
  const now = (deps.now ?? Date.now)();
  switch (pathname) {
    case "/healthz": {
      const overdue = now - deps.nextTickAt();
      return overdue <= LIVENESS_GRACE_MS ? text("ok\n", 200) : text(`timer tick overdue by ${overdue} ms\n`, 503);
    }
    case "/readyz":
      return deps.readiness.ready ? text("ok\n", 200) : text(`not ready: ${deps.readiness.reason}\n`, 503);
    case "/metrics":
      return text(await deps.metrics.registry.metrics(), 200, deps.metrics.registry.contentType);
    default:
      return text("not found; this port serves /healthz, /readyz and /metrics\n", 404);
  }
}

/** Starts the probe and metrics server. */
export function startHealthServer(deps: HealthDeps): Server<undefined> {
  const { healthConfig } = deps.config;
  return Bun.serve({
    hostname: healthConfig.host,
    port: healthConfig.port,
    maxRequestBodySize: 1024,
    fetch: (request) => handleHealthRequest(request, deps),
  });
}
