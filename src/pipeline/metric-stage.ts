/**
 * The metric stage: the metric method runs once with the target (per-resource) or once per pod
 * matched by the scale selector (per-pod). Per-pod runs go in parallel up to a bound, and the
 * results keep per-pod order (see pod-order.ts) whatever order the runs finish in.
 */
import type { Config } from "../config/schema.ts";
import { CycleError, errorMessage } from "../errors.ts";
import type { MethodRunner } from "../execute/index.ts";
import type { Logger } from "../logging.ts";
import { truncate } from "../logging.ts";
import { metricPayload, type KubeObject, type MetricEntry, type RunType } from "./payloads.ts";
import { comparePodNames } from "./pod-order.ts";
import type { TargetApi } from "./target.ts";

export interface MetricStageInput {
  readonly config: Config;
  readonly runner: MethodRunner;
  readonly target: TargetApi;
  readonly logger: Logger;
  readonly object: KubeObject;
  readonly selector: string;
  readonly runType: RunType;
  readonly kubernetesMetrics: unknown[] | undefined;
  readonly signal: AbortSignal;
}

function metadataOf(object: KubeObject): Record<string, unknown> {
  const metadata = object["metadata"];
  return metadata !== null && typeof metadata === "object" ? (metadata as Record<string, unknown>) : {};
}

/** Returns `metadata.name` of an object, or an empty string. */
export function objectName(object: KubeObject): string {
  const name = metadataOf(object)["name"];
  return typeof name === "string" ? name : "";
}

function isTerminating(pod: KubeObject): boolean {
  return metadataOf(pod)["deletionTimestamp"] != null;
}

function podStatus(pod: KubeObject): { phase: string; ready: boolean } {
  const status = (pod["status"] ?? {}) as { phase?: unknown; conditions?: unknown };
  const phase = typeof status.phase === "string" ? status.phase : "Unknown";
  const conditions = Array.isArray(status.conditions) ? (status.conditions as { type?: unknown; status?: unknown }[]) : [];
  const ready = conditions.some((c) => c.type === "Ready" && c.status === "True");
  return { phase, ready };
}

/** Runs `task` over `items` with at most `limit` in flight; results keep the order of `items`. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = { status: "fulfilled", value: await task(items[index]!) };
      } catch (reason) {
        results[index] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Runs the metric stage and returns one entry per run, in per-pod order. */
export async function gatherMetrics(input: MetricStageInput): Promise<MetricEntry[]> {
  const { config, runner, logger } = input;
  if (config.runMode === "per-resource") {
    const payload = metricPayload(input.object, input.runType, input.kubernetesMetrics);
    logger.v(3).info("running metric", { stage: "metric", output: truncate(payload, 2000) });
    const result = await runner.run({ stage: "metric", method: config.metric, input: payload, signal: input.signal });
    logStderr(logger, config.metric.shell?.logStderr, "metric", result.stderr);
    return [{ resource: objectName(input.object), value: result.stdout }];
  }
  return gatherPodMetrics(input);
}

async function gatherPodMetrics(input: MetricStageInput): Promise<MetricEntry[]> {
  const { config, runner, logger } = input;
  if (input.selector === "") {
    throw new CycleError(
      "metric",
      `${input.target.describe()} has an empty pod selector in its /scale status; per-pod mode would match every pod in namespace ${config.namespace}, so the cycle stops (use runMode: per-resource for targets without a selector)`,
    );
  }
  const listed = await input.target.listPods(input.selector, input.signal);
  const pods = listed
    .filter((pod) => config.includeTerminatingPods || !isTerminating(pod))
    .sort((a, b) => comparePodNames(objectName(a), objectName(b)));
  if (pods.length < listed.length) {
    logger.v(2).info("skipped terminating pods", { count: listed.length - pods.length });
  }

  const settled = await mapBounded(pods, config.metricConcurrency, async (pod) => {
    const name = objectName(pod);
    const payload = metricPayload(pod, input.runType, input.kubernetesMetrics);
    logger.v(3).info("running metric", { stage: "metric", pod: name, output: truncate(payload, 2000) });
    const result = await runner.run({ stage: "metric", subject: `pod ${name}`, method: config.metric, input: payload, signal: input.signal });
    logStderr(logger.with({ pod: name }), config.metric.shell?.logStderr, "metric", result.stderr);
    const { phase, ready } = podStatus(pod);
    const entry: MetricEntry = { resource: name, value: result.stdout, phase, ready, terminating: isTerminating(pod) };
    return entry;
  });

  const failures = settled.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failures.length > 0) {
    const first = failures[0]!.reason;
    const summary = failures.length === 1 ? errorMessage(first) : `${failures.length} of ${pods.length} pods failed: ${failures.map((f) => errorMessage(f.reason)).join("; ")}`;
    throw new CycleError("metric", summary, { cause: first });
  }
  return settled.map((r) => (r as PromiseFulfilledResult<MetricEntry>).value);
}

/** Logs a successful run's stderr when the method sets `logStderr: true`. */
export function logStderr(logger: Logger, enabled: boolean | undefined, stage: string, stderr: string): void {
  if (enabled && stderr !== "") logger.info("method stderr", { stage, stderr: truncate(stderr, 4000) });
}
