/**
 * Kubernetes metric gathering against a fake client, one case per test case of the behaviour
 * specification (TC01 to TC35) plus the additions of this agent: error entries, container
 * resource metrics and required-metric failures that name every failed spec.
 */
import { describe, expect, test } from "bun:test";
import { createKubernetesMetricsSource, KubernetesMetricsError } from "../../src/k8s-metrics/index.ts";
import { rootLogger } from "../../src/logging.ts";
import { runCycle } from "../../src/pipeline/cycle.ts";
import { StabilizationWindow } from "../../src/pipeline/scaling.ts";
import { makeConfig, sh } from "../helpers/config.ts";
import { captureLogs } from "../helpers/log-capture.ts";
import { FakeClock, FakeRunner, FakeTarget } from "../helpers/fakes.ts";
import type { ResourceInfo } from "../../src/kube/discovery.ts";
import { KubeApiError, type KubeObject, type KubeRequest } from "../../src/kube/index.ts";
import type { MetricsApiClient } from "../../src/k8s-metrics/index.ts";

type Response = unknown | Error | (() => unknown);

/** Returns an API group list in which custom.metrics.k8s.io prefers `preferred`. */
function apiGroups(preferred = "v1beta2"): Record<string, unknown> {
  return {
    kind: "APIGroupList",
    groups: [
      { name: "apps", versions: [{ groupVersion: "apps/v1", version: "v1" }], preferredVersion: { groupVersion: "apps/v1", version: "v1" } },
      {
        name: "networking.k8s.io",
        versions: [{ groupVersion: "networking.k8s.io/v1", version: "v1" }],
        preferredVersion: { groupVersion: "networking.k8s.io/v1", version: "v1" },
      },
      {
        name: "custom.metrics.k8s.io",
        versions: [
          { groupVersion: "custom.metrics.k8s.io/v1beta2", version: "v1beta2" },
          { groupVersion: "custom.metrics.k8s.io/v1beta1", version: "v1beta1" },
        ],
        preferredVersion: { groupVersion: `custom.metrics.k8s.io/${preferred}`, version: preferred },
      },
      { name: "external.metrics.k8s.io", versions: [{ groupVersion: "external.metrics.k8s.io/v1beta1", version: "v1beta1" }] },
    ],
  };
}

const RESOURCES: Readonly<Record<string, string>> = {
  "networking.k8s.io/v1 Ingress": "ingresses",
  "apps/v1 Deployment": "deployments",
  "v1 Service": "services",
};

class FakeMetricsClient implements MetricsApiClient {
  /** Calls in order: `GET <path?query>` for requests and pod lists, `RESOLVE <apiVersion> <kind>` for discovery. */
  readonly calls: string[] = [];
  readonly responses = new Map<string, Response>([["/apis", apiGroups()]]);
  pods: KubeObject[] = [];
  podsError: Error | undefined;

  respond(path: string, response: Response): this {
    this.responses.set(path, response);
    return this;
  }

  async request(request: KubeRequest): Promise<unknown> {
    this.calls.push(`GET ${request.path}`);
    const response = this.responses.get(request.path);
    if (response === undefined) {
      throw new KubeApiError(`failed to ${request.purpose.operation}: not found: the server could not find the requested resource`, {
        failure: "status",
        operation: request.purpose.operation,
        status: 404,
        reason: "NotFound",
      });
    }
    if (response instanceof Error) throw response;
    return structuredClone(typeof response === "function" ? (response as () => unknown)() : response);
  }

  async listPods(namespace: string, labelSelector: string): Promise<KubeObject[]> {
    const query = labelSelector === "" ? "" : `?${new URLSearchParams({ labelSelector })}`;
    this.calls.push(`GET /api/v1/namespaces/${namespace}/pods${query}`);
    if (this.podsError !== undefined) throw this.podsError;
    return structuredClone(this.pods);
  }

  async resolveResource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    this.calls.push(`RESOLVE ${apiVersion} ${kind}`);
    const resource = RESOURCES[`${apiVersion} ${kind}`];
    if (resource === undefined) throw new Error(`kind ${kind} is not served in API group version ${apiVersion}`);
    const slash = apiVersion.indexOf("/");
    return {
      group: slash === -1 ? "" : apiVersion.slice(0, slash),
      version: apiVersion.slice(slash + 1),
      resource,
      kind,
      namespaced: true,
      hasScale: false,
    };
  }

  /** Calls other than API discovery, for checks of the metric and pod requests made. */
  dataCalls(): string[] {
    return this.calls.filter((call) => call !== "GET /apis" && !call.startsWith("RESOLVE "));
  }
}

/** Returns `2024-05-01T<time>Z`. */
const at = (time: string): string => `2024-05-01T${time}Z`;

interface PodOptions {
  phase?: string;
  start?: string | null;
  /** Ready condition status and lastTransitionTime (a time of day); none when undefined. */
  ready?: [status: string, time: string];
  deleting?: string;
  /** Container name to requests, such as `{ app: { cpu: "200m" } }`. A container with `{}` has no requests. */
  containers?: Record<string, Record<string, string>>;
}

/** Builds a pod; the default is Running, started 10:00:00, Ready True since 10:00:20, one container `app` requesting 100m cpu. */
function pod(name: string, options: PodOptions = {}): KubeObject {
  const metadata: Record<string, unknown> = { name, namespace: "default", labels: { app: "web" } };
  if (options.deleting !== undefined) metadata["deletionTimestamp"] = at(options.deleting);
  const containers = Object.entries(options.containers ?? { app: { cpu: "100m" } }).map(([containerName, requests]) => ({
    name: containerName,
    image: "registry.example/web:1",
    resources: Object.keys(requests).length === 0 ? {} : { requests },
  }));
  const status: Record<string, unknown> = { phase: options.phase ?? "Running" };
  const start = options.start === undefined ? "10:00:00" : options.start;
  if (start !== null) status["startTime"] = at(start);
  const ready = options.ready ?? ["True", "10:00:20"];
  status["conditions"] = [
    { type: "Initialized", status: "True", lastTransitionTime: at("09:59:59") },
    { type: "Ready", status: ready[0], lastTransitionTime: at(ready[1]) },
  ];
  return { metadata, spec: { containers }, status };
}

/** Builds a pod without conditions or start time, as a Pending pod has. */
function pendingPod(name: string, containers: Record<string, Record<string, string>> = { app: { cpu: "200m" } }): KubeObject {
  const built = pod(name, { phase: "Pending", start: null, containers });
  const status = built["status"] as Record<string, unknown>;
  delete status["conditions"];
  return built;
}

