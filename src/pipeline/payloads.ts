/**
 * The JSON payloads sent to methods and hooks. Keys are inserted in the documented order and
 * serialized compactly; objects from the API are passed on with the key order they arrived in.
 */

export type RunType = "scaler" | "api" | "api_dry_run";

/** A Kubernetes object as the API returned it. */
export type KubeObject = Record<string, unknown>;

/** One metric: the target's or pod's name and the metric method's stdout. */
export interface MetricEntry {
  readonly resource: string;
  readonly value: string;
  /** Per-pod mode only: the pod's `status.phase`. */
  readonly phase?: string;
  /** Per-pod mode only: the pod's Ready condition is True. */
  readonly ready?: boolean;
  /** Per-pod mode only: the pod has a deletionTimestamp. */
  readonly terminating?: boolean;
}

export interface ScaleTargetRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
}

function withMetrics(payload: Record<string, unknown>, kubernetesMetrics: unknown[] | undefined): Record<string, unknown> {
  if (kubernetesMetrics !== undefined) payload["kubernetesMetrics"] = kubernetesMetrics;
  return payload;
}

/** Payload of the metric method (with the target or one pod) and of `preMetric`. */
export function metricPayload(resource: KubeObject, runType: RunType, kubernetesMetrics?: unknown[]): string {
  return JSON.stringify(withMetrics({ resource, runType }, kubernetesMetrics));
}

/** Payload of `postMetric`. */
export function postMetricPayload(target: KubeObject, metrics: readonly MetricEntry[], runType: RunType, kubernetesMetrics?: unknown[]): string {
  return JSON.stringify(withMetrics({ resource: target, metrics, runType }, kubernetesMetrics));
}

/** Payload of the evaluate method and of `preEvaluate`. */
export function evaluatePayload(metrics: readonly MetricEntry[], target: KubeObject, runType: RunType, currentReplicas: number): string {
  return JSON.stringify({ metrics, resource: target, runType, currentReplicas });
}

/** Payload of `postEvaluate`. */
export function postEvaluatePayload(
  metrics: readonly MetricEntry[],
  target: KubeObject,
  targetReplicas: number,
  runType: RunType,
  currentReplicas: number,
): string {
  return JSON.stringify({ metrics, resource: target, evaluation: { targetReplicas }, runType, currentReplicas });
}

export interface ScalePayloadInput {
  /** The target after clamping and stabilization. */
  readonly finalReplicas: number;
  readonly target: KubeObject;
  readonly scaleTargetRef: ScaleTargetRef;
  readonly namespace: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Replica count the evaluator requested. */
  readonly evaluatedReplicas: number;
  readonly currentReplicas: number;
  readonly runType: RunType;
}

/** Payload of `preScale` and `postScale`, the same for scheduled cycles and API calls. */
export function scalePayload(input: ScalePayloadInput): string {
  return JSON.stringify({
    evaluation: { targetReplicas: input.finalReplicas },
    resource: input.target,
    scaleTargetRef: { apiVersion: input.scaleTargetRef.apiVersion, kind: input.scaleTargetRef.kind, name: input.scaleTargetRef.name },
    namespace: input.namespace,
    minReplicas: input.minReplicas,
    maxReplicas: input.maxReplicas,
    targetReplicas: input.evaluatedReplicas,
    currentReplicas: input.currentReplicas,
    runType: input.runType,
  });
}
