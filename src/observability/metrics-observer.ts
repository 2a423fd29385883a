/** Updates the Prometheus metrics from the agent's cycle outcomes. */
import type { AgentObserver } from "../agent/agent.ts";
import type { AgentMetrics } from "./metrics.ts";

export function metricsObserver(metrics: AgentMetrics, now: () => number = Date.now): AgentObserver {
  return {
    cycleSucceeded({ runType, dryRun, result, durationMs }) {
      metrics.cycles.inc({ run_type: runType, result: "success" });
      metrics.cycleDuration.observe({ run_type: runType }, durationMs / 1000);
      metrics.currentReplicas.set(result.currentReplicas);
      metrics.consecutiveFailures.set(0);
      metrics.lastSuccess.set(now() / 1000);
      if (!dryRun && result.targetReplicas !== undefined) metrics.targetReplicas.set(result.targetReplicas);
    },
    cycleFailed({ runType, durationMs, consecutiveFailures }) {
      metrics.cycles.inc({ run_type: runType, result: "failure" });
      metrics.cycleDuration.observe({ run_type: runType }, durationMs / 1000);
      metrics.consecutiveFailures.set(consecutiveFailures);
    },
    tickSkipped(reason) {
      metrics.cycles.inc({ run_type: "scaler", result: reason === "busy" ? "skipped" : "not-leader" });
    },
  };
}