/** Builds one PodMetrics item; `containers` maps container name to usage. */
function podMetrics(name: string, timestamp: string | undefined, window: string | undefined, containers: Record<string, Record<string, string>>): Record<string, unknown> {
  const item: Record<string, unknown> = { metadata: { name, namespace: "default" } };
  if (timestamp !== undefined) item["timestamp"] = timestamp;
  if (window !== undefined) item["window"] = window;
  item["containers"] = Object.entries(containers).map(([containerName, usage]) => ({ name: containerName, usage }));
  return item;
}

/** Builds one custom metric value in the v1beta2 shape. */
function customValue(name: string, value: string, timestamp = at("12:00:00"), windowSeconds?: number): Record<string, unknown> {
  const item: Record<string, unknown> = { describedObject: { kind: "Pod", namespace: "default", name, apiVersion: "/v1" }, metric: { name: "m" }, timestamp };
  if (windowSeconds !== undefined) item["windowSeconds"] = windowSeconds;
  item["value"] = value;
  return item;
}

/** Builds one external metric value. */
function externalValue(value: string, timestamp: string): Record<string, unknown> {
  return { metricName: "queue_messages_ready", metricLabels: { queue: "worker_tasks" }, timestamp, value };
}

const list = (items: unknown[]): Record<string, unknown> => ({ kind: "List", apiVersion: "v1", metadata: {}, items });

// ---------------------------------------------------------------------------------------------
// Harness

const NOW = Date.parse("2024-05-01T12:00:00Z");
const POD_METRICS_URL = "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dweb";
const POD_LIST_URL = "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb";
const PACKETS_URL = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/pods/*/packets-per-second?labelSelector=app%3Dweb";
const INGRESS_URL = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/ingresses.networking.k8s.io/main-route/requests-per-second";
const QUEUE_URL = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue_messages_ready?labelSelector=queue%3Dworker_tasks";

interface Scenario {
  specs?: unknown[] | undefined;
  require?: boolean;
  replicas?: number;
  selector?: string;
  pods?: KubeObject[];
  responses?: Record<string, Response>;
  failedSpecs?: "entry" | "omit";
  client?: FakeMetricsClient;
}

function settings(scenario: Scenario) {
  return {
    namespace: "default",
    kubernetesMetricSpecs: scenario.specs as Record<string, unknown>[] | undefined,
    requireKubernetesMetrics: scenario.require ?? false,
    initialReadinessDelay: 30,
    cpuInitializationPeriod: 300,
  };
}

function makeClient(scenario: Scenario): FakeMetricsClient {
  const client = scenario.client ?? new FakeMetricsClient();
  client.pods = scenario.pods ?? client.pods;
  for (const [path, response] of Object.entries(scenario.responses ?? {})) client.respond(path, response);
  return client;
}

/** Gathers once and returns the entries as JSON text, or the error, with the client's calls. */
async function gather(scenario: Scenario) {
  const client = makeClient(scenario);
  const logs = captureLogs(1);
  const source = createKubernetesMetricsSource({
    client,
    config: settings(scenario),
    logger: rootLogger(),
    clock: new FakeClock(NOW),
    failedSpecs: scenario.failedSpecs,
  });
  try {
    const entries = await source.gather({}, { replicas: scenario.replicas ?? 1, selector: scenario.selector ?? "app=web" }, new AbortController().signal);
    return { json: JSON.stringify(entries), entries: entries as Record<string, unknown>[], error: undefined, client, logs };
  } catch (error) {
    return { json: undefined, entries: undefined, error: error as Error, client, logs };
  }
}

/** Returns the JSON of one source block of the first entry. */
async function sourceJson(scenario: Scenario, key: string): Promise<string> {
  const result = await gather(scenario);
  if (result.error !== undefined) throw result.error;
  return JSON.stringify(result.entries![0]![key]);
}

/** Returns the `error` field of each error entry, in order. */
function entryErrors(entries: Record<string, unknown>[] | undefined): unknown[] {
  return (entries ?? []).filter((entry) => "error" in entry).map((entry) => entry["error"]);
}

const cpuUtilization = { type: "Resource", resource: { name: "cpu", target: { type: "Utilization" } } };
const cpuAverage = { type: "Resource", resource: { name: "cpu", target: { type: "AverageValue" } } };
const memoryUtilization = { type: "Resource", resource: { name: "memory", target: { type: "Utilization" } } };
const memoryAverage = { type: "Resource", resource: { name: "memory", target: { type: "AverageValue" } } };
const packetsSpec = { type: "Pods", pods: { metric: { name: "packets-per-second" }, target: { type: "AverageValue" } } };
const podsValueSpec = { type: "Pods", pods: { metric: { name: "x" }, target: { type: "Value" } } };
const ingressSpec = (targetType: string) => ({
  type: "Object",
  object: {
    describedObject: { kind: "Ingress", name: "main-route", apiVersion: "networking.k8s.io/v1" },
    metric: { name: "requests-per-second" },
    target: { type: targetType },
  },
});
const queueSpec = {
  type: "External",
  external: { metric: { name: "queue_messages_ready", selector: { matchLabels: { queue: "worker_tasks" } } }, target: { type: "Value" } },
};

// ---------------------------------------------------------------------------------------------
// Fixtures of the worked examples

const exampleAPods = [
  pod("web-1", { containers: { app: { cpu: "200m" }, sidecar: { cpu: "100m" } } }),
  pod("web-2", { start: "11:59:00", ready: ["True", "11:59:40"], containers: { app: { cpu: "200m" } } }),
  pendingPod("web-3"),
  pod("web-4", { containers: { app: { cpu: "200m" } } }),
  pod("web-5", { deleting: "11:59:50", containers: { app: { cpu: "200m" } } }),
];
const exampleAMetrics = list([
  podMetrics("web-1", at("12:00:00"), "30s", { app: { cpu: "150123456n" }, sidecar: { cpu: "10m" } }),
  podMetrics("web-2", at("12:00:00"), "30s", { app: { cpu: "300m" } }),
  podMetrics("web-5", at("12:00:00"), "30s", { app: { cpu: "90m" } }),
]);
const exampleA: Scenario = { specs: [cpuUtilization], replicas: 5, pods: exampleAPods, responses: { [POD_METRICS_URL]: exampleAMetrics } };
const EXAMPLE_A_KM =
  '[{"current_replicas":5,"spec":{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization"}}},"resource":{"pod_metrics_info":{"web-1":{"Timestamp":"2024-05-01T12:00:00Z","Window":30000000000,"Value":161},"web-5":{"Timestamp":"2024-05-01T12:00:00Z","Window":30000000000,"Value":90}},"requests":{"web-1":300,"web-2":200,"web-3":200,"web-4":200,"web-5":200},"ready_pod_count":1,"ignored_pods":{"web-2":{},"web-3":{}},"missing_pods":{"web-4":{}},"total_pods":5,"timestamp":"2024-05-01T12:00:00Z"}}]';

