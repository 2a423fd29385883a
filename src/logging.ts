/**
 * Logging for the agent: LogTape underneath, logfmt text by default and JSON lines on request,
 * written to stderr. Every field comes from one fixed vocabulary (`LogFields`), so log queries
 * can rely on the same key names across all messages.
 */
import {
  configureSync,
  getJsonLinesFormatter,
  getLogfmtFormatter,
  getLogger,
  resetSync,
  type LogRecord,
  type TextFormatter,
} from "@logtape/logtape";

/** The only keys a log line may carry besides time, level and message. */
export interface LogFields {
  namespace?: string;
  name?: string;
  kind?: string;
  pod?: string;
  stage?: string;
  runType?: string;
  currentReplicas?: number;
  targetReplicas?: number;
  evaluatedReplicas?: number;
  minReplicas?: number;
  maxReplicas?: number;
  durationMs?: number;
  exitCode?: number;
  signal?: string;
  reason?: string;
  error?: string;
  output?: string;
  stderr?: string;
  version?: string;
  configPath?: string;
  interval?: number;
  delayMs?: number;
  count?: number;
  path?: string;
  method?: string;
  status?: number;
  key?: string;
  suggestion?: string;
  address?: string;
  /** `namespace/name` of a Lease. */
  lease?: string;
  /** Leader-election identity of this agent. */
  identity?: string;
  /** `http` or `https`. */
  scheme?: string;
  /** Source of the REST API's bearer token, or `none`. */
  auth?: string;
  /** Source of the Kubernetes credentials. */
  source?: string;
}

export type LogFormat = "text" | "json";

/**
 * How much to log. 0 is normal operation; 1 adds per-cycle decisions; 2 adds scaling and
 * Kubernetes API detail; 3 adds the metric and evaluation payloads.
 */
export type Verbosity = 0 | 1 | 2 | 3;

/** Logger with the fixed keys bound once and a `v(n)` gate for verbose detail. */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** Returns a logger that writes only when the configured verbosity is at least `level`. */
  v(level: Verbosity): Pick<Logger, "info">;
  /** Returns a logger that adds `fields` to every line. */
  with(fields: LogFields): Logger;
}

let currentVerbosity: Verbosity = 0;
const CATEGORY = ["cpa"];

const NOOP = { info: (): void => {} };

function writeLine(text: string): void {
  process.stderr.write(text);
}

function formatterFor(format: LogFormat): TextFormatter {
  if (format === "json") {
    return getJsonLinesFormatter({ properties: "flatten", categorySeparator: "." });
  }
  return getLogfmtFormatter({ properties: "flatten" });
}

/**
 * Configures the process-wide log sink. Safe to call again: the last call wins, which lets the
 * CLI log configuration errors before the configuration that sets the format is known.
 */
export function configureLogging(options: { format: LogFormat; verbosity: Verbosity; sink?: (line: string) => void }): void {
  currentVerbosity = options.verbosity;
  const format = formatterFor(options.format);
  const write = options.sink ?? writeLine;
  resetSync();
  configureSync({
    reset: true,
    sinks: { out: (record: LogRecord) => write(format(record)) },
    loggers: [
      { category: CATEGORY, lowestLevel: "trace", sinks: ["out"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["out"] },
    ],
  });
}

function dropUndefined(fields: LogFields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function makeLogger(bound: LogFields): Logger {
  const base = getLogger(CATEGORY);
  const merge = (fields?: LogFields): Record<string, unknown> => dropUndefined({ ...bound, ...fields });
  const logger: Logger = {
    info: (message, fields) => base.info(message, merge(fields)),
    warn: (message, fields) => base.warn(message, merge(fields)),
    error: (message, fields) => base.error(message, merge(fields)),
    v: (level) => (currentVerbosity >= level ? { info: (message, fields) => base.info(message, merge(fields)) } : NOOP),
    with: (fields) => makeLogger({ ...bound, ...fields }),
  };
  return logger;
}

/** Returns the root logger of the agent. */
export function rootLogger(): Logger {
  return makeLogger({});
}

/** Cuts text to `max` characters, marking the cut, for outputs and bodies placed in logs. */
export function truncate(text: string, max = 500): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}... (${text.length - max} more characters)`;
}
