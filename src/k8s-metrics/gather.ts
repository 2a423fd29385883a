/**
 * Gathering one metric spec: the dispatch on source and target type, the API calls and the result
 * in the JSON shape of k8shorizmetrics v3, the library the Go agent v2 uses. Error texts follow that
 * library too, so logs read the same as the Go agent's.
 */
import { goInt, goMap, goSet } from "./go-json.ts";
import type { MetricsApi, MetricValue, PodUsage } from "./api.ts";
import { countRunningReady, groupPods, type PodFacts, type PodSample } from "./pods.ts";
import { milliValue, parseQuantity } from "./quantity.ts";
import { renderSelector, type LabelSelector } from "./selector.ts";
import type { MetricSpec, MetricTarget } from "./spec.ts";
import { formatTimestamp } from "./time.ts";

/** Inputs of gathering one spec, besides the spec itself. */
export interface GatherContext {
  readonly api: MetricsApi;
  readonly namespace: string;
  /** `/scale` `status.selector` of the target. */
  readonly podSelector: string;
  /** Lists the pods that match podSelector; one list is shared by every spec of a cycle. */
  readonly pods: () => Promise<readonly PodFacts[]>;
  readonly cpuInitializationPeriod: bigint;
  readonly initialReadinessDelay: bigint;
  readonly now: bigint;
  readonly signal: AbortSignal;
}

/** The source key of an entry and its value. */
export interface SourceResult {
  readonly key: "resource" | "containerResource" | "pods" | "object" | "external";
  readonly value: Record<string, unknown>;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Runs `action` and rewrites any error it throws as `${prefix}${its message}`. */
async function wrap<T>(prefix: string, action: () => Promise<T> | T): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw new Error(`${prefix}${message(error)}`, { cause: error });
  }
}

/** Gathers one spec, or throws an Error whose message gives the reason it failed. */
export async function gatherSpec(spec: MetricSpec, context: GatherContext): Promise<SourceResult> {
  switch (spec.type) {
    case "Resource":
      if (spec.resource === undefined) throw new Error("invalid resource metric source: missing resource block");
      return { key: "resource", value: await gatherResource(spec.resource.name, undefined, spec.resource.target, context) };
    case "ContainerResource": {
      const block = spec.containerResource;
      if (block === undefined) throw new Error("invalid container resource metric source: missing containerResource block");
      return { key: "containerResource", value: await gatherResource(block.name, block.container, block.target, context) };
    }
    case "Pods":
      if (spec.pods === undefined) throw new Error("invalid pods metric source: missing pods block");
      return { key: "pods", value: await gatherPods(spec.pods, context) };
    case "Object":
      if (spec.object === undefined) throw new Error("invalid object metric source: missing object block");
      return { key: "object", value: await gatherObject(spec.object, context) };
    case "External":
      if (spec.external === undefined) throw new Error("invalid external metric source: missing external block");
      return { key: "external", value: await gatherExternal(spec.external, context) };
    default:
      throw new Error(`unknown metric source type ${JSON.stringify(spec.type)}`);
  }
}

function podMetricsInfo(samples: ReadonlyMap<string, PodSample>): Record<string, unknown> {
  return goMap(samples, (sample) => ({ Timestamp: formatTimestamp(sample.timestamp), Window: goInt(sample.window), Value: goInt(sample.value) }));
}

/**
 * Sums each pod's usage of a resource over its containers, or over the one named container. A pod
 * whose containers do not all report the resource is left out, so it counts as missing.
 */
function usageSamples(items: readonly PodUsage[], resourceName: string, container: string | undefined): Map<string, PodSample> {
  const samples = new Map<string, PodSample>();
  for (const item of items) {
    const containers = container === undefined ? item.containers : item.containers.filter((candidate) => candidate.name === container);
    if (containers.length === 0) continue;
    let total = 0n;
    let complete = true;
    for (const entry of containers) {
      const usage = entry.usage.get(resourceName);
      if (usage === undefined) complete = false;
      else total += usage;
    }
    if (complete) samples.set(item.name, { timestamp: item.timestamp, window: item.window, value: total });
  }
  return samples;
}