const exampleC: Scenario = {
  specs: [packetsSpec],
  replicas: 3,
  pods: [pod("web-a"), pod("web-b", { ready: ["False", "10:00:20"] }), pendingPod("web-c"), pod("web-d")],
  responses: { [PACKETS_URL]: list([customValue("web-a", "1500m"), customValue("web-b", "2"), customValue("web-c", "500m", at("12:00:00"), 120)]) },
};
const EXAMPLE_C_KM =
  '[{"current_replicas":3,"spec":{"type":"Pods","pods":{"metric":{"name":"packets-per-second"},"target":{"type":"AverageValue"}}},"pods":{"pod_metrics_info":{"web-a":{"Timestamp":"2024-05-01T12:00:00Z","Window":60000000000,"Value":1500},"web-b":{"Timestamp":"2024-05-01T12:00:00Z","Window":60000000000,"Value":2000},"web-c":{"Timestamp":"2024-05-01T12:00:00Z","Window":120000000000,"Value":500}},"ready_pod_count":2,"ignored_pods":null,"missing_pods":{"web-d":{}},"total_pods":4,"timestamp":"2024-05-01T12:00:00Z"}}]';

const ingressPods = [pod("web-1"), pod("web-2"), pod("web-3"), pod("web-4", { ready: ["False", "11:00:00"] })];
const exampleE = (targetType: string): Scenario => ({
  specs: [ingressSpec(targetType)],
  replicas: 4,
  pods: ingressPods,
  responses: { [INGRESS_URL]: list([{ describedObject: { kind: "Ingress", name: "main-route" }, metric: { name: "requests-per-second" }, timestamp: at("12:00:00"), value: "2500m" }]) },
});

const queueItems = list([externalValue("30", at("12:00:00")), externalValue("12", at("11:59:30"))]);
const exampleG: Scenario = { specs: [queueSpec], replicas: 2, pods: [pod("w-1"), pod("w-2")], responses: { [QUEUE_URL]: queueItems } };
const EXAMPLE_G_KM =
  '[{"current_replicas":2,"spec":{"type":"External","external":{"metric":{"name":"queue_messages_ready","selector":{"matchLabels":{"queue":"worker_tasks"}}},"target":{"type":"Value"}}},"external":{"current":{"value":42000},"ready_pod_count":2,"timestamp":"2024-05-01T12:00:00Z"}}]';

/** TC02's pod: start 11:58:00, Ready since 11:58:30, 100m requested. */
const initializingPod = (ready: [string, string] = ["True", "11:58:30"], start = "11:58:00") => pod("c-1", { start, ready });
const cpuSample = (timestamp: string, window: string) => list([podMetrics("c-1", at(timestamp), window, { app: { cpu: "50m" } })]);
const singleCpuPod = (podObject: KubeObject, timestamp: string, window: string): Scenario => ({
  specs: [cpuUtilization],
  pods: [podObject],
  responses: { [POD_METRICS_URL]: cpuSample(timestamp, window) },
});

const TC02_RESOURCE =
  '{"pod_metrics_info":{"c-1":{"Timestamp":"2024-05-01T11:59:30Z","Window":60000000000,"Value":50}},"requests":{"c-1":100},"ready_pod_count":1,"ignored_pods":{},"missing_pods":{},"total_pods":1,"timestamp":"2024-05-01T11:59:30Z"}';
const TC04_RESOURCE =
  '{"pod_metrics_info":{},"requests":{"c-1":100},"ready_pod_count":0,"ignored_pods":{"c-1":{}},"missing_pods":{},"total_pods":1,"timestamp":"2024-05-01T12:00:00Z"}';
const TC05_RESOURCE =
  '{"pod_metrics_info":{"c-1":{"Timestamp":"2024-05-01T12:00:00Z","Window":30000000000,"Value":50}},"requests":{"c-1":100},"ready_pod_count":1,"ignored_pods":{},"missing_pods":{},"total_pods":1,"timestamp":"2024-05-01T12:00:00Z"}';

// ---------------------------------------------------------------------------------------------
// Test cases of the specification

