/**
 * Loading the configuration: file, then the environment overlay, then validation. Every problem
 * is collected into one ConfigError so a user fixes them all in one pass.
 */
import { existsSync, readFileSync } from "node:fs";
import * as v from "valibot";
import { parse as parseYaml, YAMLParseError } from "yaml";
import { ConfigError, type ConfigProblem, type ConfigWarning } from "../errors.ts";
import { ConfigSchema, INTEGER_KEYS, NESTED_KEYS, STRING_KEYS, TOP_LEVEL_KEYS, HOOK_KEYS, type Config } from "./schema.ts";
import { nearestKey } from "./suggest.ts";
import { checkKubernetesMetricSpecs } from "../k8s-metrics/index.ts";

export const DEFAULT_CONFIG_PATH = "/config.yaml";

/** YAML 1.1, as the Go agent's parser reads it, so `yes` and `no` are booleans. */
const YAML_OPTIONS = { version: "1.1" } as const;

/** A key the agent does not know; scripts may read it, so it is not an error. */
export type { ConfigWarning };

export interface LoadedConfig {
  readonly config: Config;
  readonly warnings: readonly ConfigWarning[];
  /** The file read, or undefined when the default file was absent and the environment supplied the keys. */
  readonly path: string | undefined;
}

export interface LoadOptions {
  /** Value of the `--config` flag. */
  readonly configPath?: string | undefined;
  /** Values used for keys that neither the file nor the environment sets. */
  readonly fallbacks?: Readonly<Record<string, unknown>>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Returns the configuration file path: `--config`, then `CONFIG_PATH`, then `configPath`, then the default. */
export function resolveConfigPath(options: LoadOptions): { path: string; explicit: boolean } {
  const candidates = [options.configPath, options.env["CONFIG_PATH"], options.env["configPath"]];
  // An empty value counts as unset, so CONFIG_PATH="" does not hide configPath.
  const explicit = candidates.find((value) => value !== undefined && value !== "");
  if (explicit !== undefined) return { path: explicit, explicit: true };
  return { path: DEFAULT_CONFIG_PATH, explicit: false };
}

/** Reads, overlays and validates the configuration, or throws ConfigError listing every problem. */
export function loadConfig(options: LoadOptions): LoadedConfig {
  const { path, explicit } = resolveConfigPath(options);
  const problems: ConfigProblem[] = [];

  let fileValues: Record<string, unknown> = {};
  let fileRead: string | undefined;
  if (existsSync(path)) {
    fileValues = parseFile(path, problems);
    fileRead = path;
  } else if (explicit) {
    throw new ConfigError([{ path: "(file)", received: path, expected: "the configuration file must exist: check --config or CONFIG_PATH" }]);
  }

  try {
    const { config, warnings } = validateConfigValues({ ...options.fallbacks, ...fileValues }, options.env, problems);
    return { config, warnings, path: fileRead };
  } catch (error) {
    if (error instanceof ConfigError && fileRead === undefined) {
      const withFile = new ConfigError([
        {
          path: "(file)",
          received: path,
          expected: "no configuration file found: pass --config FILE, set CONFIG_PATH, or supply every required key as an environment variable",
        },
        ...error.problems,
      ]);
      withFile.warnings = error.warnings;
      throw withFile;
    }
    throw error;
  }
}

/**
 * Overlays the environment on `values` and validates the result. Throws ConfigError with every
 * problem, including those already in `problems`.
 */
export function validateConfigValues(
  values: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
  problems: ConfigProblem[] = [],
): { config: Config; warnings: ConfigWarning[] } {
  const normalized = normalizeKeyCase(values);
  const warnings = findUnknownKeys(normalized);
  const merged = overlayEnvironment(normalized, env, problems);
  checkReplicaLimits(merged, problems);
  checkLeaderElection(merged, problems);
  const result = v.safeParse(ConfigSchema, merged, { abortEarly: false });
  if (!result.success) {
    for (const issue of result.issues) problems.push(problemFromIssue(issue));
  }
  if (Array.isArray(merged["kubernetesMetricSpecs"])) {
    const metricSpecs = checkKubernetesMetricSpecs(merged["kubernetesMetricSpecs"]);
    problems.push(...metricSpecs.problems);
    warnings.push(...metricSpecs.warnings);
  }
  if (problems.length > 0 || !result.success) {
    const error = new ConfigError(problems);
    error.warnings = warnings;
    throw error;
  }
  return { config: result.output as Config, warnings };
}

function parseFile(path: string, problems: ConfigProblem[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError([{ path: "(file)", received: path, expected: `the configuration file must be readable: ${(error as Error).message}` }], { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text, YAML_OPTIONS);
  } catch (error) {
    const where = error instanceof YAMLParseError && error.linePos ? ` at line ${error.linePos[0].line}, column ${error.linePos[0].col}` : "";
    throw new ConfigError([{ path: "(file)", received: path, expected: `the file must be valid YAML or JSON; parse error${where}: ${(error as Error).message.split("\n")[0]}` }], { cause: error });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    problems.push({ path: "(file)", received: describeValue(parsed), expected: "the file must contain a mapping of configuration keys" });
    return {};
  }
  return parsed as Record<string, unknown>;
}

/**
 * Applies environment variables whose names equal a top-level key. String keys take the text as
 * is, integer keys parse it as base 10, and every other key parses it as YAML or JSON.
 */
export function overlayEnvironment(
  values: Record<string, unknown>,
  env: Readonly<Record<string, string | undefined>>,
  problems: ConfigProblem[],
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...values };
  for (const key of TOP_LEVEL_KEYS) {
    const text = env[key];
    if (text === undefined) continue;
    if (STRING_KEYS.has(key)) {
      merged[key] = text;
    } else if (INTEGER_KEYS.has(key)) {
      if (/^[+-]?\d+$/.test(text.trim())) {
        merged[key] = Number.parseInt(text.trim(), 10);
      } else {
        problems.push({ path: `env ${key}`, received: JSON.stringify(text), expected: "must be a base-10 integer" });
        delete merged[key];
      }
    } else {
      try {
        merged[key] = parseYaml(text, YAML_OPTIONS);
      } catch (error) {
        problems.push({ path: `env ${key}`, received: describeValue(text), expected: `must be valid YAML or JSON: ${(error as Error).message.split("\n")[0]}` });
        delete merged[key];
      }
    }
  }
  return merged;
}

/** Returns `object` with keys that match a known key case-insensitively renamed to it; the exact key wins. */
function renameKeys(object: unknown, known: readonly string[]): unknown {
  if (object === null || typeof object !== "object" || Array.isArray(object)) return object;
  const source = object as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) {
    const canonical = known.includes(key) ? key : known.find((k) => k.toLowerCase() === key.toLowerCase());
    if (canonical === undefined) out[key] = value;
    else if (canonical === key || !Object.hasOwn(source, canonical)) out[canonical] = value;
  }
  return out;
}

