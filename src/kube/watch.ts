/**
 * Watches of Kubernetes collections: the streaming watch request over Bun `fetch`, and a list-then-watch
 * loop that resumes from the last resourceVersion, lists again when that version expired (410 Gone),
 * and reconnects with exponential backoff after failures.
 */

import * as v from "valibot";
import type { KubeClient, KubeObject } from "./client.ts";
import type { KubeConnection } from "./credentials.ts";
import { KubeApiError, reasonForStatus, reasonWords, truncateText } from "./errors.ts";
import { ResourceClient, collectionPath, metadataOf, type ResourceType } from "./resources.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../logging.ts";

/** One change of a watched collection. BOOKMARK and ERROR events never reach list-watch handlers. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: KubeObject;
}

const WatchEventSchema = v.object({
  type: v.picklist(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]),
  object: v.looseObject({}),
});

const StatusSchema = v.looseObject({
  code: v.optional(v.number()),
  reason: v.optional(v.string()),
  message: v.optional(v.string()),
});

/** Time allowed for the API server to send the response headers of a watch request. */
const CONNECT_TIMEOUT_MS = 30_000;
/** Grace period after the server-side watch timeout before the client gives up on a silent stream. */
const STALL_GRACE_MS = 30_000;

export interface WatchRequest {
  /** Collection URL path, such as `/api/v1/namespaces/default/pods`. */
  path: string;
  resourceVersion: string;
  labelSelector?: string;
  /** The server ends the stream after this many seconds, and the caller starts a new one. */
  timeoutSeconds: number;
  /** Description for error messages, such as `watch pods in namespace apps`. */
  operation: string;
  signal: AbortSignal;
}

/**
 * Streams the events of one watch request until the server ends it. Throws `KubeApiError` for a
 * non-2xx response, a line that is not a watch event, or an ERROR event. Status 410 means that the
 * resourceVersion expired, so the caller has to list again.
 */
export async function* watchEvents(connection: KubeConnection, request: WatchRequest): AsyncGenerator<WatchEvent> {
  const { operation } = request;
  const query = new URLSearchParams({
    watch: "true",
    allowWatchBookmarks: "true",
    resourceVersion: request.resourceVersion,
    timeoutSeconds: String(request.timeoutSeconds),
  });
  if (request.labelSelector) query.set("labelSelector", request.labelSelector);

  const options = await connection.requestOptions();
  const stream = new AbortController();
  const signal = AbortSignal.any([stream.signal, request.signal]);
  const connectTimer = setTimeout(() => stream.abort(new Error("timed out waiting for the response headers")), CONNECT_TIMEOUT_MS);
  const stallTimer = setTimeout(
    () => stream.abort(new Error("the stream stayed open past its timeout")),
    request.timeoutSeconds * 1000 + STALL_GRACE_MS,
  );

  try {
    const init: BunFetchRequestInit = {
      method: "GET",
      headers: { ...options.headers, Accept: "application/json", "User-Agent": "cpa-operator" },
      signal,
      tls: options.tls,
    };
    if (options.proxy !== undefined) init.proxy = options.proxy;
    let response: Response;
    try {
      response = await fetch(`${connection.server}${request.path}?${query}`, init);
    } finally {
      clearTimeout(connectTimer);
    }
    if (!response.ok) throw await httpError(response, operation);
    if (response.body === null) return;

    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf("\n"); end >= 0; end = buffer.indexOf("\n")) {
        const line = buffer.slice(0, end).trim();
        buffer = buffer.slice(end + 1);
        if (line !== "") yield parseEvent(line, operation);
      }
    }
    const rest = buffer.trim();
    if (rest !== "") yield parseEvent(rest, operation);
  } catch (error) {
    if (error instanceof KubeApiError) throw error;
    const reason = stream.signal.aborted ? errorMessage(stream.signal.reason) : errorMessage(error);
    throw new KubeApiError(`failed to ${operation}: ${reason}`, {
      failure: request.signal.aborted ? "aborted" : "network",
      operation,
      cause: error,
    });
  } finally {
    clearTimeout(connectTimer);
    clearTimeout(stallTimer);
    stream.abort();
  }
}

function parseEvent(line: string, operation: string): WatchEvent {
  let parsed: v.SafeParseResult<typeof WatchEventSchema>;
  try {
    parsed = v.safeParse(WatchEventSchema, JSON.parse(line));
  } catch (error) {
    throw new KubeApiError(`failed to ${operation}: a line of the stream is not JSON: ${truncateText(line)}`, {
      failure: "invalid-response",
      operation,
      cause: error,
    });
  }
  if (!parsed.success) {
    throw new KubeApiError(`failed to ${operation}: a line of the stream is not a watch event: ${truncateText(line)}`, {
      failure: "invalid-response",
      operation,
    });
  }
  const event = parsed.output as WatchEvent;
  if (event.type !== "ERROR") return event;

  const status = v.safeParse(StatusSchema, event.object);
  const code = status.success ? status.output.code : undefined;
  const reason = (status.success ? status.output.reason : undefined) ?? (code === undefined ? undefined : reasonForStatus(code));
  const message = status.success && status.output.message ? status.output.message : "no message";
  throw new KubeApiError(`failed to ${operation}: the API sent an error event: ${truncateText(message)}`, {
    failure: "status",
    operation,
    status: code,
    reason,
    apiMessage: message,
  });
}