describe("kubernetes metrics: resource metrics", () => {
  const cases: [name: string, scenario: Scenario, expected: string][] = [
    ["TC02 initialising cpu, sample at the boundary counts", singleCpuPod(initializingPod(), "11:59:30", "60s"), TC02_RESOURCE],
    [
      "TC03 initialising cpu, stale sample ignored",
      singleCpuPod(initializingPod(), "11:59:29", "60s"),
      '{"pod_metrics_info":{},"requests":{"c-1":100},"ready_pod_count":0,"ignored_pods":{"c-1":{}},"missing_pods":{},"total_pods":1,"timestamp":"2024-05-01T11:59:29Z"}',
    ],
    ["TC04 initialising cpu, Ready False ignored", singleCpuPod(initializingPod(["False", "11:58:30"]), "12:00:00", "30s"), TC04_RESOURCE],
    ["TC05 initialising cpu, Ready Unknown with fresh sample counts", singleCpuPod(initializingPod(["Unknown", "11:58:30"]), "12:00:00", "30s"), TC05_RESOURCE],
    ["TC06 cpu never ready after initialisation ignored", singleCpuPod(initializingPod(["False", "11:00:20"], "11:00:00"), "12:00:00", "30s"), TC04_RESOURCE],
    ["TC07 cpu unready later than start + delay counts", singleCpuPod(initializingPod(["False", "11:00:30"], "11:00:00"), "12:00:00", "30s"), TC05_RESOURCE],
    [
      "TC08 cpu without Ready condition or start time ignored",
      {
        specs: [cpuUtilization],
        pods: [
          (() => {
            const built = pod("c-1", { start: "11:00:00" });
            delete (built["status"] as Record<string, unknown>)["conditions"];
            return built;
          })(),
          pod("c-2", { start: null, ready: ["True", "11:00:20"] }),
        ],
        responses: {
          [POD_METRICS_URL]: list([
            podMetrics("c-1", at("12:00:00"), "30s", { app: { cpu: "50m" } }),
            podMetrics("c-2", at("12:00:00"), "30s", { app: { cpu: "50m" } }),
          ]),
        },
      },
      '{"pod_metrics_info":{},"requests":{"c-1":100,"c-2":100},"ready_pod_count":0,"ignored_pods":{"c-1":{},"c-2":{}},"missing_pods":{},"total_pods":2,"timestamp":"2024-05-01T12:00:00Z"}',
    ],
    [
      "TC09 initialisation ending exactly now counts",
      singleCpuPod(initializingPod(["True", "11:55:05"], "11:55:00"), "11:55:10", "30s"),
      '{"pod_metrics_info":{"c-1":{"Timestamp":"2024-05-01T11:55:10Z","Window":30000000000,"Value":50}},"requests":{"c-1":100},"ready_pod_count":1,"ignored_pods":{},"missing_pods":{},"total_pods":1,"timestamp":"2024-05-01T11:55:10Z"}',
    ],
    [
      "TC10 memory keeps phases other than Pending",
      {
        specs: [memoryUtilization],
        pods: [
          pod("m-1", { start: "11:59:50", ready: ["False", "11:59:55"], containers: { app: { memory: "64Mi" } } }),
          pod("m-2", { phase: "Succeeded", containers: { app: { memory: "64Mi" } } }),
          pod("m-3", { phase: "Failed", containers: { app: { memory: "64Mi" } } }),
          pod("m-4", { deleting: "11:59:00", containers: { app: { memory: "64Mi" } } }),
        ],
        responses: {
          [POD_METRICS_URL]: list([
            podMetrics("m-1", at("12:00:00"), "30s", { app: { memory: "10Mi" } }),
            podMetrics("m-2", at("12:00:00"), "30s", { app: { memory: "1Mi" } }),
            podMetrics("m-3", at("12:00:00"), "30s", { app: { memory: "2Mi" } }),
          ]),
        },
      },
      '{"pod_metrics_info":{"m-1":{"Timestamp":"2024-05-01T12:00:00Z","Window":30000000000,"Value":10485760000},"m-2":{"Timestamp":"2024-05-01T12:00:00Z","Window":30000000000,"Value":1048576000},"m-3":{"Timestamp":"2024-05-01T12:00:00Z","Window":30000000000,"Value":2097152000}},"requests":{"m-1":67108864000,"m-2":67108864000,"m-3":67108864000,"m-4":67108864000},"ready_pod_count":2,"ignored_pods":{},"missing_pods":{},"total_pods":4,"timestamp":"2024-05-01T12:00:00Z"}',
    ],
    [
      "TC11 incomplete containers are missing, timestamp from first item",
      {
        specs: [memoryAverage],
        pods: [pod("g-1"), pod("g-2"), pod("g-3")],
        responses: {
          [POD_METRICS_URL]: list([
            podMetrics("g-2", at("11:59:58"), undefined, { app: { cpu: "5m" } }),
            podMetrics("g-1", at("12:00:00"), "30s", { app: { memory: "1Mi" } }),
            podMetrics("g-3", undefined, undefined, {}),
          ]),
        },
      },
      '{"pod_metrics_info":{"g-1":{"Timestamp":"2024-05-01T12:00:00Z","Window":30000000000,"Value":1048576000}},"requests":null,"ready_pod_count":1,"ignored_pods":{},"missing_pods":{"g-2":{},"g-3":{}},"total_pods":3,"timestamp":"2024-05-01T11:59:58Z"}',
    ],
    [
      "TC32 timestamps and windows render like Go",
      {
        specs: [cpuAverage],
        pods: [pod("r-1"), pod("r-2")],
        responses: {
          [POD_METRICS_URL]: list([
            podMetrics("r-1", "2024-05-01T14:00:00.120+02:00", "1m30s", { app: { cpu: "250m" } }),
            podMetrics("r-2", "2024-05-01T12:00:01.000000001Z", undefined, { app: { cpu: "100m" } }),
          ]),
        },
      },
      '{"pod_metrics_info":{"r-1":{"Timestamp":"2024-05-01T12:00:00.12Z","Window":90000000000,"Value":250},"r-2":{"Timestamp":"2024-05-01T12:00:01.000000001Z","Window":0,"Value":100}},"requests":null,"ready_pod_count":2,"ignored_pods":{},"missing_pods":{},"total_pods":2,"timestamp":"2024-05-01T12:00:00.12Z"}',
    ],
  ];

  test.each(cases)("%s", async (_name, scenario, expected) => {
    expect(await sourceJson(scenario, "resource")).toBe(expected);
  });

  test("TC01 mixed pods: exact entries and calls", async () => {
    const result = await gather(exampleA);
    expect(result.json).toBe(EXAMPLE_A_KM);
    expect(result.client.calls).toEqual([`GET ${POD_METRICS_URL}`, `GET ${POD_LIST_URL}`]);
  });

  test("TC01 metric script stdin through the cycle", async () => {
    const client = makeClient(exampleA);
    const config = makeConfig({ kubernetesMetricSpecs: [cpuUtilization] });
    const target = new FakeTarget({ replicas: 5, selector: "app=web" });
    const runner = new FakeRunner({ metric: () => "1", evaluate: () => '{"targetReplicas": 5}' });
    const clock = new FakeClock(NOW);
    const kubernetesMetrics = createKubernetesMetricsSource({ client, config, logger: rootLogger(), clock });
    const deps = { config, target, runner, clock, logger: rootLogger(), window: new StabilizationWindow(0), kubernetesMetrics };
    await runCycle(deps, { runType: "scaler", signal: new AbortController().signal });
    const deploymentJson = JSON.stringify(target.object);
    expect(runner.inputOf("metric")).toBe(`{"resource":${deploymentJson},"runType":"scaler","kubernetesMetrics":${EXAMPLE_A_KM}}`);
  });

  test("example B memory average value with target echo", async () => {
    const scenario: Scenario = {
      specs: [{ type: "Resource", resource: { name: "memory", target: { type: "AverageValue", averageValue: "100Mi" } } }],
      replicas: 2,
      pods: [pod("api-0"), pod("api-1")],
      responses: {
        [POD_METRICS_URL]: list([
          podMetrics("api-0", at("11:59:45"), "15s", { app: { memory: "50Mi" } }),
          podMetrics("api-1", at("11:59:47.5"), "15s", { app: { memory: "64Mi" }, sidecar: { memory: "36Mi" } }),
        ]),
      },
    };
    expect((await gather(scenario)).json).toBe(
      '[{"current_replicas":2,"spec":{"type":"Resource","resource":{"name":"memory","target":{"type":"AverageValue","averageValue":"100Mi"}}},"resource":{"pod_metrics_info":{"api-0":{"Timestamp":"2024-05-01T11:59:45Z","Window":15000000000,"Value":52428800000},"api-1":{"Timestamp":"2024-05-01T11:59:47.5Z","Window":15000000000,"Value":104857600000}},"requests":null,"ready_pod_count":2,"ignored_pods":{},"missing_pods":{},"total_pods":2,"timestamp":"2024-05-01T11:59:45Z"}}]',
    );
  });

  test("TC12 container without request fails the spec", async () => {
    const scenario = singleCpuPod(pod("c-1", { start: "11:58:00", ready: ["True", "11:58:30"], containers: { app: { cpu: "100m" }, sidecar: {} } }), "11:59:30", "60s");
    const omitted = await gather({ ...scenario, failedSpecs: "omit" });
    expect(omitted.json).toBe("[]");
    const logged = omitted.logs.find("failed to get Kubernetes metric");
    expect(logged.length).toBe(1);
    expect(logged[0]!["error"]).toBe("failed to get resource metric: missing request for cpu");
    expect(logged[0]!["key"]).toBe("kubernetesMetricSpecs[0]");
    expect(logged[0]!["level"]).toBe("ERROR");

    const withEntry = await gather(scenario);
    expect(withEntry.json).toBe(
      '[{"current_replicas":1,"spec":{"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization"}}},"error":"failed to get resource metric: missing request for cpu"}]',
    );
  });

  test("TC13 empty resource metrics list fails before the pod list", async () => {
    const result = await gather({ specs: [cpuUtilization], pods: [pod("c-1")], responses: { [POD_METRICS_URL]: list([]) } });
    expect(entryErrors(result.entries)).toEqual([
      "failed to get resource metric: unable to get metrics for resource cpu: no metrics returned from resource metrics API",
    ]);
    expect(result.client.calls).toEqual([`GET ${POD_METRICS_URL}`]);
  });

  test("TC14 metrics without pods fails", async () => {
    const result = await gather({ specs: [cpuUtilization], pods: [], responses: { [POD_METRICS_URL]: cpuSample("12:00:00", "30s") } });
    expect(entryErrors(result.entries)).toEqual(["failed to get resource metric: no pods returned by selector while calculating replica count"]);
  });
});

