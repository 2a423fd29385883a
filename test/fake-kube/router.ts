/**
 * Request routing of the fake API server: discovery, objects, lists and the `/scale` subresource.
 * Authentication and fault injection happen before a request reaches this file.
 */

import { getPath, setPath, type KindInfo, type KindRegistry } from "./kinds.ts";
import { applyJsonPatch, applyMergePatch, PatchError } from "./patch.ts";
import { SelectorError } from "./selector.ts";
import { ContinueTokenError, type ObjectStore, type StoredObject } from "./store.ts";
import {
  conflict,
  forbidden,
  notFound,
  pageNotFound,
  qualifiedResource,
  statusResponse,
  type FakeResponse,
  type RequestAttributes,
} from "./status.ts";

/** A request after authentication. */
export interface RoutedRequest {
  method: string;
  url: URL;
  /** Media type without parameters, such as `application/merge-patch+json`. */
  contentType: string;
  body: string;
  user: string;
}

export interface RouterContext {
  kinds: KindRegistry;
  store: ObjectStore;
  /** Decides whether a user may make a request; discovery is always allowed. */
  authorize: (attributes: RequestAttributes) => boolean;
}

/** A resource path split into its parts. */
interface ResourcePath {
  kind: KindInfo;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/** Routes one request to its handler. */
export function route(context: RouterContext, request: RoutedRequest): FakeResponse {
  const segments = request.url.pathname.split("/").filter((part) => part !== "");
  const discovery = routeDiscovery(context, segments);
  if (discovery !== undefined) {
    return request.method === "GET" ? discovery : statusResponse(405, `the server does not allow this method on the requested resource`);
  }

  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === "api" && segments.length >= 3) {
    group = "";
    version = segments[1] ?? "";
    rest = segments.slice(2);
  } else if (segments[0] === "apis" && segments.length >= 4) {
    group = segments[1] ?? "";
    version = segments[2] ?? "";
    rest = segments.slice(3);
  } else {
    return pageNotFound();
  }
  if (context.kinds.resourceList(group, version) === undefined) return pageNotFound();

  const parsed = parseResourcePath(context.kinds, group, version, rest);
  if (parsed === undefined) return statusResponse(404, "the server could not find the requested resource");

  const verb = verbOf(request.method, parsed);
  const attributes: RequestAttributes = {
    user: request.user,
    verb,
    group: parsed.kind.group,
    resource: parsed.subresource === undefined ? parsed.kind.plural : `${parsed.kind.plural}/${parsed.subresource}`,
  };
  if (parsed.namespace !== undefined) attributes.namespace = parsed.namespace;
  if (parsed.name !== undefined) attributes.name = parsed.name;
  if (!context.authorize(attributes)) return forbidden(attributes, qualifiedResource(parsed.kind));

  if (parsed.name === undefined) {
    return request.method === "GET" ? listObjects(context, parsed, request.url) : methodNotAllowed();
  }
  if (parsed.subresource === undefined) {
    return request.method === "GET" ? getObject(context, parsed) : methodNotAllowed();
  }
  if (parsed.subresource !== "scale" || parsed.kind.scale === undefined) {
    return statusResponse(404, "the server could not find the requested resource");
  }
  if (request.method === "GET") return getScale(context, parsed);
  if (request.method === "PATCH") return patchScale(context, parsed, request);
  return methodNotAllowed();
}

function methodNotAllowed(): FakeResponse {
  return statusResponse(405, "the server does not allow this method on the requested resource");
}

function verbOf(method: string, path: ResourcePath): string {
  if (method === "GET") return path.name === undefined ? "list" : "get";
  return method.toLowerCase();
}

