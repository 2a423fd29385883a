/**
 * Typed create, read, update, list and delete calls for the object kinds the operator manages,
 * on top of `KubeClient.request`. Objects stay unstructured; `metadataOf` reads the metadata fields
 * that controllers compare.
 */

import * as v from "valibot";
import type { KubeClient, KubeObject } from "./client.ts";
import { KubeApiError, expectObject, invalidResponse, isNotFound } from "./errors.ts";
import type { RequestPurpose } from "./http.ts";

/** One resource type of the API: where it is served and how messages name it. */
export interface ResourceType {
  /** API group, "" for the core group. */
  group: string;
  version: string;
  /** Plural resource name in URLs and RBAC rules, such as `rolebindings`. */
  resource: string;
  kind: string;
  /** Lowercase name in messages, such as `role binding`. */
  noun: string;
}

export const PODS: ResourceType = { group: "", version: "v1", resource: "pods", kind: "Pod", noun: "pod" };
export const SERVICE_ACCOUNTS: ResourceType = {
  group: "",
  version: "v1",
  resource: "serviceaccounts",
  kind: "ServiceAccount",
  noun: "service account",
};
export const ROLES: ResourceType = {
  group: "rbac.authorization.k8s.io",
  version: "v1",
  resource: "roles",
  kind: "Role",
  noun: "role",
};
export const ROLE_BINDINGS: ResourceType = {
  group: "rbac.authorization.k8s.io",
  version: "v1",
  resource: "rolebindings",
  kind: "RoleBinding",
  noun: "role binding",
};

/** Returns the collection URL path in one namespace, or across all namespaces when `namespace` is undefined. */
export function collectionPath(type: ResourceType, namespace: string | undefined): string {
  const base = type.group === "" ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
  if (namespace === undefined) return `${base}/${type.resource}`;
  return `${base}/namespaces/${encodeURIComponent(namespace)}/${type.resource}`;
}

/** Returns the URL path of one namespaced object. */
export function objectPath(type: ResourceType, namespace: string, name: string): string {
  return `${collectionPath(type, namespace)}/${encodeURIComponent(name)}`;
}

/** An entry of `metadata.ownerReferences`. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The metadata fields that controllers read, with defaults for absent ones. */
export interface ObjectMetadata {
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ownerReferences: OwnerReference[];
  /** Set once a delete request was accepted and finalizers or grace periods still hold the object. */
  deletionTimestamp: string | undefined;
}

const StringMap = v.record(v.string(), v.string());
const MetadataSchema = v.looseObject({
  name: v.optional(v.string(), ""),
  namespace: v.optional(v.string(), ""),
  uid: v.optional(v.string(), ""),
  resourceVersion: v.optional(v.string(), ""),
  labels: v.optional(v.nullable(StringMap)),
  annotations: v.optional(v.nullable(StringMap)),
  ownerReferences: v.optional(
    v.nullable(
      v.array(
        v.looseObject({
          apiVersion: v.string(),
          kind: v.string(),
          name: v.string(),
          uid: v.string(),
          controller: v.optional(v.boolean()),
          blockOwnerDeletion: v.optional(v.boolean()),
        }),
      ),
    ),
  ),
  deletionTimestamp: v.optional(v.nullable(v.string())),
});

/** Reads the metadata of an object. Fields of the wrong type read as absent. */
export function metadataOf(object: KubeObject): ObjectMetadata {
  const parsed = v.safeParse(MetadataSchema, object["metadata"] ?? {});
  const meta = parsed.success ? parsed.output : v.parse(MetadataSchema, {});
  return {
    name: meta.name,
    namespace: meta.namespace,
    uid: meta.uid,
    resourceVersion: meta.resourceVersion,
    labels: { ...meta.labels },
    annotations: { ...meta.annotations },
    ownerReferences: (meta.ownerReferences ?? []).map((ref) => ({ ...ref })),
    deletionTimestamp: meta.deletionTimestamp ?? undefined,
  };
}

/** Items of a list together with the resourceVersion to start a watch from. */
export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
}

export interface ListOptions {
  labelSelector?: string;
  signal?: AbortSignal;
}

export interface DeleteOptions {
  /** Deletes only the object with this uid; a newer object of the same name gets a 409 Conflict. */
  uid?: string;
  signal?: AbortSignal;
}

const ListSchema = v.looseObject({
  metadata: v.optional(
    v.looseObject({ continue: v.optional(v.string()), resourceVersion: v.optional(v.string()) }),
  ),
  items: v.nullish(v.array(v.looseObject({}))),
});

/** Number of items requested per page of a list. */
const PAGE_SIZE = 500;

/** Calls for namespaced objects of any `ResourceType`, with errors worded as `failed to create pod default/x: ...`. */
export class ResourceClient {
  constructor(private readonly client: KubeClient) {}

