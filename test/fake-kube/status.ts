/**
 * API `Status` bodies in the form the apiserver sends them with error responses.
 */

import type { KindInfo } from "./kinds.ts";

/** A response the router produced, before it is written to the socket. */
export interface FakeResponse {
  status: number;
  /** Sent as JSON, unless `text` is set. */
  body: unknown;
  /** Plain-text body sent in place of `body`. */
  text?: string;
}

/** The plain-text 404 the apiserver sends for paths outside every API group version. */
export function pageNotFound(): FakeResponse {
  return { status: 404, body: undefined, text: "404 page not found\n" };
}

const REASONS: Readonly<Record<number, string>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** Builds a failure Status response. The reason defaults to the one the apiserver uses for the code. */
export function statusResponse(code: number, message: string, reason?: string, details?: unknown): FakeResponse {
  const body: Record<string, unknown> = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason: reason ?? REASONS[code] ?? "",
  };
  if (details !== undefined) body.details = details;
  body.code = code;
  return { status: code, body };
}

/** Names a resource the way apiserver messages do: `deployments.apps`, or `pods` in the core group. */
export function qualifiedResource(kind: KindInfo): string {
  return kind.group === "" ? kind.plural : `${kind.plural}.${kind.group}`;
}

export function notFound(kind: KindInfo, name: string): FakeResponse {
  return statusResponse(404, `${qualifiedResource(kind)} "${name}" not found`, "NotFound", {
    name,
    group: kind.group,
    kind: kind.plural,
  });
}

export function conflict(kind: KindInfo, name: string): FakeResponse {
  return statusResponse(
    409,
    `Operation cannot be fulfilled on ${qualifiedResource(kind)} "${name}": the object has been modified; ` +
      "please apply your changes to the latest version and try again",
    "Conflict",
    { name, group: kind.group, kind: kind.plural },
  );
}

/** The request attributes an authorizer decides on, as in Kubernetes RBAC. */
export interface RequestAttributes {
  user: string;
  verb: string;
  group: string;
  /** Resource with subresource, such as `deployments/scale`. */
  resource: string;
  namespace?: string;
  name?: string;
}

export function forbidden(attributes: RequestAttributes, resourceLabel: string): FakeResponse {
  const subject = attributes.name === undefined ? resourceLabel : `${resourceLabel} "${attributes.name}"`;
  const scope = attributes.namespace === undefined ? "at the cluster scope" : `in the namespace "${attributes.namespace}"`;
  return statusResponse(
    403,
    `${subject} is forbidden: User "${attributes.user}" cannot ${attributes.verb} resource "${attributes.resource}" ` +
      `in API group "${attributes.group}" ${scope}`,
    "Forbidden",
  );
}
