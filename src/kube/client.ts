/**
 * A thin typed client for the few Kubernetes API calls the agent makes: read a target and its
 * `/scale` subresource, patch the replica count, and list pods by selector.
 */

import * as v from "valibot";
import type { KubeConnection } from "./credentials.ts";
import { Discovery, groupVersionPath, qualifiedKind, type ResourceInfo } from "./discovery.ts";
import { KubeApiError, expectObject, invalidResponse } from "./errors.ts";
import { sendRequest, type KubeRequest, type RequestPurpose, type TransportSettings } from "./http.ts";

/** Names one object in the cluster. `namespace` is ignored for cluster-scoped kinds. */
export type ObjectRef = { apiVersion: string; kind: string; name: string; namespace: string };

/** A Kubernetes object as the API returned it, with its key order preserved. */
export type KubeObject = Record<string, unknown>;

/** The parts of a `/scale` subresource the agent uses. */
export interface Scale {
  /** `spec.replicas`, 0 when absent. */
  replicas: number;
  /** `status.replicas`, 0 when absent. */
  statusReplicas: number;
  /** `status.selector` as a label-selector string, "" when absent. */
  selector: string;
  /** The Scale object as the API returned it. */
  raw: KubeObject;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface KubeClientOptions {
  /** Timeout of each request, covering connect, response headers and body, in milliseconds. Default 10000. */
  timeoutMs?: number;
  /** Value of the `fieldManager` query parameter on patches. Default `cpa-agent`. */
  fieldManager?: string;
  /** `User-Agent` header. Default `cpa-agent`. */
  userAgent?: string;
  /** Page size of pod lists. Default 500. */
  pageSize?: number;
}

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_FIELD_MANAGER = "cpa-agent";
const MAX_REPLICAS = 2_147_483_647;

const ScaleSchema = v.looseObject({
  spec: v.optional(v.looseObject({ replicas: v.optional(v.pipe(v.number(), v.integer())) })),
  status: v.optional(
    v.looseObject({
      replicas: v.optional(v.pipe(v.number(), v.integer())),
      selector: v.optional(v.string()),
    }),
  ),
});

const ListSchema = v.looseObject({
  metadata: v.optional(v.looseObject({ continue: v.optional(v.string()) })),
  items: v.nullish(v.array(v.looseObject({}))),
});

/** Client for one API server. Create it once and reuse it, so discovery stays cached. */
export class KubeClient {
  readonly connection: KubeConnection;
  private readonly settings: TransportSettings;
  private readonly discovery: Discovery;
  private readonly fieldManager: string;
  private readonly pageSize: number;

  constructor(connection: KubeConnection, options: KubeClientOptions = {}) {
    this.connection = connection;
    this.settings = {
      connection,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      userAgent: options.userAgent ?? "cpa-agent",
    };
    this.discovery = new Discovery(this.settings);
    this.fieldManager = options.fieldManager ?? DEFAULT_FIELD_MANAGER;
    this.pageSize = options.pageSize ?? 500;
  }

  /** Resolves a kind to its plural resource name, scope and `/scale` support through API discovery. */
  resolveResource(apiVersion: string, kind: string, options: CallOptions = {}): Promise<ResourceInfo> {
    return this.discovery.resolve(apiVersion, kind, options.signal);
  }

  /** Reads an object, unstructured, exactly as the API returned it. */
  /**
   * Sends any request to the API server with this client's credentials and timeout, and returns the
   * parsed JSON body of a 2xx response. Other responses throw KubeApiError worded from `purpose`.
   */
  request(request: KubeRequest): Promise<unknown> {
    return sendRequest(this.settings, request);
  }

  async getObject(ref: ObjectRef, options: CallOptions = {}): Promise<KubeObject> {
    const info = await this.resolveResource(ref.apiVersion, ref.kind, options);
    const purpose = this.purpose(`get ${describeRef(ref, info)}`, "get", info, "", ref);
    const body = await sendRequest(this.settings, {
      method: "GET",
      path: objectPath(info, ref),
      purpose,
      signal: options.signal,
    });
    return expectObject(body, purpose);
  }

  /** Reads the `/scale` subresource. Throws before any request when the kind has none. */
  async getScale(ref: ObjectRef, options: CallOptions = {}): Promise<Scale> {
    const info = await this.scalableResource(ref, "get scale for", options);
    const purpose = this.purpose(`get scale for ${describeRef(ref, info)}`, "get", info, "/scale", ref);
    const body = await sendRequest(this.settings, {
      method: "GET",
      path: `${objectPath(info, ref)}/scale`,
      purpose,
      signal: options.signal,
    });
    return parseScale(body, purpose);
  }

