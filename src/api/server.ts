/**
 * The REST API v1: `GET /api/v1/metrics` and `POST /api/v1/evaluation`, each with `dry_run`. API
 * calls share the one-cycle-at-a-time rule with the timer, waiting up to `apiConfig.waitTimeout`
 * for a running cycle. Errors map to HTTP statuses in one place, `errorResponse`.
 */
import type { Server } from "bun";
import { Agent } from "../agent/agent.ts";
import { CycleBusyError } from "../agent/cycle-lock.ts";
import type { Config } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../logging.ts";
import type { AgentMetrics } from "../observability/metrics.ts";
import type { CycleResult } from "../pipeline/cycle.ts";
import { bearerMatches, type TokenSource } from "./auth.ts";

/** Largest request body the API reads; the endpoints take no body. */
export const MAX_BODY_BYTES = 64 * 1024;

const ROUTES: Readonly<Record<string, string>> = { "/api/v1/metrics": "GET", "/api/v1/evaluation": "POST" };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ApiDeps {
  readonly config: Config;
  readonly agent: Agent;
  readonly logger: Logger;
  readonly tokens: TokenSource;
  readonly metrics?: AgentMetrics;
  /** Reports whether non-dry-run calls may run here; false on followers under leader election. */
  readonly isLeader?: () => boolean;
}

/** Parses `dry_run` with the spellings of Go's strconv.ParseBool; absent means false. */
export function parseDryRun(value: string | null): boolean {
  if (value === null) return false;
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  throw new ApiError(400, `invalid dry_run value ${JSON.stringify(value)}: use true or false`);
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** Maps any error to the JSON error body `{"message", "code"}`. */
export function errorResponse(error: unknown): Response {
  if (error instanceof ApiError) return json({ message: error.message, code: error.status }, error.status, error.headers);
  if (error instanceof CycleBusyError) return json({ message: `${error.message}; try again later`, code: 429 }, 429, { "Retry-After": "1" });
  return json({ message: errorMessage(error), code: 500 }, 500);
}

/** Handles one request; exported so tests can call it without a socket. */
export async function handleApiRequest(request: Request, deps: ApiDeps): Promise<Response> {
  const url = new URL(request.url);
  const allowed = ROUTES[url.pathname];
  if (allowed === undefined) throw new ApiError(404, `no route for ${url.pathname}; the API serves GET /api/v1/metrics and POST /api/v1/evaluation`);

  const expected = deps.tokens.token();
  if (expected !== undefined && !bearerMatches(request.headers.get("authorization"), expected)) {
    throw new ApiError(401, "missing or invalid bearer token", { "WWW-Authenticate": 'Bearer realm="cpa"' });
  }
  if (request.method !== allowed) throw new ApiError(405, `method ${request.method} is not allowed on ${url.pathname}; use ${allowed}`, { Allow: allowed });

  const dryRun = parseDryRun(url.searchParams.get("dry_run"));
  if (!dryRun && deps.isLeader !== undefined && !deps.isLeader()) {
    throw new ApiError(503, "this agent is not the leader; send the request to the leader or use dry_run=true", { "Retry-After": "2" });
  }
  const runType = dryRun ? "api_dry_run" : "api";
  const metricsOnly = url.pathname === "/api/v1/metrics";
  const result = await deps.agent.runWhenFree(runType, { dryRun: dryRun || metricsOnly, metricsOnly }, deps.config.apiConfig.waitTimeout);
  return json(metricsOnly ? result.metrics : evaluationBody(result));
}

/**
 * Returns the replica count after clamping and stabilization: the one applied, or for a dry run the
 * one a real run would apply. A disabled target reports `disabled: true` and no count, because no
 * count was decided.
 */
function evaluationBody(result: CycleResult): Record<string, unknown> {
  if (result.disabled) return { disabled: true };
  return { targetReplicas: result.targetReplicas };
}

/** Route label for metrics: the known path, or `other`, so label values stay bounded. */
function routeLabel(pathname: string): string {
  return ROUTES[pathname] !== undefined ? pathname : "other";
}

/** Starts the REST API server; returns it so the caller can stop it. */
export function startApiServer(deps: ApiDeps): Server<undefined> {
  const { apiConfig } = deps.config;
  const tls = apiConfig.useHTTPS ? { cert: Bun.file(apiConfig.certFile), key: Bun.file(apiConfig.keyFile) } : undefined;
  return Bun.serve({
    hostname: apiConfig.host,
    port: apiConfig.port,
    maxRequestBodySize: MAX_BODY_BYTES,
    ...(tls ? { tls } : {}),
    fetch: async (request) => {
      const pathname = new URL(request.url).pathname;
      let response: Response;
      try {
        response = await handleApiRequest(request, deps);
      } catch (error) {
        response = errorResponse(error);
        if (response.status >= 500 && !(error instanceof ApiError)) deps.logger.v(1).info("API call failed", { path: pathname, status: response.status, error: errorMessage(error) });
      }
      deps.metrics?.apiRequests.inc({ path: routeLabel(pathname), code: String(response.status) });
      return response;
    },
    error: (error) => errorResponse(error),
  });
}
