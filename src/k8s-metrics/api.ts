/**
 * Requests to the three metrics APIs (`metrics.k8s.io`, `custom.metrics.k8s.io`,
 * `external.metrics.k8s.io`) and parsing of their responses into samples in milli-units.
 */
import type { ResourceInfo } from "../kube/discovery.ts";
import type { KubeObject, KubeRequest } from "../kube/index.ts";
import { milliValue, parseQuantity } from "./quantity.ts";
import { parseDuration, parseTimestamp } from "./time.ts";

/** The parts of KubeClient that metric gathering uses. */
export interface MetricsApiClient {
  request(request: KubeRequest): Promise<unknown>;
  listPods(namespace: string, labelSelector: string, options?: { signal?: AbortSignal }): Promise<KubeObject[]>;
  resolveResource(apiVersion: string, kind: string, options?: { signal?: AbortSignal }): Promise<ResourceInfo>;
}

/** One PodMetrics item: per-container usage as milli-values, undefined where a container lacks the resource. */
export interface PodUsage {
  readonly name: string;
  readonly timestamp: bigint;
  readonly window: bigint;
  readonly containers: readonly { readonly name: string; readonly usage: ReadonlyMap<string, bigint> }[];
}

/** One custom or external metric value. */
export interface MetricValue {
  readonly describedObjectName: string;
  readonly timestamp: bigint;
  readonly window: bigint;
  readonly value: bigint;
}

/** A metrics API responded, but not with the data gathering needs. Its message is the whole explanation. */
export class MetricsApiError extends Error {}

const CUSTOM_METRICS_GROUP = "custom.metrics.k8s.io";
const CUSTOM_METRICS_VERSIONS = ["v1beta2", "v1beta1"];
/** Window of a custom metric value that does not state one, in nanoseconds. */
const DEFAULT_CUSTOM_WINDOW = 60_000_000_000n;
const NANOS_PER_SECOND = 1_000_000_000n;

interface ApiGroup {
  readonly name: string;
  readonly preferredVersion: string | undefined;
  readonly versions: readonly string[];
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function items(body: unknown, listKind: string): Record<string, unknown>[] {
  const list = record(body)["items"];
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new MetricsApiError(`the ${listKind} response has no items list`);
  return list.map(record);
}

function milli(value: unknown): bigint {
  if (typeof value !== "string" && typeof value !== "number") throw new MetricsApiError(`invalid metric value ${JSON.stringify(value)}: expected a quantity`);
  return milliValue(parseQuantity(value));
}

function path(...segments: string[]): string {
  return segments.map(encodeURIComponent).join("/");
}

function withQuery(base: string, parameters: Record<string, string>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(parameters)) if (value !== "") query.set(name, value);
  const text = query.toString();
  return text === "" ? base : `${base}?${text}`;
}

/** Client of the metrics APIs for one agent; it caches the custom metrics version and the API group list. */
export class MetricsApi {
  private customVersion: string | undefined;
  private groups: readonly ApiGroup[] | undefined;

  constructor(private readonly client: MetricsApiClient) {}

  /** Lists PodMetrics of the pods that match `podSelector`. */
  async podMetrics(namespace: string, podSelector: string, signal: AbortSignal): Promise<PodUsage[]> {
    const body = await this.client.request({
      method: "GET",
      path: withQuery(`/apis/metrics.k8s.io/v1beta1/namespaces/${path(namespace)}/pods`, { labelSelector: podSelector }),
      purpose: { operation: `list pod metrics in namespace ${namespace}`, verb: "list", resource: "pods", group: "metrics.k8s.io", namespace },
      signal,
    });
    return items(body, "PodMetricsList").map((item) => {
      const window = item["window"];
      return {
        name: String(record(item["metadata"])["name"] ?? ""),
        timestamp: parseTimestamp(item["timestamp"]),
        window: typeof window === "string" && window !== "" ? parseDuration(window) : 0n,
        containers: (Array.isArray(item["containers"]) ? item["containers"] : []).map(record).map((container) => ({
          name: String(container["name"] ?? ""),
          usage: new Map(Object.entries(record(container["usage"])).map(([resource, quantity]) => [resource, milli(quantity)])),
        })),
      };
    });
  }

  /** Lists a custom metric of every pod that matches `podSelector`. */
  async podCustomMetrics(namespace: string, metricName: string, podSelector: string, metricSelector: string, signal: AbortSignal): Promise<MetricValue[]> {
    const version = await this.customMetricsVersion(signal);
    const body = await this.client.request({
      method: "GET",
      path: withQuery(`/apis/${CUSTOM_METRICS_GROUP}/${version}/namespaces/${path(namespace, "pods", "*", metricName)}`, {
        labelSelector: podSelector,
        metricLabelSelector: metricSelector,
      }),
      purpose: { operation: `get custom metric ${metricName} of pods in namespace ${namespace}`, verb: "get", resource: "pods", group: CUSTOM_METRICS_GROUP, namespace },
      signal,
    });
    return items(body, "MetricValueList").map(parseMetricValue);
  }

