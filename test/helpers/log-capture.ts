/** Captures the agent's log lines as parsed JSON objects for assertions. */
import { configureLogging, type Verbosity } from "../../src/logging.ts";

export interface CapturedLog {
  readonly lines: Record<string, unknown>[];
  /** Returns the lines whose message equals or contains `text`. */
  find(text: string): Record<string, unknown>[];
}

export function captureLogs(verbosity: Verbosity = 3): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  configureLogging({ format: "json", verbosity, sink: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return {
    lines,
    find: (text) => lines.filter((line) => String(line["message"]).includes(text)),
  };
}
