/**
 * Error classes that callers branch on. Every class passes `cause` through, so the chain
 * from "failed to run cycle" down to the socket error stays visible in logs.
 */

/** Base class of every error this agent raises on purpose. */
export class AgentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** One problem found while validating the configuration. */
export interface ConfigProblem {
  /** Key path such as `evaluate.timeout` or `env minReplicas`. */
  readonly path: string;
  /** Text form of the value received, or `(missing)`. */
  readonly received: string;
  /** Allowed values, phrased as the fix. */
  readonly expected: string;
}

/** A configuration key that the agent does not read, with the nearest known key. */
export interface ConfigWarning {
  readonly path: string;
  readonly suggestion: string | undefined;
}

/** Invalid configuration: carries every problem found, not only the first. */
export class ConfigError extends AgentError {
  readonly problems: readonly ConfigProblem[];
  /** Unknown keys found in the same configuration, reported beside the problems. */
  warnings: readonly ConfigWarning[] = [];

  constructor(problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    const lines = problems.map((p) => `  ${p.path}: ${p.expected} (received ${p.received})`);
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super(`invalid configuration, ${count}:\n${lines.join("\n")}`, options);
    this.problems = problems;
  }
}

/** A user method (shell or http) that failed, timed out or produced too much output. */
export class MethodError extends AgentError {
  readonly stage: string;
  readonly reason: "exit" | "signal" | "timeout" | "output-limit" | "spawn" | "http-status" | "http-request" | "aborted";
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stderr: string;
  readonly stdout: string;

  constructor(
    message: string,
    details: {
      stage: string;
      reason: MethodError["reason"];
      exitCode?: number;
      signal?: string;
      stderr?: string;
      stdout?: string;
      cause?: unknown;
    },
  ) {
    super(message, { cause: details.cause });
    this.stage = details.stage;
    this.reason = details.reason;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stderr = details.stderr ?? "";
    this.stdout = details.stdout ?? "";
  }
}

/** The evaluate stage printed something that is not a valid evaluation. */
export class EvaluationError extends AgentError {}

/** A cycle step failed; `step` names it for logs, metrics and events. */
export class CycleError extends AgentError {
  readonly step: string;

  constructor(step: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.step = step;
  }
}

/** The cycle was cancelled because the agent is shutting down or the cycle deadline passed. */
export class CycleAbortedError extends AgentError {}

/** Returns the message of any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Returns the first error of class `type` in the `cause` chain of `error`, looking 10 levels deep. */
export function findCause<T extends Error>(error: unknown, type: new (...args: never[]) => T): T | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 10 && current !== undefined; depth++) {
    if (current instanceof type) return current;
    current = current instanceof Error ? current.cause : undefined;
  }
  return undefined;
}