describe("kubernetes metrics: pods metrics", () => {
  test("TC15 pods metric: exact entries and call", async () => {
    const result = await gather(exampleC);
    expect(result.json).toBe(EXAMPLE_C_KM);
    expect(result.client.dataCalls()).toEqual([`GET ${PACKETS_URL}`, `GET ${POD_LIST_URL}`]);
  });

  test("TC16 pods metric with empty pod list", async () => {
    const result = await gather({ specs: [packetsSpec], replicas: 0, pods: [], responses: { [PACKETS_URL]: list([customValue("web-old", "1")]) } });
    expect(result.json).toBe(
      '[{"current_replicas":0,"spec":{"type":"Pods","pods":{"metric":{"name":"packets-per-second"},"target":{"type":"AverageValue"}}},"pods":{"pod_metrics_info":null,"ready_pod_count":0,"ignored_pods":null,"missing_pods":null,"total_pods":0,"timestamp":"2024-05-01T12:00:00Z"}}]',
    );
  });

  test("TC17 pods metric with target Value fails without API calls", async () => {
    const result = await gather({ specs: [podsValueSpec], pods: [pod("web-a")] });
    expect(entryErrors(result.entries)).toEqual(["invalid pods metric source: must be average value"]);
    expect(result.client.calls).toEqual([]);
  });

  test("TC31 quantities round away from zero", async () => {
    const scenario: Scenario = {
      specs: [packetsSpec],
      pods: [pod("q-1"), pod("q-2"), pod("q-3"), pod("q-4")],
      responses: { [PACKETS_URL]: list([customValue("q-1", "1n"), customValue("q-2", "-1500u"), customValue("q-3", "2.5"), customValue("q-4", "1Ki")]) },
    };
    expect(await sourceJson(scenario, "pods")).toBe(
      '{"pod_metrics_info":{"q-1":{"Timestamp":"2024-05-01T12:00:00Z","Window":60000000000,"Value":1},"q-2":{"Timestamp":"2024-05-01T12:00:00Z","Window":60000000000,"Value":-2},"q-3":{"Timestamp":"2024-05-01T12:00:00Z","Window":60000000000,"Value":2500},"q-4":{"Timestamp":"2024-05-01T12:00:00Z","Window":60000000000,"Value":1024000}},"ready_pod_count":4,"ignored_pods":null,"missing_pods":{},"total_pods":4,"timestamp":"2024-05-01T12:00:00Z"}',
    );
  });

  test("TC34 custom metrics v1beta1 fallback, version cached", async () => {
    const v1beta1Url = "/apis/custom.metrics.k8s.io/v1beta1/namespaces/default/pods/*/packets-per-second?labelSelector=app%3Dweb";
    const client = new FakeMetricsClient().respond("/apis", apiGroups("v1beta1"));
    const scenario: Scenario = {
      client,
      specs: [packetsSpec, packetsSpec],
      pods: [pod("web-a")],
      responses: {
        [v1beta1Url]: list([
          { describedObject: { kind: "Pod", name: "web-a" }, metricName: "packets-per-second", timestamp: at("12:00:00"), window: 30, value: "1" },
        ]),
      },
    };
    const result = await gather(scenario);
    const expected =
      '{"pod_metrics_info":{"web-a":{"Timestamp":"2024-05-01T12:00:00Z","Window":30000000000,"Value":1000}},"ready_pod_count":1,"ignored_pods":null,"missing_pods":{},"total_pods":1,"timestamp":"2024-05-01T12:00:00Z"}';
    expect(JSON.stringify(result.entries![0]!["pods"])).toBe(expected);
    expect(JSON.stringify(result.entries![1]!["pods"])).toBe(expected);
    expect(result.client.calls.filter((call) => call === "GET /apis").length).toBe(1);
    expect(result.client.calls).toContain(`GET ${v1beta1Url}`);
  });

  test("TC35 missing source block is a spec error, not a crash", async () => {
    const omitted = await gather({ specs: [{ type: "Pods" }], failedSpecs: "omit" });
    expect(omitted.json).toBe("[]");
    const withEntry = await gather({ specs: [{ type: "Pods" }] });
    expect(entryErrors(withEntry.entries)).toEqual(["invalid pods metric source: missing pods block"]);
  });
});

