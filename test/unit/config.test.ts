import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, resolveConfigPath, validateConfigValues } from "../../src/config/load.ts";
import { nearestKey } from "../../src/config/suggest.ts";
import { ConfigError } from "../../src/errors.ts";
import { sh } from "../helpers/config.ts";

const BASE = {
  scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
  metric: sh("echo 1"),
  evaluate: sh("echo 1"),
};

function problemsOf(values: Record<string, unknown>, env: Record<string, string> = {}): { path: string; received: string; expected: string }[] {
  try {
    validateConfigValues(values, env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

function writeTemp(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "cpa-config-"));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("config defaults", () => {
  const { config } = validateConfigValues(BASE, {});
  const cases: [string, unknown, unknown][] = [
    ["namespace", config.namespace, "default"],
    ["interval", config.interval, 15000],
    ["startTime", config.startTime, 1],
    ["minReplicas", config.minReplicas, 1],
    ["maxReplicas", config.maxReplicas, 10],
    ["runMode", config.runMode, "per-pod"],
    ["logVerbosity", config.logVerbosity, 0],
    ["downscaleStabilization", config.downscaleStabilization, 0],
    ["apiConfig", config.apiConfig, { enabled: true, useHTTPS: false, port: 5000, host: "0.0.0.0", certFile: "", keyFile: "", authTokenFile: "", waitTimeout: 5000 }],
    ["healthConfig", config.healthConfig, { enabled: true, host: "0.0.0.0", port: 8080 }],
    ["kubernetesEvents", config.kubernetesEvents, true],
    ["leaderElection", config.leaderElection, { enabled: false, leaseName: "", leaseNamespace: "", leaseDuration: 15, renewDeadline: 10, retryPeriod: 2 }],
    ["requireKubernetesMetrics", config.requireKubernetesMetrics, false],
    ["initialReadinessDelay", config.initialReadinessDelay, 30],
    ["cpuInitializationPeriod", config.cpuInitializationPeriod, 300],
    ["logFormat", config.logFormat, "text"],
    ["metricConcurrency", config.metricConcurrency, 10],
    ["includeTerminatingPods", config.includeTerminatingPods, false],
  ];
  for (const [key, actual, expected] of cases) {
    test(`default of ${key}`, () => expect(actual).toEqual(expected));
  }

  test("method timeout defaults to 3000 ms", () => {
    const { config: c } = validateConfigValues({ ...BASE, metric: { type: "shell", shell: { entrypoint: "/bin/sh", command: ["-c", "echo 5"] } } }, {});
    expect(c.metric.timeout).toBe(3000);
  });

  test("shell entrypoint defaults to /bin/sh", () => {
    const { config: c } = validateConfigValues({ ...BASE, evaluate: { type: "shell", timeout: 2500, shell: { command: ["-c", "echo 2"] } } }, {});
    expect(c.evaluate.shell?.entrypoint).toBe("/bin/sh");
  });

  test("http successCodes defaults to [200]", () => {
    const { config: c } = validateConfigValues(
      { ...BASE, metric: { type: "http", timeout: 2000, http: { method: "GET", url: "http://127.0.0.1:1/queue", parameterMode: "query" } } },
      {},
    );
    expect(c.metric.http?.successCodes).toEqual([200]);
  });
});

describe("config validation errors", () => {
  const cases: { name: string; values: Record<string, unknown>; env?: Record<string, string>; path: string; expected: string }[] = [
    { name: "min above max", values: { ...BASE, minReplicas: 5, maxReplicas: 2 }, path: "maxReplicas", expected: "must be >= minReplicas (5)" },
    { name: "unknown runMode", values: { ...BASE, runMode: "per-pods" }, path: "runMode", expected: 'must be "per-pod" or "per-resource"' },
    { name: "interval zero", values: { ...BASE, interval: 0 }, path: "interval", expected: "must be >= 1" },
    { name: "startTime zero", values: { ...BASE, startTime: 0 }, path: "startTime", expected: "must be >= 1" },
    { name: "negative minReplicas", values: { ...BASE, minReplicas: -1 }, path: "minReplicas", expected: "must be >= 0" },
    { name: "logVerbosity too high", values: { ...BASE, logVerbosity: 4 }, path: "logVerbosity", expected: "must be <= 3" },
    { name: "timeout zero", values: { ...BASE, metric: { ...sh("echo 1"), timeout: 0 } }, path: "metric.timeout", expected: "must be >= 1" },
    { name: "fractional interval", values: { ...BASE, interval: 1.5 }, path: "interval", expected: "must be an integer" },
    { name: "string interval in file", values: { ...BASE, interval: "10s" }, path: "interval", expected: "must be an integer" },
    { name: "missing scaleTargetRef", values: { metric: BASE.metric, evaluate: BASE.evaluate }, path: "scaleTargetRef", expected: "is required" },
    { name: "missing evaluate", values: { scaleTargetRef: BASE.scaleTargetRef, metric: BASE.metric }, path: "evaluate", expected: "is required" },
    { name: "unknown method type", values: { ...BASE, metric: { type: "python" } }, path: "metric.type", expected: 'must be "shell" or "http"' },
    { name: "shell type without shell", values: { ...BASE, metric: { type: "shell", timeout: 10 } }, path: "metric.shell", expected: 'is required when type is "shell"' },
    {
      name: "http without parameterMode",
      values: { ...BASE, metric: { type: "http", timeout: 2000, http: { method: "GET", url: "http://metrics.apps.svc/queue" } } },
      path: "metric.http.parameterMode",
      expected: 'is required: "query"',
    },
    {
      name: "http clientCert without clientKey",
      values: { ...BASE, metric: { type: "http", http: { method: "GET", url: "https://127.0.0.1/", parameterMode: "body", clientCert: "/c.pem" } } },
      path: "metric.http.clientCert",
      expected: "clientCert and clientKey must be set together",
    },
    {
      name: "GET with a body",
      values: { ...BASE, metric: { type: "http", http: { method: "GET", url: "http://127.0.0.1/", parameterMode: "body" } } },
      path: "metric.http.parameterMode",
      expected: 'parameterMode "body" needs a method that carries a body',
    },
    { name: "relative http url", values: { ...BASE, metric: { type: "http", http: { method: "GET", url: "metrics/queue", parameterMode: "query" } } }, path: "metric.http.url", expected: "must be an absolute http:// or https:// URL" },
    { name: "renewDeadline not below leaseDuration", values: { ...BASE, leaderElection: { enabled: true, leaseDuration: 10, renewDeadline: 10 } }, path: "leaderElection.renewDeadline", expected: "must be < leaderElection.leaseDuration (10)" },
    { name: "retryPeriod not below renewDeadline", values: { ...BASE, leaderElection: { retryPeriod: 12 } }, path: "leaderElection.retryPeriod", expected: "must be < leaderElection.renewDeadline (10)" },
    { name: "health port out of range", values: { ...BASE, healthConfig: { port: 70000 } }, path: "healthConfig.port", expected: "must be <= 65535" },
    { name: "env integer not a number", values: BASE, env: { minReplicas: "two" }, path: "env minReplicas", expected: "must be a base-10 integer" },
    { name: "env object not YAML", values: BASE, env: { scaleTargetRef: "{apiVersion: [" }, path: "env scaleTargetRef", expected: "must be valid YAML or JSON" },
  ];
  for (const c of cases) {
    test(`rejects ${c.name}`, () => {
      const problems = problemsOf(c.values, c.env);
      const problem = problems.find((p) => p.path === c.path);
      expect(problem?.expected ?? `no problem at ${c.path}: ${JSON.stringify(problems)}`).toContain(c.expected);
    });
  }

  test("reports every problem at once", () => {
    const problems = problemsOf({ ...BASE, minReplicas: 5, maxReplicas: 2, runMode: "per-pods", interval: 0 }, { logVerbosity: "loud" });
    expect(problems.map((p) => p.path).sort()).toEqual(["env logVerbosity", "interval", "maxReplicas", "runMode"]);
  });

  test("problem shows the received value", () => {
    const [problem] = problemsOf({ ...BASE, runMode: "per-pods" });
    expect(problem?.received).toBe('"per-pods"');
  });

  test("env problem names the variable and value", () => {
    const problems = problemsOf(BASE, { minReplicas: "two" });
    expect(problems).toContainEqual({ path: "env minReplicas", received: '"two"', expected: "must be a base-10 integer" });
  });

  test("error message lists each problem on its own line", () => {
    let message = "";
    try {
      validateConfigValues({ ...BASE, minReplicas: 5, maxReplicas: 2, runMode: "x" }, {});
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe(
      'invalid configuration, 2 problems:\n  maxReplicas: must be >= minReplicas (5) (received 2)\n  runMode: must be "per-pod" or "per-resource" (received "x")',
    );
  });
});

describe("config environment overlay", () => {
  test("integer key parses base 10", () => {
    expect(validateConfigValues(BASE, { interval: "10000" }).config.interval).toBe(10000);
  });
  test("env overrides file value", () => {
    expect(validateConfigValues({ ...BASE, minReplicas: 5 }, { minReplicas: "2" }).config.minReplicas).toBe(2);
  });
  test("string key keeps text as is", () => {
    expect(validateConfigValues(BASE, { namespace: "apps" }).config.namespace).toBe("apps");
  });
  test("object key parses JSON as the operator sends it", () => {
    const ref = '{"apiVersion":"apps/v1","kind":"StatefulSet","name":"db"}';
    expect(validateConfigValues({ metric: BASE.metric, evaluate: BASE.evaluate }, { scaleTargetRef: ref }).config.scaleTargetRef).toEqual({
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      name: "db",
    });
  });
  test("boolean key parses YAML", () => {
    expect(validateConfigValues(BASE, { requireKubernetesMetrics: "true" }).config.requireKubernetesMetrics).toBe(true);
  });
  test("method key parses YAML", () => {
    const method = "{type: shell, timeout: 100, shell: {entrypoint: python3, command: [/m.py]}}";
    expect(validateConfigValues(BASE, { metric: method }).config.metric.shell?.command).toEqual(["/m.py"]);
  });
});

describe("config Go compatibility", () => {
  test("keys match case-insensitively", () => {
    const { config, warnings } = validateConfigValues({ ...BASE, MinReplicas: 3, MaxReplicas: 4, Metric: { Type: "shell", Shell: { Command: ["-c", "echo 1"] } } }, {});
    expect(config.minReplicas).toBe(3);
    expect(config.maxReplicas).toBe(4);
    expect(config.metric.shell?.command).toEqual(["-c", "echo 1"]);
    expect(warnings).toEqual([]);
  });
  test("exact key wins over a case variant", () => {
    expect(validateConfigValues({ ...BASE, minReplicas: 2, MinReplicas: 5 }, {}).config.minReplicas).toBe(2);
  });
  test("YAML 1.1 yes is a boolean", () => {
    const path = writeTemp("yes.yaml", "scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\nmetric: {type: shell, shell: {command: [-c, echo 1], logStderr: yes}}\nevaluate: {type: shell, shell: {command: [-c, echo 1]}}\n");
    expect(loadConfig({ configPath: path, env: {} }).config.metric.shell?.logStderr).toBe(true);
  });
  test("empty CONFIG_PATH falls through to configPath", () => {
    expect(resolveConfigPath({ env: { CONFIG_PATH: "", configPath: "/c" } }).path).toBe("/c");
  });
});

describe("config unknown keys", () => {
  test("British spelling gets a suggestion", () => {
    const { warnings } = validateConfigValues({ ...BASE, downscaleStabilisation: 60 }, {});
    expect(warnings).toEqual([{ path: "downscaleStabilisation", suggestion: "downscaleStabilization" }]);
  });
  test("nested unknown key gets a suggestion", () => {
    const { warnings } = validateConfigValues({ ...BASE, metric: { ...sh("echo 1"), timout: 5 } }, {});
    expect(warnings).toContainEqual({ path: "metric.timout", suggestion: "timeout" });
  });
  test("HPA key without a near match has no suggestion", () => {
    const { warnings } = validateConfigValues({ ...BASE, tolerance: 0.1 }, {});
    expect(warnings).toEqual([{ path: "tolerance", suggestion: undefined }]);
  });
  const suggestions: [string, string | undefined][] = [
    ["minreplicas", "minReplicas"],
    ["maxReplica", "maxReplicas"],
    ["intervall", "interval"],
    ["evalaute", "evaluate"],
    ["completelyDifferent", undefined],
  ];
  for (const [key, expected] of suggestions) {
    test(`nearestKey of ${key}`, () => expect(nearestKey(key, ["minReplicas", "maxReplicas", "interval", "evaluate", "metric"])).toBe(expected));
  }
});

describe("config file loading", () => {
  test("reads YAML file", () => {
    const path = writeTemp("config.yaml", "scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}\nmetric: {type: shell, shell: {command: [-c, echo 1]}}\nevaluate: {type: shell, shell: {command: [-c, echo 1]}}\ninterval: 500\n");
    const loaded = loadConfig({ configPath: path, env: {} });
    expect(loaded.config.interval).toBe(500);
  });
  test("reads JSON file", () => {
    const path = writeTemp("config.json", JSON.stringify({ ...BASE, interval: 700 }));
    expect(loadConfig({ configPath: path, env: {} }).config.interval).toBe(700);
  });
  test("missing explicit file is an error", () => {
    expect(() => loadConfig({ configPath: "/nonexistent/cpa.yaml", env: {} })).toThrow("the configuration file must exist");
  });
  test("YAML syntax error names the line", () => {
    const path = writeTemp("bad.yaml", "interval: 5\nmetric: [unclosed\n");
    expect(() => loadConfig({ configPath: path, env: {} })).toThrow(/line \d+/);
  });
  test("path order: flag, CONFIG_PATH, configPath, default", () => {
    expect(resolveConfigPath({ configPath: "/a", env: { CONFIG_PATH: "/b", configPath: "/c" } }).path).toBe("/a");
    expect(resolveConfigPath({ env: { CONFIG_PATH: "/b", configPath: "/c" } }).path).toBe("/b");
    expect(resolveConfigPath({ env: { configPath: "/c" } }).path).toBe("/c");
    expect(resolveConfigPath({ env: {} })).toEqual({ path: "/config.yaml", explicit: false });
  });
  test("environment alone supplies a configuration", () => {
    const env = {
      CONFIG_PATH: "",
      scaleTargetRef: JSON.stringify(BASE.scaleTargetRef),
      metric: JSON.stringify(BASE.metric),
      evaluate: JSON.stringify(BASE.evaluate),
    };
    // The default path /config.yaml does not exist on test machines.
    expect(loadConfig({ env }).config.scaleTargetRef.name).toBe("web");
  });
});