  /** Reads an object. Returns undefined when it does not exist. */
  async get(type: ResourceType, namespace: string, name: string, signal?: AbortSignal): Promise<KubeObject | undefined> {
    const purpose = this.purpose(type, "get", namespace, `get ${type.noun} ${namespace}/${name}`);
    try {
      const body = await this.client.request({ method: "GET", path: objectPath(type, namespace, name), purpose, signal });
      return expectObject(body, purpose);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Creates an object in `namespace` and returns it as stored. */
  async create(type: ResourceType, namespace: string, object: KubeObject, signal?: AbortSignal): Promise<KubeObject> {
    const name = metadataOf(object).name;
    const purpose = this.purpose(type, "create", namespace, `create ${type.noun} ${namespace}/${name}`);
    const body = await this.client.request({
      method: "POST",
      path: collectionPath(type, namespace),
      body: JSON.stringify(object),
      contentType: "application/json",
      purpose,
      signal,
    });
    return expectObject(body, purpose);
  }

  /**
   * Replaces an object (PUT). Pass the `metadata.resourceVersion` that was read, so a concurrent
   * change fails with 409 Conflict instead of being overwritten.
   */
  async replace(type: ResourceType, object: KubeObject, signal?: AbortSignal): Promise<KubeObject> {
    const { name, namespace } = metadataOf(object);
    const purpose = this.purpose(type, "update", namespace, `update ${type.noun} ${namespace}/${name}`);
    const body = await this.client.request({
      method: "PUT",
      path: objectPath(type, namespace, name),
      body: JSON.stringify(object),
      contentType: "application/json",
      purpose,
      signal,
    });
    return expectObject(body, purpose);
  }

  /** Applies a JSON merge patch (RFC 7386) to an object and returns the result. */
  async mergePatch(
    type: ResourceType,
    namespace: string,
    name: string,
    patch: KubeObject,
    signal?: AbortSignal,
  ): Promise<KubeObject> {
    const purpose = this.purpose(type, "patch", namespace, `patch ${type.noun} ${namespace}/${name}`);
    const body = await this.client.request({
      method: "PATCH",
      path: objectPath(type, namespace, name),
      body: JSON.stringify(patch),
      contentType: "application/merge-patch+json",
      purpose,
      signal,
    });
    return expectObject(body, purpose);
  }

  /** Deletes an object in the background. Returns false when it was already gone. */
  async delete(type: ResourceType, namespace: string, name: string, options: DeleteOptions = {}): Promise<boolean> {
    const purpose = this.purpose(type, "delete", namespace, `delete ${type.noun} ${namespace}/${name}`);
    const deleteOptions: KubeObject = { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: "Background" };
    if (options.uid !== undefined) deleteOptions["preconditions"] = { uid: options.uid };
    try {
      await this.client.request({
        method: "DELETE",
        path: objectPath(type, namespace, name),
        body: JSON.stringify(deleteOptions),
        contentType: "application/json",
        purpose,
        signal: options.signal,
      });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /**
   * Lists objects in one namespace, or in all when `namespace` is undefined, following `continue`
   * tokens. An expired continue token (410 Gone) restarts the list once from the beginning.
   */
  async list(type: ResourceType, namespace: string | undefined, options: ListOptions = {}): Promise<ListResult> {
    const where = namespace === undefined ? "all namespaces" : `namespace ${namespace}`;
    const selector = options.labelSelector ? ` with selector ${options.labelSelector}` : "";
    const purpose: RequestPurpose = {
      operation: `list ${type.resource} in ${where}${selector}`,
      verb: "list",
      resource: type.resource,
      group: type.group,
    };
    if (namespace !== undefined) purpose.namespace = namespace;

    for (let attempt = 1; ; attempt++) {
      try {
        return await this.listPages(collectionPath(type, namespace), purpose, options);
      } catch (error) {
        if (attempt === 1 && error instanceof KubeApiError && error.status === 410) continue;
        throw error;
      }
    }
  }

  private async listPages(path: string, purpose: RequestPurpose, options: ListOptions): Promise<ListResult> {
    const items: KubeObject[] = [];
    let resourceVersion = "";
    let continueToken: string | undefined;
    do {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (options.labelSelector) query.set("labelSelector", options.labelSelector);
      if (continueToken !== undefined) query.set("continue", continueToken);
      const body = await this.client.request({ method: "GET", path: `${path}?${query}`, purpose, signal: options.signal });
      const page = v.safeParse(ListSchema, body);
      if (!page.success) throw invalidResponse(purpose, "the response is not a list");
      items.push(...(page.output.items ?? []));
      // Every page of one list is read at the same resourceVersion.
      resourceVersion = page.output.metadata?.resourceVersion ?? resourceVersion;
      continueToken = page.output.metadata?.continue || undefined;
    } while (continueToken !== undefined);
    return { items, resourceVersion };
  }

  private purpose(type: ResourceType, verb: string, namespace: string, operation: string): RequestPurpose {
    return { operation, verb, resource: type.resource, group: type.group, namespace };
  }
}