describe("kubernetes metrics: object metrics", () => {
  test("TC18 object Value", async () => {
    const result = await gather(exampleE("Value"));
    expect(result.json).toBe(
      '[{"current_replicas":4,"spec":{"type":"Object","object":{"describedObject":{"kind":"Ingress","name":"main-route","apiVersion":"networking.k8s.io/v1"},"target":{"type":"Value"},"metric":{"name":"requests-per-second"}}},"object":{"current":{"value":2500},"ready_pod_count":3,"timestamp":"2024-05-01T12:00:00Z"}}]',
    );
    expect(result.client.dataCalls()).toEqual([`GET ${INGRESS_URL}`, `GET ${POD_LIST_URL}`]);
  });

  test("TC19 object AverageValue makes no pod list call", async () => {
    const result = await gather(exampleE("AverageValue"));
    expect(result.json).toBe(
      '[{"current_replicas":4,"spec":{"type":"Object","object":{"describedObject":{"kind":"Ingress","name":"main-route","apiVersion":"networking.k8s.io/v1"},"target":{"type":"AverageValue"},"metric":{"name":"requests-per-second"}}},"object":{"current":{"average_value":2500},"timestamp":"2024-05-01T12:00:00Z"}}]',
    );
    expect(result.client.dataCalls()).toEqual([`GET ${INGRESS_URL}`]);
  });

  test("TC20 object of kind Namespace", async () => {
    const url = "/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/metrics/queue-length";
    const scenario: Scenario = {
      specs: [{ type: "Object", object: { describedObject: { kind: "Namespace", name: "whatever", apiVersion: "v1" }, metric: { name: "queue-length" }, target: { type: "Value" } } }],
      pods: [pendingPod("p-1"), pod("p-2", { ready: ["False", "11:00:00"] })],
      responses: { [url]: list([{ describedObject: { kind: "Namespace", name: "default" }, metric: { name: "queue-length" }, timestamp: at("12:00:00"), value: "7" }]) },
    };
    const result = await gather(scenario);
    expect(JSON.stringify(result.entries![0]!["object"])).toBe('{"current":{"value":7000},"ready_pod_count":0,"timestamp":"2024-05-01T12:00:00Z"}');
    expect(result.client.dataCalls()).toEqual([`GET ${url}`, `GET ${POD_LIST_URL}`]);
  });

  test("TC21 object answer with two items fails", async () => {
    const item = { describedObject: { kind: "Ingress", name: "main-route" }, metric: { name: "requests-per-second" }, timestamp: at("12:00:00"), value: "1" };
    const result = await gather({ ...exampleE("Value"), responses: { [INGRESS_URL]: list([item, item]) } });
    expect(entryErrors(result.entries)).toEqual([
      "failed to get object metric: unable to get metric requests-per-second: Ingress on default main-route: unable to fetch metrics from custom metrics API: the custom metrics API server returned 2 results when we asked for exactly one",
    ]);
  });
});

describe("kubernetes metrics: external metrics", () => {
  test("TC22 external Value sums items", async () => {
    const result = await gather(exampleG);
    expect(result.json).toBe(EXAMPLE_G_KM);
    expect(result.client.calls).toEqual([`GET ${QUEUE_URL}`, `GET ${POD_LIST_URL}`]);
  });

  test("TC23 external AverageValue with matchExpressions", async () => {
    const url = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue_messages_ready?labelSelector=queue+in+%28a%2Cb%29";
    const scenario: Scenario = {
      specs: [
        {
          type: "External",
          external: {
            metric: { name: "queue_messages_ready", selector: { matchExpressions: [{ key: "queue", operator: "In", values: ["b", "a"] }] } },
            target: { type: "AverageValue", averageValue: 30 },
          },
        },
      ],
      replicas: 2,
      pods: [pod("w-1"), pod("w-2")],
      responses: { [url]: queueItems },
    };
    const result = await gather(scenario);
    expect(result.json).toBe(
      '[{"current_replicas":2,"spec":{"type":"External","external":{"metric":{"name":"queue_messages_ready","selector":{"matchExpressions":[{"key":"queue","operator":"In","values":["b","a"]}]}},"target":{"type":"AverageValue","averageValue":"30"}}},"external":{"current":{"average_value":42000},"timestamp":"2024-05-01T12:00:00Z"}}]',
    );
    expect(result.client.calls).toEqual([`GET ${url}`]);
    expect(new URL(`http://localhost${url}`).searchParams.get("labelSelector")).toBe("queue in (a,b)");
  });

  test("TC24 external without selector sends no labelSelector", async () => {
    const url = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue_depth";
    const result = await gather({
      specs: [{ type: "External", external: { metric: { name: "queue_depth" }, target: { type: "Value" } } }],
      responses: { [url]: list([]) },
    });
    expect(result.client.calls).toEqual([`GET ${url}`]);
    const [error] = entryErrors(result.entries);
    expect(String(error)).toEndWith("no metrics returned from external metrics API");
  });
});

