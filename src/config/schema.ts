/**
 * The configuration schema: every key of the Go agent v2 plus this agent's additions, with
 * their defaults. Validation collects every problem instead of stopping at the first.
 */
import * as v from "valibot";

const MAX_INT32 = 2147483647;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(
    v.number("must be an integer"),
    v.integer("must be an integer"),
    v.minValue(min, `must be >= ${min}`),
    v.maxValue(max, `must be <= ${max}`),
  );

const str = () => v.string("must be a string");
const bool = () => v.boolean("must be true or false");

function shellSchema() {
  return v.object(
    {
      entrypoint: v.optional(v.pipe(str(), v.nonEmpty("must not be empty")), "/bin/sh"),
      command: v.optional(v.array(str(), "must be a list of strings"), []),
      logStderr: v.optional(bool(), false),
    },
    "must be an object with entrypoint and command",
  );
}

function httpSchema() {
  return v.object(
    {
      method: v.pipe(str(), v.nonEmpty("must not be empty")),
      url: v.pipe(
        str(),
        v.check((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), "must be an absolute http:// or https:// URL"),
      ),
      headers: v.optional(v.record(v.string(), str(), "must map names to strings"), {}),
      successCodes: v.optional(
        v.pipe(v.array(int(100, 599), "must be a list of HTTP status codes"), v.nonEmpty("must not be empty")),
        [200],
      ),
      parameterMode: v.picklist(["query", "body"], 'must be "query" or "body"'),
      caCert: v.optional(str()),
      clientCert: v.optional(str()),
      clientKey: v.optional(str()),
    },
    "must be an object with method, url and parameterMode",
  );
}

/** A method: how the agent runs one stage or hook. */
function methodSchema() {
  return v.pipe(
    v.object(
      {
        type: v.picklist(["shell", "http"], 'must be "shell" or "http"'),
        timeout: v.optional(int(1), 3000),
        shell: v.optional(shellSchema()),
        http: v.optional(httpSchema()),
      },
      "must be an object with type and a shell or http section",
    ),
    v.forward(
      v.check((m) => m.type !== "shell" || m.shell !== undefined, 'is required when type is "shell"'),
      ["shell"],
    ),
    v.forward(
      v.check((m) => m.type !== "http" || m.http !== undefined, 'is required when type is "http"'),
      ["http"],
    ),
    v.forward(
      v.check(
        (m) => m.type !== "shell" || m.shell === undefined || m.shell.command.length > 0 || m.shell.entrypoint !== "/bin/sh",
        "must list the script to run when no entrypoint is set",
      ),
      ["shell", "command"],
    ),
    v.forward(
      v.check(
        (m) => m.http === undefined || m.http.parameterMode !== "body" || !["GET", "HEAD"].includes(m.http.method.toUpperCase()),
        'parameterMode "body" needs a method that carries a body, such as POST; a GET or HEAD request cannot carry one, so use parameterMode: query',
      ),
      ["http", "parameterMode"],
    ),
    v.forward(
      v.check(
        (m) => m.http === undefined || (m.http.clientCert === undefined) === (m.http.clientKey === undefined),
        "clientCert and clientKey must be set together",
      ),
      ["http", "clientCert"],
    ),
  );
}

export const HOOK_KEYS = ["preMetric", "postMetric", "preEvaluate", "postEvaluate", "preScale", "postScale"] as const;
export type HookKey = (typeof HOOK_KEYS)[number];

const apiConfigSchema = v.object(
  {
    enabled: v.optional(bool(), true),
    useHTTPS: v.optional(bool(), false),
    port: v.optional(int(0, 65535), 5000),
    host: v.optional(str(), "0.0.0.0"),
    certFile: v.optional(str(), ""),
    keyFile: v.optional(str(), ""),
    // Additions of this agent.
    authTokenFile: v.optional(str(), ""),
    waitTimeout: v.optional(int(0, 600_000), 5000),
  },
  "must be an object",
);

const healthConfigSchema = v.object(
  {
    enabled: v.optional(bool(), true),
    host: v.optional(str(), "0.0.0.0"),
    port: v.optional(int(0, 65535), 8080),
  },
  "must be an object",
);

const leaderElectionSchema = v.object(
  {
    enabled: v.optional(bool(), false),
    leaseName: v.optional(str(), ""),
    leaseNamespace: v.optional(str(), ""),
    leaseDuration: v.optional(int(1, 3600), 15),
    renewDeadline: v.optional(int(1, 3600), 10),
    retryPeriod: v.optional(int(1, 3600), 2),
  },
  "must be an object",
);

