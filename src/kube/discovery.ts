/**
 * API discovery: maps an `apiVersion` and `kind` to the resource name used in URLs, with a cache
 * per group version that is fetched again when a kind is missing from it.
 */

import * as v from "valibot";
import { KubeApiError } from "./errors.ts";
import { sendRequest, type TransportSettings } from "./http.ts";

/** A resource as discovery describes it. */
export interface ResourceInfo {
  /** API group, "" for the core group. */
  group: string;
  version: string;
  /** Plural resource name used in URLs, such as `deployments` or `logstashes`. */
  resource: string;
  kind: string;
  namespaced: boolean;
  /** Whether the resource serves a `/scale` subresource. */
  hasScale: boolean;
}

const ApiResourceListSchema = v.looseObject({
  resources: v.array(
    v.looseObject({
      name: v.string(),
      kind: v.string(),
      namespaced: v.boolean(),
    }),
  ),
});

type ApiResource = v.InferOutput<typeof ApiResourceListSchema>["resources"][number];

/** Splits `apps/v1` into group `apps` and version `v1`. A bare `v1` is the core group. */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf("/");
  if (slash === -1) return { group: "", version: apiVersion };
  return { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** Returns the discovery path of a group version: `/api/v1` for the core group, else `/apis/GROUP/VERSION`. */
export function groupVersionPath(group: string, version: string): string {
  return group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
}

/** Names a kind for messages as `group/Kind`, or only `Kind` for the core group. */
export function qualifiedKind(group: string, kind: string): string {
  return group === "" ? kind : `${group}/${kind}`;
}

/** Caches discovery documents per group version. */
export class Discovery {
  private readonly settings: TransportSettings;
  private readonly cache = new Map<string, Promise<readonly ApiResource[]>>();

  constructor(settings: TransportSettings) {
    this.settings = settings;
  }

  /**
   * Resolves a kind to its resource. A kind missing from the cached list makes one fresh discovery
   * request, so resources that were installed after the first lookup are found.
   */
  async resolve(apiVersion: string, kind: string, signal?: AbortSignal): Promise<ResourceInfo> {
    const { group, version } = parseApiVersion(apiVersion);
    if (version === "" || group.includes("/") || version.includes("/")) {
      throw new KubeApiError(`invalid apiVersion "${apiVersion}": expected "v1" or "GROUP/VERSION"`, {
        failure: "request",
        operation: `resolve ${kind} ${apiVersion}`,
      });
    }

    const cached = this.cache.get(apiVersion);
    if (cached !== undefined) {
      const found = findResource(await this.settle(apiVersion, cached), group, version, kind);
      if (found !== undefined) return found;
    }

    const fresh = this.fetch(group, version, signal);
    this.cache.set(apiVersion, fresh);
    const resources = await this.settle(apiVersion, fresh);
    const found = findResource(resources, group, version, kind);
    if (found !== undefined) return found;

    throw new KubeApiError(
      `kind ${kind} is not served in API group version ${apiVersion}` +
        ` (it serves ${describeKinds(resources)}); check the kind and apiVersion of the target`,
      { failure: "request", operation: `resolve ${kind} ${apiVersion}`, status: undefined, reason: "NotFound" },
    );
  }

  /** Drops a failed fetch from the cache so the next call tries again. */
  private async settle(key: string, pending: Promise<readonly ApiResource[]>): Promise<readonly ApiResource[]> {
    try {
      return await pending;
    } catch (error) {
      if (this.cache.get(key) === pending) this.cache.delete(key);
      throw error;
    }
  }

  private async fetch(group: string, version: string, signal?: AbortSignal): Promise<readonly ApiResource[]> {
    const apiVersion = group === "" ? version : `${group}/${version}`;
    const operation = `discover the resources of API group version ${apiVersion}`;
    const path = groupVersionPath(group, version);
    let body: unknown;
    try {
      body = await sendRequest(this.settings, {
        method: "GET",
        path,
        purpose: { operation, verb: "get", resource: path, group, nonResourceUrl: path },
        signal,
      });
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) {
        throw new KubeApiError(
          `API group version ${apiVersion} is not served by the cluster; check the apiVersion of the target ` +
            "and that its CustomResourceDefinition is installed",
          { failure: "status", operation, status: 404, reason: "NotFound", apiMessage: error.apiMessage, cause: error },
        );
      }
      throw error;
    }
    const parsed = v.safeParse(ApiResourceListSchema, body);
    if (!parsed.success) {
      throw new KubeApiError(`failed to ${operation}: the response is not an APIResourceList`, {
        failure: "invalid-response",
        operation,
        status: 200,
      });
    }
    return parsed.output.resources;
  }
}

function findResource(
  resources: readonly ApiResource[],
  group: string,
  version: string,
  kind: string,
): ResourceInfo | undefined {
  // Subresources such as `deployments/scale` have their own kind (`Scale`), so only top-level names count.
  const entry = resources.find((candidate) => candidate.kind === kind && !candidate.name.includes("/"));
  if (entry === undefined) return undefined;
  const hasScale = resources.some((candidate) => candidate.name === `${entry.name}/scale`);
  return { group, version, resource: entry.name, kind, namespaced: entry.namespaced, hasScale };
}

function describeKinds(resources: readonly ApiResource[]): string {
  const kinds = [...new Set(resources.filter((r) => !r.name.includes("/")).map((r) => r.kind))];
  if (kinds.length === 0) return "no kinds";
  const listed = kinds.slice(0, 10).join(", ");
  return kinds.length > 10 ? `${listed} and ${kinds.length - 10} more` : listed;
}