  /**
   * Gets a custom metric that describes one object. Kind Namespace in the core group reads the
   * metric of the namespace itself; other kinds are mapped to their resource through discovery.
   */
  async objectCustomMetric(
    namespace: string,
    object: { readonly apiVersion: string; readonly kind: string; readonly name: string },
    metricName: string,
    metricSelector: string,
    signal: AbortSignal,
  ): Promise<MetricValue[]> {
    const version = await this.customMetricsVersion(signal);
    const group = groupOf(object.apiVersion);
    let objectPath: string;
    let resource: string;
    if (object.kind === "Namespace" && group === "") {
      resource = "metrics";
      objectPath = path(namespace, "metrics", metricName);
    } else {
      resource = await this.resourceOf(group, object.kind, signal);
      objectPath = path(namespace, resource, object.name, metricName);
    }
    const body = await this.client.request({
      method: "GET",
      path: withQuery(`/apis/${CUSTOM_METRICS_GROUP}/${version}/namespaces/${objectPath}`, { metricLabelSelector: metricSelector }),
      purpose: { operation: `get custom metric ${metricName} of ${object.kind} ${namespace}/${object.name}`, verb: "get", resource, group: CUSTOM_METRICS_GROUP, namespace },
      signal,
    });
    return items(body, "MetricValueList").map(parseMetricValue);
  }

  /** Lists the values of an external metric that match `metricSelector`. */
  async externalMetrics(namespace: string, metricName: string, metricSelector: string, signal: AbortSignal): Promise<MetricValue[]> {
    const body = await this.client.request({
      method: "GET",
      path: withQuery(`/apis/external.metrics.k8s.io/v1beta1/namespaces/${path(namespace, metricName)}`, { labelSelector: metricSelector }),
      purpose: { operation: `list external metric ${metricName} in namespace ${namespace}`, verb: "list", resource: metricName, group: "external.metrics.k8s.io", namespace },
      signal,
    });
    return items(body, "ExternalMetricValueList").map(parseMetricValue);
  }

  /**
   * Returns the custom metrics API version to use: the group's preferred version when it is
   * v1beta2 or v1beta1, else the first of those it serves. A found version is kept for the life
   * of the process; a failed lookup is tried again on the next call.
   */
  private async customMetricsVersion(signal: AbortSignal): Promise<string> {
    if (this.customVersion !== undefined) return this.customVersion;
    const group = (await this.apiGroups(signal, true)).find((candidate) => candidate.name === CUSTOM_METRICS_GROUP);
    if (group === undefined) throw new MetricsApiError(`no custom metrics API (${CUSTOM_METRICS_GROUP}) registered`);
    const preferred = group.preferredVersion;
    const version =
      preferred !== undefined && CUSTOM_METRICS_VERSIONS.includes(preferred)
        ? preferred
        : group.versions.find((candidate) => CUSTOM_METRICS_VERSIONS.includes(candidate));
    if (version === undefined) throw new MetricsApiError("no known available metric versions found");
    this.customVersion = version;
    return version;
  }

  /** Maps a group and kind to `resource.group` (or `resource` for the core group) through the group's preferred version. */
  private async resourceOf(group: string, kind: string, signal: AbortSignal): Promise<string> {
    const qualified = group === "" ? kind : `${kind}.${group}`;
    try {
      let version = "v1";
      if (group !== "") {
        let found = (await this.apiGroups(signal, false)).find((candidate) => candidate.name === group);
        if (found === undefined) found = (await this.apiGroups(signal, true)).find((candidate) => candidate.name === group);
        if (found === undefined) throw new MetricsApiError(`API group ${group} is not served`);
        version = found.preferredVersion ?? found.versions[0] ?? "";
      }
      const info = await this.client.resolveResource(group === "" ? version : `${group}/${version}`, kind, { signal });
      return group === "" ? info.resource : `${info.resource}.${group}`;
    } catch (error) {
      throw new MetricsApiError(`unable to map kind ${qualified} to resource: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Returns the API groups of the server, from the cache unless `refresh` is set. */
  private async apiGroups(signal: AbortSignal, refresh: boolean): Promise<readonly ApiGroup[]> {
    if (this.groups !== undefined && !refresh) return this.groups;
    const body = await this.client.request({
      method: "GET",
      path: "/apis",
      purpose: { operation: "list the API groups of the cluster", verb: "get", resource: "/apis", group: "", nonResourceUrl: "/apis" },
      signal,
    });
    const groups = (Array.isArray(record(body)["groups"]) ? (record(body)["groups"] as unknown[]) : []).map(record).map((group) => ({
      name: String(group["name"] ?? ""),
      preferredVersion: versionOf(record(group["preferredVersion"])),
      versions: (Array.isArray(group["versions"]) ? group["versions"] : []).map((entry) => versionOf(record(entry)) ?? ""),
    }));
    this.groups = groups;
    return groups;
  }
}

function versionOf(entry: Record<string, unknown>): string | undefined {
  if (typeof entry["version"] === "string" && entry["version"] !== "") return entry["version"];
  const groupVersion = entry["groupVersion"];
  if (typeof groupVersion !== "string" || groupVersion === "") return undefined;
  return groupVersion.slice(groupVersion.indexOf("/") + 1);
}

/** Returns the group of an apiVersion, "" for the core group; as in Go, a malformed one also counts as core. */
function groupOf(apiVersion: string): string {
  const parts = apiVersion.split("/");
  return parts.length === 2 ? parts[0]! : "";
}

/** Reads a custom or external metric value in the v1beta2 shape (`windowSeconds`) or the v1beta1 shape (`window`). */
function parseMetricValue(item: Record<string, unknown>): MetricValue {
  const seconds = item["windowSeconds"] ?? item["window"];
  return {
    describedObjectName: String(record(item["describedObject"])["name"] ?? ""),
    timestamp: parseTimestamp(item["timestamp"]),
    window: typeof seconds === "number" && Number.isInteger(seconds) ? BigInt(seconds) * NANOS_PER_SECOND : DEFAULT_CUSTOM_WINDOW,
    value: milli(item["value"]),
  };
}