/** The whole configuration. `maxReplicas >= minReplicas` is checked in load.ts, so it runs even when other keys are invalid. */
export const ConfigSchema = v.object(
  {
    scaleTargetRef: v.object(
      {
        apiVersion: v.pipe(str(), v.nonEmpty("must not be empty, for example apps/v1")),
        kind: v.pipe(str(), v.nonEmpty("must not be empty, for example Deployment")),
        name: v.pipe(str(), v.nonEmpty("must not be empty")),
      },
      "required: an object with apiVersion, kind and name of the resource to scale",
    ),
    namespace: v.optional(v.pipe(str(), v.nonEmpty("must not be empty")), "default"),
    metric: methodSchema(),
    evaluate: methodSchema(),
    preMetric: v.optional(methodSchema()),
    postMetric: v.optional(methodSchema()),
    preEvaluate: v.optional(methodSchema()),
    postEvaluate: v.optional(methodSchema()),
    preScale: v.optional(methodSchema()),
    postScale: v.optional(methodSchema()),
    interval: v.optional(int(1), 15000),
    startTime: v.optional(int(1), 1),
    minReplicas: v.optional(int(0, MAX_INT32), 1),
    maxReplicas: v.optional(int(0, MAX_INT32), 10),
    runMode: v.optional(v.picklist(["per-pod", "per-resource"], 'must be "per-pod" or "per-resource"'), "per-pod"),
    logVerbosity: v.optional(int(0, 3), 0),
    downscaleStabilization: v.optional(int(0), 0),
    apiConfig: v.optional(apiConfigSchema, {}),
    kubernetesMetricSpecs: v.optional(v.array(v.record(v.string(), v.unknown()), "must be a list of autoscaling/v2 MetricSpec objects")),
    requireKubernetesMetrics: v.optional(bool(), false),
    initialReadinessDelay: v.optional(int(0), 30),
    cpuInitializationPeriod: v.optional(int(0), 300),
    // Additions of this agent; the Go agent does not read these keys.
    logFormat: v.optional(v.picklist(["text", "json"], 'must be "text" or "json"'), "text"),
    metricConcurrency: v.optional(int(1, 1000), 10),
    cycleTimeout: v.optional(int(0), 0),
    includeTerminatingPods: v.optional(bool(), false),
    healthConfig: v.optional(healthConfigSchema, {}),
    kubernetesEvents: v.optional(bool(), true),
    leaderElection: v.optional(leaderElectionSchema, {}),
  },
  "the configuration must be a mapping of keys to values",
);

export type Config = v.InferOutput<typeof ConfigSchema>;
export type MethodConfig = Config["metric"];
export type ShellMethodConfig = NonNullable<MethodConfig["shell"]>;
export type HttpMethodConfig = NonNullable<MethodConfig["http"]>;

/** Top-level keys of the schema, for unknown-key warnings and the environment overlay. */
export const TOP_LEVEL_KEYS: readonly string[] = Object.keys(ConfigSchema.entries);

/** Keys whose environment variable is taken as text. */
export const STRING_KEYS = new Set(["namespace", "runMode", "logFormat"]);

/** Keys whose environment variable is parsed as a base-10 integer. */
export const INTEGER_KEYS = new Set([
  "interval",
  "startTime",
  "minReplicas",
  "maxReplicas",
  "logVerbosity",
  "downscaleStabilization",
  "initialReadinessDelay",
  "cpuInitializationPeriod",
  "metricConcurrency",
  "cycleTimeout",
]);

/** Known keys of nested objects, for unknown-key warnings below the top level. */
export const NESTED_KEYS: Readonly<Record<string, readonly string[]>> = {
  method: ["type", "timeout", "shell", "http"],
  shell: ["entrypoint", "command", "logStderr"],
  http: ["method", "url", "headers", "successCodes", "parameterMode", "caCert", "clientCert", "clientKey"],
  apiConfig: ["enabled", "useHTTPS", "port", "host", "certFile", "keyFile", "authTokenFile", "waitTimeout"],
  healthConfig: ["enabled", "host", "port"],
  leaderElection: ["enabled", "leaseName", "leaseNamespace", "leaseDuration", "renewDeadline", "retryPeriod"],
  scaleTargetRef: ["apiVersion", "kind", "name"],
};

/**
 * Returns the cycle deadline in milliseconds, or undefined when `cycleTimeout` is unset or 0. Without
 * a deadline a cycle is still bounded by each method's timeout and each API request's timeout.
 */
export function cycleDeadlineMs(config: Config): number | undefined {
  return config.cycleTimeout !== undefined && config.cycleTimeout > 0 ? config.cycleTimeout : undefined;
}