/** Sums the requests of a resource per pod; throws when a counted container has no request. */
function podRequests(pods: readonly PodFacts[], resourceName: string, container: string | undefined): Map<string, bigint> {
  const requests = new Map<string, bigint>();
  for (const pod of pods) {
    let total = 0n;
    const counted = container === undefined ? pod.containers : pod.containers.filter((candidate) => candidate.name === container);
    if (container !== undefined && counted.length === 0) throw new Error(`missing request for ${resourceName} in container ${container} of pod ${pod.name}`);
    for (const entry of counted) {
      const request = entry.requests[resourceName];
      if (request === undefined || request === null) {
        throw new Error(container === undefined ? `missing request for ${resourceName}` : `missing request for ${resourceName} in container ${container} of pod ${pod.name}`);
      }
      total += milliValue(parseQuantity(request as string | number));
    }
    requests.set(pod.name, total);
  }
  return requests;
}

async function gatherResource(resourceName: string, container: string | undefined, target: MetricTarget, context: GatherContext): Promise<Record<string, unknown>> {
  const kind = container === undefined ? "resource" : "container resource";
  if (target.type !== "AverageValue" && target.type !== "Utilization") {
    throw new Error(`invalid ${kind} metric source: must be either average value or average utilization`);
  }
  const prefix = `failed to get ${kind} metric: `;
  const metricsPrefix = `${prefix}unable to get metrics for resource ${resourceName}: `;

  const items = await wrap(`${metricsPrefix}unable to fetch metrics from resource metrics API: `, () =>
    context.api.podMetrics(context.namespace, context.podSelector, context.signal),
  );
  if (items.length === 0) throw new Error(`${metricsPrefix}no metrics returned from resource metrics API`);
  const samples = usageSamples(items, resourceName, container);

  const pods = await wrap(`${prefix}unable to get pods while calculating replica count: `, context.pods);
  if (pods.length === 0) throw new Error(`${prefix}no pods returned by selector while calculating replica count`);
  const requests = target.type === "Utilization" ? await wrap(prefix, () => podRequests(pods, resourceName, container)) : undefined;

  const groups = groupPods(pods, samples, {
    resourceName,
    cpuInitializationPeriod: context.cpuInitializationPeriod,
    initialReadinessDelay: context.initialReadinessDelay,
    now: context.now,
  });
  // Ignored pods lose their sample; missing pods never had one, and skipped pods keep theirs.
  for (const name of groups.ignored) samples.delete(name);

  return {
    pod_metrics_info: podMetricsInfo(samples),
    requests: requests === undefined ? null : goMap(requests, goInt),
    ready_pod_count: groups.readyCount,
    ignored_pods: goSet(groups.ignored),
    missing_pods: goSet(groups.missing),
    total_pods: pods.length,
    timestamp: formatTimestamp(items[0]!.timestamp),
  };
}

function renderOrThrow(prefix: string, selector: LabelSelector | undefined): Promise<string> {
  return wrap(prefix, () => renderSelector(selector));
}

