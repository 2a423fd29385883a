/**
 * Parsing of the evaluate stage's output. Only a JSON object with an integral `targetReplicas`
 * from 0 to 2^31-1 is accepted. Anything else is an error, so an evaluator bug never turns into
 * a scale-down.
 */
import { EvaluationError } from "../errors.ts";

export const MAX_REPLICAS = 2147483647;
const KEY = "targetReplicas";

/** Returns the first `max` bytes of `text`, as described in evaluation errors. */
function preview(text: string, max = 500): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(bytes.subarray(0, max).toString("utf8"))} (first ${max} of ${bytes.length} bytes)`;
}

/**
 * Finds the target replicas field the way Go's JSON decoder does: the exact key wins, otherwise
 * the last key that matches case-insensitively.
 */
function findTargetKey(object: Record<string, unknown>): string | undefined {
  if (Object.hasOwn(object, KEY)) return KEY;
  let found: string | undefined;
  for (const key of Object.keys(object)) {
    if (key.toLowerCase() === KEY.toLowerCase()) found = key;
  }
  return found;
}

/** Parses the evaluate stage's stdout into the requested replica count, or throws EvaluationError. */
export function parseEvaluation(stdout: string): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch (error) {
    throw new EvaluationError(
      `evaluate output is not a single JSON object (${(error as Error).message}); received ${preview(stdout)}`,
      { cause: error },
    );
  }

  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new EvaluationError(`evaluation has no integer field targetReplicas: expected a JSON object such as {"targetReplicas": 3}, received ${preview(stdout)}`);
  }
  const key = findTargetKey(parsed as Record<string, unknown>);
  const value = key === undefined ? undefined : (parsed as Record<string, unknown>)[key];
  if (value === undefined || value === null) {
    throw new EvaluationError(`evaluation has no integer field targetReplicas: received ${preview(stdout)}`);
  }
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_REPLICAS) {
    const described = typeof value === "string" ? `${JSON.stringify(value)} (a string)` : JSON.stringify(value) ?? String(value);
    throw new EvaluationError(`evaluation targetReplicas must be an integer from 0 to ${MAX_REPLICAS}, received ${described}`);
  }
  // JSON.parse turns -0 into -0; report it as 0.
  return value === 0 ? 0 : value;
}
