/**
 * The pod facts that metric gathering reads, and the grouping of pods into ready, ignored and
 * missing as k8shorizmetrics v3 (the library behind the Go agent v2) does it.
 */
import { parseTimestamp } from "./time.ts";

/** The fields of a pod that gathering reads. Times are nanoseconds since the epoch. */
export interface PodFacts {
  readonly name: string;
  readonly phase: string;
  readonly deleting: boolean;
  /** `status.startTime`, undefined when unset. */
  readonly startTime: bigint | undefined;
  /** The first condition of type Ready, undefined when the pod has none. */
  readonly readyCondition: { readonly status: string; readonly lastTransitionTime: bigint } | undefined;
  /** `spec.containers`, without init and ephemeral containers. */
  readonly containers: readonly { readonly name: string; readonly requests: Readonly<Record<string, unknown>> }[];
}

/** A per-pod sample: when it was taken, over which window, and its value in milli-units. */
export interface PodSample {
  readonly timestamp: bigint;
  readonly window: bigint;
  readonly value: bigint;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function optionalTime(value: unknown): bigint | undefined {
  return value === null || value === undefined ? undefined : parseTimestamp(value);
}

/** Reads the facts of a pod object as the API returned it. Throws on a malformed timestamp. */
export function podFacts(pod: Record<string, unknown>): PodFacts {
  const metadata = record(pod["metadata"]);
  const status = record(pod["status"]);
  const spec = record(pod["spec"]);
  const conditions = Array.isArray(status["conditions"]) ? status["conditions"].map(record) : [];
  const ready = conditions.find((condition) => condition["type"] === "Ready");
  const containers = Array.isArray(spec["containers"]) ? spec["containers"].map(record) : [];
  return {
    name: typeof metadata["name"] === "string" ? metadata["name"] : "",
    phase: typeof status["phase"] === "string" ? status["phase"] : "",
    deleting: metadata["deletionTimestamp"] !== undefined && metadata["deletionTimestamp"] !== null,
    startTime: optionalTime(status["startTime"]),
    readyCondition:
      ready === undefined
        ? undefined
        : { status: String(ready["status"] ?? ""), lastTransitionTime: parseTimestamp(ready["lastTransitionTime"]) },
    containers: containers.map((container) => ({
      name: typeof container["name"] === "string" ? container["name"] : "",
      requests: record(record(container["resources"])["requests"]),
    })),
  };
}

export interface ReadinessSettings {
  /** Only `cpu` gets the start-up checks of rule 4; other resources and custom metrics skip them. */
  readonly resourceName: string;
  /** `cpuInitializationPeriod` in nanoseconds. */
  readonly cpuInitializationPeriod: bigint;
  /** `initialReadinessDelay` in nanoseconds. */
  readonly initialReadinessDelay: bigint;
  readonly now: bigint;
}

export interface PodGroups {
  readonly readyCount: number;
  readonly ignored: Set<string>;
  readonly missing: Set<string>;
}

/**
 * Sorts pods into ready, ignored and missing. The first matching rule decides:
 * 1. deleting or Failed: skipped, in no group and not counted;
 * 2. Pending: ignored;
 * 3. no sample: missing;
 * 4. for cpu only: ignored while it is unready or its sample predates readiness during the CPU
 *    initialization period, and after that period only when it has never become ready since start;
 * 5. otherwise ready.
 */
export function groupPods(pods: readonly PodFacts[], samples: ReadonlyMap<string, PodSample>, settings: ReadinessSettings): PodGroups {
  let readyCount = 0;
  const ignored = new Set<string>();
  const missing = new Set<string>();
  for (const pod of pods) {
    if (pod.deleting || pod.phase === "Failed") continue;
    if (pod.phase === "Pending") {
      ignored.add(pod.name);
      continue;
    }
    const sample = samples.get(pod.name);
    if (sample === undefined) {
      missing.add(pod.name);
      continue;
    }
    if (settings.resourceName === "cpu" && isUnreadyForCpu(pod, sample, settings)) {
      ignored.add(pod.name);
      continue;
    }
    readyCount++;
  }
  return { readyCount, ignored, missing };
}

function isUnreadyForCpu(pod: PodFacts, sample: PodSample, settings: ReadinessSettings): boolean {
  const condition = pod.readyCondition;
  if (condition === undefined || pod.startTime === undefined) return true;
  if (pod.startTime + settings.cpuInitializationPeriod > settings.now) {
    // Still initializing: a sample taken before the pod became ready may include start-up load.
    return condition.status === "False" || sample.timestamp < condition.lastTransitionTime + sample.window;
  }
  // Initialized: ignore only a pod that has stayed unready since shortly after it started.
  return condition.status === "False" && pod.startTime + settings.initialReadinessDelay > condition.lastTransitionTime;
}

/** Counts pods that are Running with a Ready condition of True, as Object and External Value metrics report. */
export function countRunningReady(pods: readonly PodFacts[]): number {
  return pods.filter((pod) => pod.phase === "Running" && pod.readyCondition?.status === "True").length;
}