/**
 * Renames keys to their known spelling when they differ only in case (`MinReplicas`), because the
 * Go agent decodes its configuration with Go's JSON rules, which match field names that way.
 */
export function normalizeKeyCase(values: Record<string, unknown>): Record<string, unknown> {
  const top = renameKeys(values, TOP_LEVEL_KEYS) as Record<string, unknown>;
  for (const methodKey of ["metric", "evaluate", ...HOOK_KEYS]) {
    const method = renameKeys(top[methodKey], NESTED_KEYS["method"]!);
    if (method !== null && typeof method === "object" && !Array.isArray(method)) {
      const record = method as Record<string, unknown>;
      if ("shell" in record) record["shell"] = renameKeys(record["shell"], NESTED_KEYS["shell"]!);
      if ("http" in record) record["http"] = renameKeys(record["http"], NESTED_KEYS["http"]!);
    }
    if (top[methodKey] !== undefined) top[methodKey] = method;
  }
  for (const section of ["apiConfig", "healthConfig", "leaderElection", "scaleTargetRef"]) {
    if (top[section] !== undefined) top[section] = renameKeys(top[section], NESTED_KEYS[section]!);
  }
  return top;
}

/** Lists keys of the file that no part of the agent reads, with the nearest known key. */
export function findUnknownKeys(values: Record<string, unknown>): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  const check = (object: unknown, known: readonly string[], prefix: string): void => {
    if (object === null || typeof object !== "object" || Array.isArray(object)) return;
    for (const key of Object.keys(object)) {
      if (!known.includes(key)) warnings.push({ path: prefix + key, suggestion: nearestKey(key, known) });
    }
  };
  check(values, TOP_LEVEL_KEYS, "");
  for (const methodKey of ["metric", "evaluate", ...HOOK_KEYS]) {
    const method = values[methodKey] as Record<string, unknown> | undefined;
    check(method, NESTED_KEYS["method"]!, `${methodKey}.`);
    if (method && typeof method === "object") {
      check(method["shell"], NESTED_KEYS["shell"]!, `${methodKey}.shell.`);
      check(method["http"], NESTED_KEYS["http"]!, `${methodKey}.http.`);
    }
  }
  for (const section of ["apiConfig", "healthConfig", "leaderElection"]) {
    check(values[section], NESTED_KEYS[section]!, `${section}.`);
  }
  check(values["scaleTargetRef"], NESTED_KEYS["scaleTargetRef"]!, "scaleTargetRef.");
  return warnings;
}