function routeDiscovery(context: RouterContext, segments: string[]): FakeResponse | undefined {
  const path = segments.join("/");
  if (path === "version") {
    return { status: 200, body: { major: "1", minor: "36", gitVersion: "v1.36.0-fake", platform: "linux/amd64" } };
  }
  if (path === "api") {
    return { status: 200, body: { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1:443" }] } };
  }
  if (path === "apis") return { status: 200, body: context.kinds.groupList() };
  let list: unknown;
  if (segments[0] === "api" && segments.length === 2) list = context.kinds.resourceList("", segments[1] ?? "");
  else if (segments[0] === "apis" && segments.length === 3) list = context.kinds.resourceList(segments[1] ?? "", segments[2] ?? "");
  else return undefined;
  return list === undefined ? pageNotFound() : { status: 200, body: list };
}

function parseResourcePath(kinds: KindRegistry, group: string, version: string, rest: string[]): ResourcePath | undefined {
  let namespace: string | undefined;
  let parts = rest;
  if (parts[0] === "namespaces" && parts.length >= 3) {
    namespace = parts[1];
    parts = parts.slice(2);
  }
  const [plural, name, subresource, ...extra] = parts;
  if (plural === undefined || extra.length > 0) return undefined;
  const kind = kinds.byPlural(group, version, plural);
  if (kind === undefined) return undefined;
  if (!kind.namespaced && namespace !== undefined) return undefined;
  // A namespaced object needs its namespace; only lists may span all namespaces.
  if (kind.namespaced && namespace === undefined && name !== undefined) return undefined;
  const path: ResourcePath = { kind };
  if (namespace !== undefined) path.namespace = namespace;
  if (name !== undefined) path.name = name;
  if (subresource !== undefined) path.subresource = subresource;
  return path;
}

function listObjects(context: RouterContext, path: ResourcePath, url: URL): FakeResponse {
  const limitText = url.searchParams.get("limit");
  const limit = limitText === null ? undefined : Number(limitText);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
    return statusResponse(400, `invalid limit ${JSON.stringify(limitText)}`);
  }
  const options: Parameters<ObjectStore["list"]>[1] = {};
  if (path.namespace !== undefined) options.namespace = path.namespace;
  const selector = url.searchParams.get("labelSelector");
  if (selector !== null) options.labelSelector = selector;
  if (limit !== undefined) options.limit = limit;
  const token = url.searchParams.get("continue");
  if (token !== null && token !== "") options.continueToken = token;

  let page: ReturnType<ObjectStore["list"]>;
  try {
    page = context.store.list(path.kind, options);
  } catch (error) {
    if (error instanceof SelectorError || error instanceof ContinueTokenError) return statusResponse(400, error.message);
    throw error;
  }
  const metadata: Record<string, unknown> = { resourceVersion: context.store.resourceVersion };
  if (page.continueToken !== undefined) metadata.continue = page.continueToken;
  if (page.remainingItemCount !== undefined) metadata.remainingItemCount = page.remainingItemCount;
  // The apiserver leaves apiVersion and kind out of list items.
  const items = page.items.map(({ apiVersion: _apiVersion, kind: _kind, ...rest }) => rest);
  const apiVersion = path.kind.group === "" ? path.kind.version : `${path.kind.group}/${path.kind.version}`;
  return { status: 200, body: { kind: `${path.kind.kind}List`, apiVersion, metadata, items } };
}

function findTarget(context: RouterContext, path: ResourcePath): StoredObject | undefined {
  return context.store.find(path.kind, path.namespace ?? "", path.name ?? "");
}

function getObject(context: RouterContext, path: ResourcePath): FakeResponse {
  const target = findTarget(context, path);
  return target === undefined ? notFound(path.kind, path.name ?? "") : { status: 200, body: target };
}

/** Builds the autoscaling/v1 Scale of an object; `spec.replicas` is left out when 0, as in the apiserver's JSON. */
function scaleOf(kind: KindInfo, object: StoredObject): Record<string, unknown> {
  const mapping = kind.scale;
  if (mapping === undefined) throw new Error(`${kind.kind} has no scale subresource`);
  const metadata = (object.metadata ?? {}) as Record<string, unknown>;
  const replicas = getPath(object, mapping.replicasPath);
  const statusReplicas = getPath(object, mapping.statusReplicasPath);
  const selector = mapping.selector(object);
  const scaleMetadata: Record<string, unknown> = { name: metadata.name };
  if (metadata.namespace !== undefined) scaleMetadata.namespace = metadata.namespace;
  Object.assign(scaleMetadata, {
    uid: metadata.uid,
    resourceVersion: metadata.resourceVersion,
    creationTimestamp: metadata.creationTimestamp,
  });
  const status: Record<string, unknown> = { replicas: typeof statusReplicas === "number" ? statusReplicas : 0 };
  if (selector !== "") status.selector = selector;
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: scaleMetadata,
    spec: typeof replicas === "number" && replicas !== 0 ? { replicas } : {},
    status,
  };
}

function getScale(context: RouterContext, path: ResourcePath): FakeResponse {
  const target = findTarget(context, path);
  return target === undefined ? notFound(path.kind, path.name ?? "") : { status: 200, body: scaleOf(path.kind, target) };
}

function patchScale(context: RouterContext, path: ResourcePath, request: RoutedRequest): FakeResponse {
  const target = findTarget(context, path);
  if (target === undefined) return notFound(path.kind, path.name ?? "");

  // Strategic merge patch is accepted only for built-in kinds, as in the apiserver. Server-side
  // apply (`application/apply-patch+yaml`) is not implemented by the fake and gets 415 too.
  const type = request.contentType;
  const mergeLike = type === "application/merge-patch+json" || (type === "application/strategic-merge-patch+json" && path.kind.builtin);
  if (!mergeLike && type !== "application/json-patch+json") {
    // These are the messages kube-apiserver 1.36 sends for built-in kinds and for custom resources.
    const message = path.kind.builtin
      ? "415: Unsupported Media Type"
      : "the body of the request was in an unknown format - accepted media types include: " +
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml";
    return statusResponse(415, message, "UnsupportedMediaType");
  }

  let patch: unknown;
  try {
    patch = JSON.parse(request.body);
  } catch (error) {
    return statusResponse(400, `error decoding patch: ${(error as Error).message}`);
  }
  const before = scaleOf(path.kind, target);
  let after: unknown;
  try {
    after = mergeLike ? applyMergePatch(before, patch) : applyJsonPatch(before, patch);
  } catch (error) {
    if (error instanceof PatchError) return statusResponse(422, `the patch could not be applied: ${error.message}`);
    throw error;
  }

  const name = path.name ?? "";
  const requestedVersion = getPath(after, ".metadata.resourceVersion");
  if (requestedVersion !== undefined && requestedVersion !== getPath(before, ".metadata.resourceVersion")) {
    return conflict(path.kind, name);
  }
  const replicas = getPath(after, ".spec.replicas") ?? 0;
  if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
    return statusResponse(
      422,
      `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
      "Invalid",
    );
  }

  const mapping = path.kind.scale;
  if (mapping === undefined) throw new Error("unreachable: patchScale on a kind without scale");
  const changed = getPath(target, mapping.replicasPath) !== replicas;
  setPath(target, mapping.replicasPath, replicas);
  if (changed) context.store.touch(target, true);
  return { status: 200, body: scaleOf(path.kind, target) };
}
