/**
 * Errors raised by the Kubernetes client, and helpers that callers branch on.
 */

import { AgentError } from "../errors.ts";

/** Category of a Kubernetes API request failure. */
export type KubeFailure =
  /** The API responded with a non-2xx status. */
  | "status"
  /** The connection could not be made or broke (refused, reset, TLS verification). */
  | "network"
  /** No complete response before the request timeout. */
  | "timeout"
  /** The caller's `AbortSignal` fired. */
  | "aborted"
  /** A 2xx response whose body is not the expected JSON. */
  | "invalid-response"
  /** Credentials could not be resolved before sending (exec plugin, unreadable file). */
  | "credentials"
  /** The request was not sent because its input is invalid (unknown kind, no /scale). */
  | "request";

/** A failed Kubernetes API request. The message never contains a token. */
export class KubeApiError extends AgentError {
  /** HTTP status code, or undefined when no HTTP response arrived. */
  readonly status: number | undefined;
  /** API Status `reason` such as `Forbidden`, `NotFound`, `Conflict`, derived from the HTTP code when the body has none. */
  readonly reason: string | undefined;
  /** API Status `message`, truncated, when the response carried one. */
  readonly apiMessage: string | undefined;
  readonly failure: KubeFailure;
  /** The operation in words, such as `get scale for Deployment default/web`. */
  readonly operation: string;

  constructor(
    message: string,
    details: {
      failure: KubeFailure;
      operation: string;
      status?: number;
      reason?: string;
      apiMessage?: string;
      cause?: unknown;
    },
  ) {
    super(message, { cause: details.cause });
    this.failure = details.failure;
    this.operation = details.operation;
    this.status = details.status;
    this.reason = details.reason;
    this.apiMessage = details.apiMessage;
  }
}

/** Kubeconfig or service-account files that cannot be loaded or name no usable cluster. */
export class KubeConfigError extends AgentError {}

/** True for a 409 Conflict response. */
export function isConflict(error: unknown): error is KubeApiError {
  return error instanceof KubeApiError && (error.status === 409 || error.reason === "Conflict");
}

/** True for a 403 Forbidden response. */
export function isForbidden(error: unknown): error is KubeApiError {
  return error instanceof KubeApiError && (error.status === 403 || error.reason === "Forbidden");
}

/** True for a 404 response, and for a kind that the API does not serve. */
export function isNotFound(error: unknown): error is KubeApiError {
  return error instanceof KubeApiError && (error.status === 404 || error.reason === "NotFound");
}

/** True when the request timed out. */
export function isTimeout(error: unknown): error is KubeApiError {
  return error instanceof KubeApiError && error.failure === "timeout";
}

/** Maximum number of characters of a response body or API message put into an error. */
export const MAX_ERROR_TEXT = 500;

/** Cuts `text` to `max` characters and appends how many were left out. */
export function truncateText(text: string, max = MAX_ERROR_TEXT): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** The API Status reason that the apiserver sends with each HTTP code. */
const REASON_BY_STATUS: Readonly<Record<number, string>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  406: "NotAcceptable",
  409: "Conflict",
  410: "Gone",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** Returns the API Status reason for an HTTP code, or undefined for codes without one. */
export function reasonForStatus(status: number): string | undefined {
  return REASON_BY_STATUS[status];
}

/** Turns a PascalCase reason into lowercase words: `NotFound` becomes `not found`. */
export function reasonWords(reason: string): string {
  return reason.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
}

/** Returns the error for a 2xx response whose body is not what the request expects. */
export function invalidResponse(purpose: { operation: string }, problem: string): KubeApiError {
  return new KubeApiError(`failed to ${purpose.operation}: ${problem}`, {
    failure: "invalid-response",
    operation: purpose.operation,
    status: 200,
  });
}

/** Returns `body` as an object, or throws when the API returned something else. */
export function expectObject(body: unknown, purpose: { operation: string }): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalidResponse(purpose, "the response is not a JSON object");
  }
  return body as Record<string, unknown>;
}