describe("kubernetes metrics: failures and requireKubernetesMetrics", () => {
  const partial = (require: boolean, failedSpecs?: "entry" | "omit"): Scenario => ({
    specs: [cpuUtilization, podsValueSpec, queueSpec],
    require,
    failedSpecs,
    replicas: 2,
    pods: [initializingPod()],
    responses: { [POD_METRICS_URL]: cpuSample("11:59:30", "60s"), [QUEUE_URL]: queueItems },
  });

  test("TC25 partial failure, not required, Go shape", async () => {
    const result = await gather(partial(false, "omit"));
    expect(result.entries!.map((entry) => Object.keys(entry)[2])).toEqual(["resource", "external"]);
    expect(JSON.stringify(result.entries![0]!["resource"])).toBe(TC02_RESOURCE);
    expect(JSON.stringify(result.entries![1]!["external"])).toBe('{"current":{"value":42000},"ready_pod_count":1,"timestamp":"2024-05-01T12:00:00Z"}');
    const logged = result.logs.find("failed to get Kubernetes metric");
    expect(logged.map((line) => line["error"])).toEqual(["invalid pods metric source: must be average value"]);
  });

  test("TC25 partial failure keeps an error entry in place", async () => {
    const result = await gather(partial(false));
    expect(result.entries!.map((entry) => Object.keys(entry))).toEqual([
      ["current_replicas", "spec", "resource"],
      ["current_replicas", "spec", "error"],
      ["current_replicas", "spec", "external"],
    ]);
    expect(JSON.stringify(result.entries![1])).toBe(
      '{"current_replicas":2,"spec":{"type":"Pods","pods":{"metric":{"name":"x"},"target":{"type":"Value"}}},"error":"invalid pods metric source: must be average value"}',
    );
  });

  test("TC26 every spec fails, not required", async () => {
    const scenario: Scenario = { specs: [podsValueSpec, { type: "ContainerResource" }], failedSpecs: "omit" };
    const result = await gather(scenario);
    expect(result.json).toBe("[]");
    expect(result.logs.find("failed to get Kubernetes metric").map((line) => line["error"])).toEqual([
      "invalid pods metric source: must be average value",
      "invalid container resource metric source: missing containerResource block",
    ]);
    expect(entryErrors((await gather({ ...scenario, failedSpecs: "entry" })).entries).length).toBe(2);
  });

  test("TC27 partial failure, required", async () => {
    const result = await gather(partial(true));
    expect(result.error).toBeInstanceOf(KubernetesMetricsError);
    expect(result.error!.message).toBe("1 of 3 required Kubernetes metrics failed: pods/x: invalid pods metric source: must be average value");
  });

  test("TC27 cycle stops before any script", async () => {
    const client = makeClient(partial(true));
    // The configuration check rejects a Pods spec with target Value, so the spec goes to the source only.
    const config = makeConfig({ preMetric: sh(":") });
    const target = new FakeTarget({ replicas: 2 });
    const runner = new FakeRunner({ metric: () => "1", evaluate: () => '{"targetReplicas": 1}' });
    const clock = new FakeClock(NOW);
    const kubernetesMetrics = createKubernetesMetricsSource({ client, config: settings(partial(true)), logger: rootLogger(), clock });
    const deps = { config, target, runner, clock, logger: rootLogger(), window: new StabilizationWindow(0), kubernetesMetrics };
    const cycle = runCycle(deps, { runType: "scaler", signal: new AbortController().signal });
    await expect(cycle).rejects.toThrow("1 of 3 required Kubernetes metrics failed: pods/x: invalid pods metric source: must be average value");
    expect(runner.stages()).toEqual([]);
    expect(target.patches).toEqual([]);
  });

  test("TC28 every spec fails, required", async () => {
    const result = await gather({ specs: [podsValueSpec], require: true });
    expect(result.error!.message).toBe("1 of 1 required Kubernetes metrics failed: pods/x: invalid pods metric source: must be average value");
  });

  test.each([
    ["absent", undefined],
    ["empty", []],
  ])("TC29 no specs (%s): no calls, no entries", async (_name, specs) => {
    const result = await gather({ specs });
    expect(result.json).toBe("[]");
    expect(result.client.calls).toEqual([]);
  });

  test("TC30 ContainerResource is gathered", async () => {
    const spec = { type: "ContainerResource", containerResource: { name: "cpu", container: "app", target: { type: "Utilization" } } };
    const result = await gather({
      specs: [spec],
      pods: [pod("c-1", { containers: { app: { cpu: "200m" }, sidecar: {} } })],
      responses: { [POD_METRICS_URL]: list([podMetrics("c-1", at("12:00:00"), "30s", { app: { cpu: "150m" }, sidecar: { cpu: "30m" } })]) },
    });
    expect(result.json).toBe(
      '[{"current_replicas":1,"spec":{"type":"ContainerResource","containerResource":{"name":"cpu","target":{"type":"Utilization"},"container":"app"}},"containerResource":{"pod_metrics_info":{"c-1":{"Timestamp":"2024-05-01T12:00:00Z","Window":30000000000,"Value":150}},"requests":{"c-1":200},"ready_pod_count":1,"ignored_pods":{},"missing_pods":{},"total_pods":1,"timestamp":"2024-05-01T12:00:00Z"}}]',
    );
  });

  test("TC33 per-pod mode sends the same array to every run", async () => {
    const pods = [pod("w-1"), pod("w-2"), pod("w-3")];
    const client = makeClient({ ...exampleG, pods });
    const config = makeConfig({ kubernetesMetricSpecs: exampleG.specs, runMode: "per-pod", preMetric: sh(":"), postMetric: sh(":") });
    const target = new FakeTarget({ replicas: 5, pods });
    const runner = new FakeRunner({ metric: () => "1", evaluate: () => '{"targetReplicas": 5}' });
    const clock = new FakeClock(NOW);
    const kubernetesMetrics = createKubernetesMetricsSource({ client, config, logger: rootLogger(), clock });
    const deps = { config, target, runner, clock, logger: rootLogger(), window: new StabilizationWindow(0), kubernetesMetrics };
    await runCycle(deps, { runType: "scaler", signal: new AbortController().signal });

    const km = EXAMPLE_G_KM.replace('"current_replicas":2', '"current_replicas":5').replace('"ready_pod_count":2', '"ready_pod_count":3');
    const metricInputs = runner.requests.filter((request) => request.stage === "metric").map((request) => request.input);
    expect(metricInputs.length).toBe(3);
    for (const [index, input] of metricInputs.entries()) {
      expect(input).toBe(`{"resource":${JSON.stringify(pods[index])},"runType":"scaler","kubernetesMetrics":${km}}`);
    }
    expect(runner.inputOf("preMetric")).toBe(`{"resource":${JSON.stringify(target.object)},"runType":"scaler","kubernetesMetrics":${km}}`);
    expect(runner.inputOf("postMetric")).toEndWith(`"runType":"scaler","kubernetesMetrics":${km}}`);
    expect(JSON.parse(runner.inputOf("postMetric")!).metrics.length).toBe(3);
  });
});

// ---------------------------------------------------------------------------------------------
// Behaviour of this agent beyond the Go agent