  /**
   * Sets `spec.replicas` through the `/scale` subresource with a JSON merge patch. It carries no
   * resourceVersion precondition, and merge patches work for built-in kinds and custom resources.
   */
  async patchScale(ref: ObjectRef, replicas: number, options: CallOptions = {}): Promise<Scale> {
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > MAX_REPLICAS) {
      throw new KubeApiError(
        `failed to patch scale for ${ref.kind} ${ref.namespace}/${ref.name}: replicas must be an integer from 0 to ${MAX_REPLICAS}, received ${replicas}`,
        { failure: "request", operation: `patch scale for ${ref.kind} ${ref.namespace}/${ref.name}` },
      );
    }
    const info = await this.scalableResource(ref, "patch scale for", options);
    const purpose = this.purpose(`patch scale for ${describeRef(ref, info)}`, "patch", info, "/scale", ref);
    const query = new URLSearchParams({ fieldManager: this.fieldManager });
    const body = await sendRequest(this.settings, {
      method: "PATCH",
      path: `${objectPath(info, ref)}/scale?${query}`,
      body: JSON.stringify({ spec: { replicas } }),
      contentType: "application/merge-patch+json",
      purpose,
      signal: options.signal,
    });
    return parseScale(body, purpose);
  }

  /**
   * Lists the pods in a namespace that match a label selector, following `continue` tokens across
   * pages. Items come back as the API returned them, and list items carry no `kind` or `apiVersion`.
   * An expired continue token (410) restarts the list once from the beginning.
   */
  async listPods(namespace: string, labelSelector: string, options: CallOptions = {}): Promise<KubeObject[]> {
    const operation = `list pods in namespace ${namespace} with selector ${labelSelector === "" ? '""' : labelSelector}`;
    const purpose: RequestPurpose = { operation, verb: "list", resource: "pods", group: "", namespace };
    const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;

    for (let attempt = 1; ; attempt++) {
      try {
        return await this.listPages(base, labelSelector, purpose, options.signal);
      } catch (error) {
        if (attempt === 1 && error instanceof KubeApiError && error.status === 410) continue;
        throw error;
      }
    }
  }

  private async listPages(
    base: string,
    labelSelector: string,
    purpose: RequestPurpose,
    signal: AbortSignal | undefined,
  ): Promise<KubeObject[]> {
    const items: KubeObject[] = [];
    let continueToken: string | undefined;
    do {
      const query = new URLSearchParams({ limit: String(this.pageSize) });
      if (labelSelector !== "") query.set("labelSelector", labelSelector);
      if (continueToken !== undefined) query.set("continue", continueToken);
      const body = await sendRequest(this.settings, { method: "GET", path: `${base}?${query}`, purpose, signal });
      const page = v.safeParse(ListSchema, body);
      if (!page.success) throw invalidResponse(purpose, "the response is not a list");
      items.push(...(page.output.items ?? []));
      continueToken = page.output.metadata?.continue || undefined;
    } while (continueToken !== undefined);
    return items;
  }

  private async scalableResource(ref: ObjectRef, verbPhrase: string, options: CallOptions): Promise<ResourceInfo> {
    const info = await this.resolveResource(ref.apiVersion, ref.kind, options);
    if (!info.hasScale) {
      const operation = `${verbPhrase} ${describeRef(ref, info)}`;
      throw new KubeApiError(
        `failed to ${operation}: ${qualifiedKind(info.group, info.kind)} does not expose a /scale subresource`,
        { failure: "request", operation },
      );
    }
    return info;
  }

  private purpose(
    operation: string,
    verb: string,
    info: ResourceInfo,
    subresource: string,
    ref: ObjectRef,
  ): RequestPurpose {
    const purpose: RequestPurpose = { operation, verb, resource: `${info.resource}${subresource}`, group: info.group };
    if (info.namespaced) purpose.namespace = ref.namespace;
    return purpose;
  }
}

/** Names an object for messages: `Deployment default/web`, or `Node web` for cluster-scoped kinds. */
function describeRef(ref: ObjectRef, info: ResourceInfo): string {
  return info.namespaced ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;
}

function objectPath(info: ResourceInfo, ref: ObjectRef): string {
  const base = groupVersionPath(info.group, info.version);
  const name = encodeURIComponent(ref.name);
  if (!info.namespaced) return `${base}/${info.resource}/${name}`;
  return `${base}/namespaces/${encodeURIComponent(ref.namespace)}/${info.resource}/${name}`;
}


function parseScale(body: unknown, purpose: RequestPurpose): Scale {
  const raw = expectObject(body, purpose);
  const parsed = v.safeParse(ScaleSchema, raw);
  if (!parsed.success) {
    throw invalidResponse(purpose, `the response is not a Scale object: ${v.summarize(parsed.issues)}`);
  }
  return {
    replicas: parsed.output.spec?.replicas ?? 0,
    statusReplicas: parsed.output.status?.replicas ?? 0,
    selector: parsed.output.status?.selector ?? "",
    raw,
  };
}
