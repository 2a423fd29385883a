/** The contract between the cycle and the user's methods (shell commands and HTTP endpoints). */
import type { MethodConfig } from "../config/schema.ts";

/** One run of a user method. */
export interface MethodRequest {
  /** Stage or hook name: `metric`, `evaluate`, `preScale`, ... */
  readonly stage: string;
  /** Subject of the run, added to messages: `pod web-7` in per-pod mode. */
  readonly subject?: string;
  readonly method: MethodConfig;
  /** The stage's JSON payload, passed on stdin or in the HTTP request. */
  readonly input: string;
  /** Aborts the run: the shell process group is ended, the HTTP request is cancelled. */
  readonly signal?: AbortSignal;
}

export interface MethodResult {
  /** The output exactly as produced, with no trimming. */
  readonly stdout: string;
  /** Shell stderr of a successful run; empty for HTTP. */
  readonly stderr: string;
  readonly durationMs: number;
}

/** Runs a method of either type. */
export interface MethodRunner {
  run(request: MethodRequest): Promise<MethodResult>;
}

/** Maximum bytes read from a method's stdout or HTTP body; more fails the run. */
export const STDOUT_LIMIT_BYTES = 4 * 1024 * 1024;
/** Maximum bytes read from a shell method's stderr; more fails the run. */
export const STDERR_LIMIT_BYTES = 1024 * 1024;

/** Returns `metric for pod web-7` or `evaluate`, the name used in messages about a run. */
export function describeRun(request: Pick<MethodRequest, "stage" | "subject">): string {
  return request.subject ? `${request.stage} for ${request.subject}` : request.stage;
}