function checkReplicaLimits(values: Record<string, unknown>, problems: ConfigProblem[]): void {
  const min = values["minReplicas"] ?? 1;
  const max = values["maxReplicas"] ?? 10;
  if (typeof min === "number" && typeof max === "number" && min > max) {
    problems.push({ path: "maxReplicas", received: String(max), expected: `must be >= minReplicas (${min})` });
  }
}

/** Fixes for required keys, shown when the key is missing. */
const REQUIRED_HINTS: Readonly<Record<string, string>> = {
  scaleTargetRef: "is required: {apiVersion, kind, name} of the resource to scale (the operator sets it from the CustomPodAutoscaler)",
  metric: "is required: the method that gathers metrics, for example {type: shell, shell: {entrypoint: python, command: [/metric.py]}}",
  evaluate: "is required: the method that computes targetReplicas, for example {type: shell, shell: {entrypoint: python, command: [/evaluate.py]}}",
  type: 'is required: "shell" or "http"',
  parameterMode: 'is required: "query" (payload in the value query parameter) or "body"',
  url: "is required: an absolute http:// or https:// URL",
  method: "is required: the HTTP method, for example GET or POST",
};

function checkLeaderElection(values: Record<string, unknown>, problems: ConfigProblem[]): void {
  const election = values["leaderElection"] as Record<string, unknown> | undefined;
  if (election === null || typeof election !== "object") return;
  const duration = election["leaseDuration"] ?? 15;
  const deadline = election["renewDeadline"] ?? 10;
  const retry = election["retryPeriod"] ?? 2;
  if (typeof duration === "number" && typeof deadline === "number" && deadline >= duration) {
    problems.push({ path: "leaderElection.renewDeadline", received: String(deadline), expected: `must be < leaderElection.leaseDuration (${duration})` });
  }
  if (typeof deadline === "number" && typeof retry === "number" && retry >= deadline) {
    problems.push({ path: "leaderElection.retryPeriod", received: String(retry), expected: `must be < leaderElection.renewDeadline (${deadline})` });
  }
}

function problemFromIssue(issue: v.BaseIssue<unknown>): ConfigProblem {
  const path = (issue.path ?? [])
    .map((item) => (typeof item.key === "number" ? `[${item.key}]` : `.${String(item.key)}`))
    .join("")
    .replace(/^\./, "");
  // valibot reports a missing key with the parent object's message; replace it with one about the key.
  const missingKey = issue.type === "object" && issue.input === undefined;
  const lastKey = String(issue.path?.at(-1)?.key ?? "");
  const expected = missingKey ? (REQUIRED_HINTS[path] ?? REQUIRED_HINTS[lastKey] ?? "is required") : issue.message;
  return { path: path || "(root)", received: describeValue(issue.input), expected };
}

/** Renders a received value for an error message, shortened to stay on one line. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "(missing)";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