async function gatherPods(source: NonNullable<MetricSpec["pods"]>, context: GatherContext): Promise<Record<string, unknown>> {
  const prefix = "failed to get pods metric: ";
  const metricSelector = await renderOrThrow(prefix, source.metric.selector);
  if (source.target.type !== "AverageValue") throw new Error("invalid pods metric source: must be average value");

  const metricPrefix = `${prefix}unable to get metric ${source.metric.name}: `;
  const values = await wrap(`${metricPrefix}unable to fetch metrics from custom metrics API: `, () =>
    context.api.podCustomMetrics(context.namespace, source.metric.name, context.podSelector, metricSelector, context.signal),
  );
  if (values.length === 0) throw new Error(`${metricPrefix}no metrics returned from custom metrics API`);
  const samples = new Map<string, PodSample>(values.map((value) => [value.describedObjectName, value]));
  const timestamp = formatTimestamp(values[0]!.timestamp);

  const pods = await wrap(`${prefix}unable to get pods while calculating replica count: `, context.pods);
  if (pods.length === 0) {
    return { pod_metrics_info: null, ready_pod_count: 0, ignored_pods: null, missing_pods: null, total_pods: 0, timestamp };
  }
  // Custom metrics get no readiness checks, and no pod loses its value.
  const groups = groupPods(pods, samples, { resourceName: "", cpuInitializationPeriod: 0n, initialReadinessDelay: 0n, now: context.now });
  return {
    pod_metrics_info: podMetricsInfo(samples),
    ready_pod_count: groups.readyCount,
    ignored_pods: null,
    missing_pods: goSet(groups.missing),
    total_pods: pods.length,
    timestamp,
  };
}

function currentValue(targetType: string, value: bigint): Record<string, unknown> {
  return targetType === "Value" ? { value: goInt(value) } : { average_value: goInt(value) };
}

async function readyPodCount(prefix: string, context: GatherContext): Promise<number> {
  const pods = await wrap(`${prefix}unable to calculate ready pods: unable to get pods while calculating replica count: `, context.pods);
  return countRunningReady(pods);
}

async function gatherObject(source: NonNullable<MetricSpec["object"]>, context: GatherContext): Promise<Record<string, unknown>> {
  const prefix = "failed to get object metric: ";
  const metricSelector = await renderOrThrow(prefix, source.metric.selector);
  const targetType = source.target.type;
  if (targetType !== "Value" && targetType !== "AverageValue") throw new Error("invalid object metric source: must be either value or average value");

  const object = source.describedObject;
  // The Go library joins the object and the cause with "/" for AverageValue targets and ": " for Value.
  const separator = targetType === "Value" ? ": " : "/";
  const objectPrefix = `${prefix}unable to get metric ${source.metric.name}: ${object.kind} on ${context.namespace} ${object.name}${separator}`;
  const values = await wrap(`${objectPrefix}unable to fetch metrics from custom metrics API: `, async () => {
    const found = await context.api.objectCustomMetric(context.namespace, object, source.metric.name, metricSelector, context.signal);
    if (found.length !== 1) throw new Error(`the custom metrics API server returned ${found.length} results when we asked for exactly one`);
    return found;
  });
  const value = values[0]!;

  const result: Record<string, unknown> = { current: currentValue(targetType, value.value) };
  if (targetType === "Value") result["ready_pod_count"] = await readyPodCount(prefix, context);
  result["timestamp"] = formatTimestamp(value.timestamp);
  return result;
}

async function gatherExternal(source: NonNullable<MetricSpec["external"]>, context: GatherContext): Promise<Record<string, unknown>> {
  const prefix = "failed to get external metric: ";
  const targetType = source.target.type;
  if (targetType !== "Value" && targetType !== "AverageValue") throw new Error("invalid external metric source: must be either value or average value");
  const metricSelector = await renderOrThrow(prefix, source.metric.selector);

  const shownSelector = source.metric.selector === undefined ? "nil" : metricSelector;
  const metricPrefix = `${prefix}unable to get external metric ${context.namespace}/${source.metric.name}/${shownSelector}: `;
  const values: MetricValue[] = await wrap(`${metricPrefix}unable to fetch metrics from external metrics API: `, () =>
    context.api.externalMetrics(context.namespace, source.metric.name, metricSelector, context.signal),
  );
  if (values.length === 0) throw new Error(`${metricPrefix}no metrics returned from external metrics API`);
  const total = values.reduce((sum, value) => sum + value.value, 0n);

  const result: Record<string, unknown> = { current: currentValue(targetType, total) };
  if (targetType === "Value") result["ready_pod_count"] = await readyPodCount(prefix, context);
  result["timestamp"] = formatTimestamp(values[0]!.timestamp);
  return result;
}
