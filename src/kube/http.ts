/**
 * One Kubernetes API request over Bun `fetch`, with a timeout, credentials resolved per request and
 * every failure turned into a `KubeApiError`.
 */

import * as v from "valibot";
import type { KubeConnection } from "./credentials.ts";
import { KubeApiError, reasonForStatus, reasonWords, truncateText } from "./errors.ts";
import { rootLogger } from "../logging.ts";

/** Purpose of a request, in words and as an RBAC check, used only in error messages. */
export interface RequestPurpose {
  /** Such as `get scale for Deployment default/web`, so that errors read `failed to <operation>: ...`. */
  operation: string;
  /** RBAC verb, such as `get`, `patch`, `list`. */
  verb: string;
  /** Resource with subresource, such as `deployments/scale`. */
  resource: string;
  /** API group, "" for the core group. */
  group: string;
  namespace?: string;
  /** Set for discovery requests, which RBAC checks as a non-resource URL such as `/apis/apps/v1`. */
  nonResourceUrl?: string;
}

export interface KubeRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Path and query below the server URL, starting with `/`. */
  path: string;
  body?: string;
  contentType?: string;
  purpose: RequestPurpose;
  signal?: AbortSignal;
}

/** Settings shared by every request of one client. */
export interface TransportSettings {
  connection: KubeConnection;
  timeoutMs: number;
  userAgent: string;
}

const StatusSchema = v.looseObject({
  kind: v.literal("Status"),
  message: v.optional(v.string()),
  reason: v.optional(v.string()),
});

/**
 * Sends one request and returns the parsed JSON body of a 2xx response.
 * Throws `KubeApiError` for every other outcome.
 */
export async function sendRequest(settings: TransportSettings, request: KubeRequest): Promise<unknown> {
  const { connection, timeoutMs } = settings;
  const { purpose } = request;
  const started = performance.now();

  let options;
  try {
    options = await connection.requestOptions();
  } catch (error) {
    throw new KubeApiError(`failed to ${purpose.operation}: ${messageOf(error)}`, {
      failure: "credentials",
      operation: purpose.operation,
      cause: error,
    });
  }

  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;
  const headers: Record<string, string> = {
    ...options.headers,
    Accept: "application/json",
    "User-Agent": settings.userAgent,
  };
  if (request.contentType !== undefined) headers["Content-Type"] = request.contentType;

  let status: number;
  let text: string;
  try {
    const init: BunFetchRequestInit = { method: request.method, headers, signal, tls: options.tls };
    if (request.body !== undefined) init.body = request.body;
    if (options.proxy !== undefined) init.proxy = options.proxy;
    const response = await fetch(`${connection.server}${request.path}`, init);
    status = response.status;
    // The body is read under the same signal, so a server that stalls mid-body also times out.
    text = await response.text();
  } catch (error) {
    throw transportError(error, { settings, request, timeout });
  }

  rootLogger().v(2).info("Kubernetes API request", {
    method: request.method,
    path: request.path,
    status,
    durationMs: Math.round(performance.now() - started),
  });

  if (status < 200 || status > 299) throw statusError(status, text, settings, purpose);

  try {
    return JSON.parse(text);
  } catch (error) {
    throw new KubeApiError(
      `failed to ${purpose.operation}: the API responded with HTTP ${status} and a body that is not JSON: ${truncateText(text)}`,
      { failure: "invalid-response", operation: purpose.operation, status, cause: error },
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Plain words for the error codes that Bun `fetch` reports, keyed by code. */
const NETWORK_CAUSES: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "the server closed the connection without a response",
  ETIMEDOUT: "the connection timed out",
  ENOTFOUND: "the host name does not resolve",
  EHOSTUNREACH: "the host is unreachable",
  SELF_SIGNED_CERT_IN_CHAIN: "the server certificate is not signed by the configured CA",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the server certificate is self-signed and not the configured CA",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server certificate is not signed by the configured CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server certificate is not signed by the configured CA",
  ERR_TLS_CERT_ALTNAME_INVALID: "the server certificate does not match the host name (see tls-server-name)",
  CERT_HAS_EXPIRED: "the server certificate has expired",
};

function transportError(
  error: unknown,
  context: { settings: TransportSettings; request: KubeRequest; timeout: AbortSignal },
): KubeApiError {
  const { settings, request, timeout } = context;
  const operation = request.purpose.operation;

  if (timeout.aborted) {
    return new KubeApiError(
      `failed to ${operation}: timed out after ${settings.timeoutMs} ms waiting for the Kubernetes API at ${settings.connection.server}`,
      { failure: "timeout", operation, cause: error },
    );
  }
  if (request.signal?.aborted) {
    return new KubeApiError(`failed to ${operation}: the request was cancelled`, {
      failure: "aborted",
      operation,
      cause: request.signal.reason ?? error,
    });
  }

  const code = error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
  const known = code === undefined ? undefined : NETWORK_CAUSES[code];
  const cause = known !== undefined ? `${known} (${code})` : messageOf(error);
  return new KubeApiError(
    `failed to reach the Kubernetes API at ${settings.connection.server} to ${operation}: ${cause}`,
    { failure: "network", operation, cause: error },
  );
}

function statusError(status: number, text: string, settings: TransportSettings, purpose: RequestPurpose): KubeApiError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const apiStatus = v.safeParse(StatusSchema, parsed);
  const reason = (apiStatus.success ? apiStatus.output.reason : undefined) || reasonForStatus(status);
  const apiMessage = apiStatus.success && apiStatus.output.message ? truncateText(apiStatus.output.message) : undefined;

  let detail: string;
  if (apiMessage !== undefined) {
    detail = `${reason ? reasonWords(reason) : `HTTP ${status}`}: ${apiMessage}`;
  } else {
    const body = text.trim() === "" ? "empty body" : truncateText(text.trim());
    detail = `HTTP ${status}${reason ? ` ${reasonWords(reason)}` : ""}: ${body}`;
  }
  detail += accessHint(status, settings.connection, purpose);

  return new KubeApiError(`failed to ${purpose.operation}: ${detail}`, {
    failure: "status",
    operation: purpose.operation,
    status,
    reason,
    apiMessage,
  });
}

/** Says who was rejected and which permission to grant, for 401 and 403 responses. */
function accessHint(status: number, connection: KubeConnection, purpose: RequestPurpose): string {
  const user = connection.describeUser();
  if (status === 401) {
    return ` (the API server rejected the credentials of ${user}; check that the token or client certificate is current)`;
  }
  if (status !== 403) return "";
  if (purpose.nonResourceUrl !== undefined) {
    return ` (${user} needs the "get" verb on the non-resource URL ${purpose.nonResourceUrl}, which the system:discovery ClusterRole grants)`;
  }
  const group = purpose.group === "" ? "the core API group" : `API group "${purpose.group}"`;
  const scope =
    purpose.namespace === undefined
      ? "cluster-wide; grant it with a ClusterRole and ClusterRoleBinding"
      : `in namespace ${purpose.namespace}; grant it with a Role and RoleBinding`;
  return ` (${user} needs the "${purpose.verb}" verb on "${purpose.resource}" in ${group} ${scope})`;
}