describe("kubernetes metrics: additions", () => {
  const queueDepthUrl = "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/queue_depth";
  const unavailable = new KubeApiError(
    "failed to list external metric queue_depth in namespace default: service unavailable: the server is currently unable to handle the request",
    { failure: "status", operation: "list external metric queue_depth in namespace default", status: 503, reason: "ServiceUnavailable" },
  );
  const outage = (require: boolean): Scenario => ({
    specs: [cpuUtilization, { type: "External", external: { metric: { name: "queue_depth" }, target: { type: "AverageValue" } } }],
    require,
    replicas: 5,
    pods: [pod("c-1")],
    responses: { [POD_METRICS_URL]: cpuSample("12:00:00", "30s"), [queueDepthUrl]: unavailable },
  });
  const queueDepthError =
    "failed to get external metric: unable to get external metric default/queue_depth/nil: unable to fetch metrics from external metrics API: " +
    "failed to list external metric queue_depth in namespace default: service unavailable: the server is currently unable to handle the request";

  test("unavailable metric becomes an error entry", async () => {
    const result = await gather(outage(false));
    expect(result.entries!.length).toBe(2);
    expect(Object.keys(result.entries![0]!)).toEqual(["current_replicas", "spec", "resource"]);
    expect(result.entries![1]).toEqual({
      current_replicas: 5,
      spec: { type: "External", external: { metric: { name: "queue_depth" }, target: { type: "AverageValue" } } },
      error: queueDepthError,
    });
  });

  test("unavailable required metric names the spec", async () => {
    const result = await gather(outage(true));
    expect(result.error!.message).toBe(`1 of 2 required Kubernetes metrics failed: external/queue_depth: ${queueDepthError}`);
  });

  test("required failure lists every failed spec", async () => {
    const result = await gather({ ...outage(true), responses: { [POD_METRICS_URL]: list([]), [queueDepthUrl]: unavailable } });
    expect(result.error!.message).toStartWith(
      "2 of 2 required Kubernetes metrics failed: resource/cpu: failed to get resource metric: unable to get metrics for resource cpu: no metrics returned from resource metrics API; external/queue_depth: ",
    );
  });

  test("pods come from the scale selector", async () => {
    const selector = "app=web,tier in (api)";
    const encoded = new URLSearchParams({ labelSelector: selector }).toString();
    const result = await gather({
      specs: [cpuAverage],
      selector,
      pods: [pod("c-1")],
      responses: { [`/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?${encoded}`]: cpuSample("12:00:00", "30s") },
    });
    expect(result.client.calls).toEqual([`GET /apis/metrics.k8s.io/v1beta1/namespaces/default/pods?${encoded}`, `GET /api/v1/namespaces/default/pods?${encoded}`]);
    expect(entryErrors(result.entries)).toEqual([]);
  });

  test("warming pods are set aside from cpu utilisation", async () => {
    const warming = (name: string) => pod(name, { start: "11:59:40", ready: ["False", "11:59:40"], containers: { app: { cpu: "1" } } });
    const result = await gather({
      specs: [cpuUtilization],
      pods: [pod("ready-1", { containers: { app: { cpu: "1" } } }), pod("ready-2", { containers: { app: { cpu: "1" } } }), warming("new-1"), warming("new-2")],
      responses: {
        [POD_METRICS_URL]: list([
          podMetrics("ready-1", at("12:00:00"), "30s", { app: { cpu: "400m" } }),
          podMetrics("ready-2", at("12:00:00"), "30s", { app: { cpu: "400m" } }),
          podMetrics("new-1", at("12:00:00"), "30s", { app: { cpu: "1900m" } }),
          podMetrics("new-2", at("12:00:00"), "30s", { app: { cpu: "1900m" } }),
        ]),
      },
    });
    const resource = result.entries![0]!["resource"] as Record<string, unknown>;
    expect(Object.keys(resource["pod_metrics_info"] as object)).toEqual(["ready-1", "ready-2"]);
    expect(resource["ready_pod_count"]).toBe(2);
    expect(resource["ignored_pods"]).toEqual({ "new-1": {}, "new-2": {} });
  });

  test("values beyond 2^53 keep every digit", async () => {
    const result = await gather({
      specs: [memoryUtilization],
      pods: [pod("big", { containers: { app: { memory: "32Ti" } } })],
      responses: { [POD_METRICS_URL]: list([podMetrics("big", at("12:00:00"), "30s", { app: { memory: "16Ti" } })]) },
    });
    expect(result.json).toContain('"Value":17592186044416000}');
    expect(result.json).toContain('"requests":{"big":35184372088832000}');
  });

  test("spec echo escapes like Go and folds field case", async () => {
    const result = await gather({
      specs: [{ TYPE: "External", external: { Metric: { name: "a<b&c>" }, target: { type: "AverageValue", averagevalue: "0.5" }, unknown: 1 } }],
      responses: { "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/a%3Cb%26c%3E": list([externalValue("1", at("12:00:00"))]) },
    });
    expect(result.json).toStartWith(
      '[{"current_replicas":1,"spec":{"type":"External","external":{"metric":{"name":"a\\u003cb\\u0026c\\u003e"},"target":{"type":"AverageValue","averageValue":"500m"}}},"external":',
    );
  });

  test("one pod list serves every spec of a cycle", async () => {
    const result = await gather({ ...exampleG, specs: [queueSpec, queueSpec] });
    expect(result.client.calls.filter((call) => call.startsWith("GET /api/v1/")).length).toBe(1);
  });

  test("repeated failures log one error, then verbose lines", async () => {
    const client = makeClient({ responses: { [POD_METRICS_URL]: list([]) } });
    const source = createKubernetesMetricsSource({ client, config: settings({ specs: [cpuAverage] }), logger: rootLogger(), clock: new FakeClock(NOW) });
    const logs = captureLogs(1);
    const signal = new AbortController().signal;
    for (let cycle = 0; cycle < 3; cycle++) await source.gather({}, { replicas: 1, selector: "app=web" }, signal);
    const failures = logs.find("failed to get Kubernetes metric");
    expect(failures.map((line) => line["level"])).toEqual(["ERROR", "INFO", "INFO"]);
    expect(failures.map((line) => line["count"])).toEqual([1, 2, 3]);

    client.respond(POD_METRICS_URL, cpuSample("12:00:00", "30s"));
    client.pods = [pod("c-1")];
    await source.gather({}, { replicas: 1, selector: "app=web" }, signal);
    expect(logs.find("Kubernetes metric available again").map((line) => line["count"])).toEqual([3]);
  });

  test("cancelled cycle throws instead of making entries", async () => {
    const controller = new AbortController();
    const client = makeClient({});
    client.respond(POD_METRICS_URL, () => {
      controller.abort(new Error("shutting down"));
      throw new Error("the request was cancelled");
    });
    const source = createKubernetesMetricsSource({ client, config: settings({ specs: [cpuAverage] }), logger: rootLogger(), clock: new FakeClock(NOW) });
    await expect(source.gather({}, { replicas: 1, selector: "app=web" }, controller.signal)).rejects.toThrow("the request was cancelled");
  });

  test("spec with a wrongly typed field fails with its path", async () => {
    const result = await gather({ specs: [{ type: "External", external: { metric: { name: "q", selector: "queue=a" }, target: { type: "Value" } } }] });
    expect(String(entryErrors(result.entries)[0])).toStartWith("invalid kubernetesMetricSpecs[0].external.metric.selector: must be a label selector object");
    expect((result.entries![0]! as Record<string, unknown>)["spec"]).toEqual({ type: "External", external: { metric: { name: "q", selector: "queue=a" }, target: { type: "Value" } } });
  });
});
