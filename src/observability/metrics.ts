/**
 * Prometheus metrics of the agent, built on prom-client. Label values are bounded: stages, run
 * types, results, failure reasons, API route templates and HTTP codes.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { MethodError } from "../errors.ts";
import type { MethodRunner } from "../execute/index.ts";

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class AgentMetrics {
  readonly registry = new Registry();
  readonly cycles = new Counter({
    name: "cpa_cycles_total",
    help: "Autoscaling cycles by run type and result (success, failure, skipped).",
    labelNames: ["run_type", "result"] as const,
    registers: [this.registry],
  });
  readonly cycleDuration = new Histogram({
    name: "cpa_cycle_duration_seconds",
    help: "Duration of autoscaling cycles that ran, by run type.",
    labelNames: ["run_type"] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly stageDuration = new Histogram({
    name: "cpa_stage_duration_seconds",
    help: "Duration of each run of a user method, by stage or hook.",
    labelNames: ["stage"] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly methodFailures = new Counter({
    name: "cpa_method_failures_total",
    help: "Failed runs of user methods by stage and reason (exit, signal, timeout, output-limit, http-status, ...).",
    labelNames: ["stage", "reason"] as const,
    registers: [this.registry],
  });
  readonly currentReplicas = new Gauge({
    name: "cpa_current_replicas",
    help: "Replicas of the target (/scale spec.replicas) seen by the last successful cycle.",
    registers: [this.registry],
  });
  readonly targetReplicas = new Gauge({
    name: "cpa_target_replicas",
    help: "Replicas decided by the last successful cycle, after clamping and stabilization.",
    registers: [this.registry],
  });
  readonly lastSuccess = new Gauge({
    name: "cpa_last_successful_cycle_timestamp_seconds",
    help: "Unix time of the end of the last successful cycle.",
    registers: [this.registry],
  });
  readonly consecutiveFailures = new Gauge({
    name: "cpa_consecutive_failed_cycles",
    help: "Cycles that failed in a row since the last success.",
    registers: [this.registry],
  });
  readonly apiRequests = new Counter({
    name: "cpa_api_requests_total",
    help: "REST API requests by route and HTTP status code.",
    labelNames: ["path", "code"] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "cpa_leader",
    help: "1 while this agent has the leader lease or leader election is off, else 0.",
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.leader.set(1);
  }
}

/** Wraps a runner so every run is timed and every failure counted by stage and reason. */
export function instrumentRunner(runner: MethodRunner, metrics: AgentMetrics): MethodRunner {
  return {
    async run(request) {
      const end = metrics.stageDuration.startTimer({ stage: request.stage });
      try {
        return await runner.run(request);
      } catch (error) {
        const reason = error instanceof MethodError ? error.reason : "error";
        metrics.methodFailures.inc({ stage: request.stage, reason });
        throw error;
      } finally {
        end();
      }
    },
  };
}