async function httpError(response: Response, operation: string): Promise<KubeApiError> {
  const text = await response.text().catch(() => "");
  let apiMessage: string | undefined;
  let reason = reasonForStatus(response.status);
  try {
    const status = v.safeParse(StatusSchema, JSON.parse(text));
    if (status.success) {
      apiMessage = status.output.message;
      reason = status.output.reason || reason;
    }
  } catch {
    // A body that is not JSON is quoted in the message below.
  }
  const detail = apiMessage ?? (text.trim() === "" ? "empty body" : truncateText(text.trim()));
  const label = reason === undefined ? `HTTP ${response.status}` : `HTTP ${response.status} ${reasonWords(reason)}`;
  return new KubeApiError(`failed to ${operation}: ${label}: ${truncateText(detail)}`, {
    failure: "status",
    operation,
    status: response.status,
    reason,
    apiMessage,
  });
}

/** True when a watch or list failed because its resourceVersion is too old (410 Gone). */
export function isGone(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 410;
}

/** Exponential delays with jitter: each delay is between half and all of `initialMs * 2^n`, capped at `maxMs`. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: { initialMs: number; maxMs: number; random?: () => number },
  ) {}

  /** Returns the next delay in milliseconds and doubles the one after it. */
  next(): number {
    const base = Math.min(this.options.maxMs, this.options.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    const random = this.options.random ?? Math.random;
    return Math.round(base / 2 + (random() * base) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Resolves after `ms` milliseconds, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Callbacks of a list-watch. They run synchronously between reads of the stream. */
export interface ListWatchHandlers {
  /** Receives every object after each list; it replaces what earlier calls and events described. */
  onList(items: KubeObject[]): void;
  onEvent(type: "ADDED" | "MODIFIED" | "DELETED", object: KubeObject): void;
}

export interface ListWatchOptions {
  client: KubeClient;
  type: ResourceType;
  /** Namespace to watch; undefined watches all namespaces. */
  namespace: string | undefined;
  labelSelector?: string;
  handlers: ListWatchHandlers;
  /** Ends the loop; `runListWatch` resolves soon after. */
  signal: AbortSignal;
  logger: Logger;
  /** Delay before the first retry after a failure, doubled per failure. Default 500 ms. */
  initialBackoffMs?: number;
  /** Maximum delay between retries. Default 30 s. */
  maxBackoffMs?: number;
  /** Server-side timeout of each watch request, in seconds. Default: random from 300 to 600. */
  watchTimeoutSeconds?: () => number;
}

/** A watch that lasted this long or delivered an event counts as healthy and resets the backoff. */
const HEALTHY_WATCH_MS = 1000;

/**
 * Lists a collection, then watches it from the list's resourceVersion until `signal` aborts.
 * Bookmarks advance the resourceVersion; a 410 Gone response or ERROR event starts a fresh list;
 * other failures are logged and retried after an exponential backoff.
 */
export async function runListWatch(options: ListWatchOptions): Promise<void> {
  const { client, type, namespace, labelSelector, handlers, signal, logger } = options;
  const resources = new ResourceClient(client);
  const path = collectionPath(type, namespace);
  const where = namespace === undefined ? "all namespaces" : `namespace ${namespace}`;
  const operation = `watch ${type.resource} in ${where}`;
  const backoff = new Backoff({ initialMs: options.initialBackoffMs ?? 500, maxMs: options.maxBackoffMs ?? 30_000 });
  const timeoutSeconds = options.watchTimeoutSeconds ?? (() => 300 + Math.floor(Math.random() * 300));
  let resourceVersion: string | undefined;
  // A second 410 in a row without any event in between waits a backoff delay before listing again.
  let goneInARow = 0;

  while (!signal.aborted) {
    try {
      if (resourceVersion === undefined) {
        const list = await resources.list(type, namespace, { labelSelector, signal });
        handlers.onList(list.items);
        resourceVersion = list.resourceVersion;
        logger.v(1).info("listed objects, watching for changes", { path, count: list.items.length });
      }

      const started = performance.now();
      let received = 0;
      const events = watchEvents(client.connection, {
        path,
        resourceVersion,
        labelSelector,
        timeoutSeconds: timeoutSeconds(),
        operation,
        signal,
      });
      for await (const event of events) {
        received++;
        goneInARow = 0;
        const version = metadataOf(event.object).resourceVersion;
        if (version !== "") resourceVersion = version;
        if (event.type !== "BOOKMARK" && event.type !== "ERROR") handlers.onEvent(event.type, event.object);
      }
      if (received > 0 || performance.now() - started >= HEALTHY_WATCH_MS) {
        backoff.reset();
        continue;
      }
      await sleep(backoff.next(), signal);
    } catch (error) {
      if (signal.aborted) break;
      if (isGone(error)) {
        logger.v(1).info("resource version expired, listing again", { path, reason: errorMessage(error) });
        resourceVersion = undefined;
        goneInARow++;
        if (goneInARow > 1) await sleep(backoff.next(), signal);
        continue;
      }
      const delayMs = backoff.next();
      logger.warn("watch failed, retrying", { path, error: errorMessage(error), delayMs });
      await sleep(delayMs, signal);
    }
  }
}
