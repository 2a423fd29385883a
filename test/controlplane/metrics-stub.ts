// A stand-in for metrics-server, a custom metrics adapter and an external metrics adapter: one HTTPS
// server on 127.0.0.1 that serves metrics.k8s.io/v1beta1, custom.metrics.k8s.io/v1beta2 and
// external.metrics.k8s.io/v1beta1 from values the test sets. registerMetricsStub() makes the
// apiserver's aggregator route those groups to it through APIService objects and an ExternalName
// Service that points at localhost. Stopping the server makes the aggregator respond 503, as it does
// when a real metrics adapter is down.

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

import { parseLabelSelector } from "../fake-kube/selector.ts";
import type { ControlPlane } from "./harness.ts";

const execFileAsync = promisify(execFile);

/** Namespace and name of the ExternalName Service that the APIService objects point at. */
export const STUB_SERVICE = { namespace: "kube-system", name: "cpa-metrics-stub" } as const;

/** The API group versions the stub serves, each registered as one APIService. */
export const STUB_GROUP_VERSIONS = [
  { group: "metrics.k8s.io", version: "v1beta1" },
  { group: "custom.metrics.k8s.io", version: "v1beta2" },
  { group: "external.metrics.k8s.io", version: "v1beta1" },
] as const;

/** One PodMetrics object as metrics-server serves it; `labels` are the pod's labels, for labelSelector. */
export interface PodMetricsFixture {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  /** RFC 3339; defaults to the time of the request. */
  timestamp?: string;
  /** Go duration; defaults to 30s. */
  window?: string;
  containers: { name: string; usage: Record<string, string> }[];
}

/** One custom metric value describing an object. */
export interface CustomMetricFixture {
  namespace: string;
  /** The resource path segment: `pods`, or `resource.group` such as `deployments.apps`. */
  resource: string;
  describedObject: { kind: string; name: string; apiVersion: string };
  /** Labels of the described object, matched against the labelSelector of pod metric requests. */
  labels?: Record<string, string>;
  metric: string;
  value: string;
  timestamp?: string;
  windowSeconds?: number;
}

/** One external metric value. */
export interface ExternalMetricFixture {
  namespace: string;
  metric: string;
  labels: Record<string, string>;
  value: string;
  timestamp?: string;
}

export interface MetricsStub {
  readonly port: number;
  /** Values served; tests replace or edit these at any time. */
  podMetrics: PodMetricsFixture[];
  customMetrics: CustomMetricFixture[];
  externalMetrics: ExternalMetricFixture[];
  /** Path and query of every request received, in order. */
  readonly requests: string[];
  /** Whether the server is listening. */
  readonly running: boolean;
  /** Closes the listener; the aggregator then responds to requests for the three groups with 503. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): void;
  /** Closes the listener and removes the certificate directory. Idempotent. */
  dispose(): Promise<void>;
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

function notFound(path: string): Response {
  return json({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: `the server could not find the requested resource (${path})`, reason: "NotFound", code: 404 }, 404);
}

function resourceList(groupVersion: string, resources: { name: string; kind: string; namespaced: boolean; verbs: string[] }[]) {
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion, resources: resources.map((resource) => ({ singularName: "", ...resource })) };
}

function matches(selector: string | null, labels: Record<string, string> | undefined): boolean {
  if (selector === null || selector === "") return true;
  return parseLabelSelector(selector)(labels ?? {});
}

/** Writes a self-signed certificate for localhost; the APIService objects skip its verification. */
async function selfSignedCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const keyPath = join(dir, "stub.key");
  const certPath = join(dir, "stub.crt");
  await execFileAsync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    "-days", "2", "-keyout", keyPath, "-out", certPath,
  ]);
  return { cert: readFileSync(certPath, "utf8"), key: readFileSync(keyPath, "utf8") };
}

class RunningMetricsStub implements MetricsStub {
  podMetrics: PodMetricsFixture[] = [];
  customMetrics: CustomMetricFixture[] = [];
  externalMetrics: ExternalMetricFixture[] = [];
  readonly requests: string[] = [];
  port = 0;
  private server: ReturnType<typeof Bun.serve> | undefined;
  private disposed: Promise<void> | undefined;

  constructor(
    private readonly tls: { cert: string; key: string },
    private readonly dir: string,
  ) {}

  get running(): boolean {
    return this.server !== undefined;
  }

  listen(port: number): void {
    this.server = Bun.serve({ hostname: "127.0.0.1", port, tls: this.tls, fetch: (request) => this.handle(new URL(request.url)) });
    this.port = this.server.port ?? port;
  }

  restart(): void {
    if (this.server === undefined) this.listen(this.port);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.stop(true);
  }

  dispose(): Promise<void> {
    this.disposed ??= this.stop().then(() => rmSync(this.dir, { recursive: true, force: true }));
    return this.disposed;
  }

  private handle(url: URL): Response {
    this.requests.push(`${url.pathname}${url.search}`);
    const parts = url.pathname.split("/").filter((part) => part !== "").map(decodeURIComponent);
    if (parts[0] !== "apis" || parts.length < 3) return notFound(url.pathname);
    const [, group, version, ...rest] = parts;
    const groupVersion = `${group}/${version}`;
    const now = new Date().toISOString();

    if (groupVersion === "metrics.k8s.io/v1beta1") {
      if (rest.length === 0) {
        return json(resourceList(groupVersion, [
          { name: "pods", kind: "PodMetrics", namespaced: true, verbs: ["get", "list"] },
          { name: "nodes", kind: "NodeMetrics", namespaced: false, verbs: ["get", "list"] },
        ]));
      }
      if (rest.length === 3 && rest[0] === "namespaces" && rest[2] === "pods") {
        const selector = url.searchParams.get("labelSelector");
        const items = this.podMetrics
          .filter((item) => item.namespace === rest[1] && matches(selector, item.labels))
          .map((item) => ({
            metadata: { name: item.name, namespace: item.namespace, labels: item.labels, creationTimestamp: now },
            timestamp: item.timestamp ?? now,
            window: item.window ?? "30s",
            containers: item.containers,
          }));
        return json({ kind: "PodMetricsList", apiVersion: groupVersion, metadata: {}, items });
      }
      return notFound(url.pathname);
    }

    if (groupVersion === "custom.metrics.k8s.io/v1beta2") {
      if (rest.length === 0) {
        return json(resourceList(groupVersion, [
          { name: "pods/*", kind: "MetricValueList", namespaced: true, verbs: ["get"] },
          { name: "deployments.apps/*", kind: "MetricValueList", namespaced: true, verbs: ["get"] },
          { name: "namespaces/*", kind: "MetricValueList", namespaced: false, verbs: ["get"] },
        ]));
      }
      if (rest.length !== 5 || rest[0] !== "namespaces") return notFound(url.pathname);
      const [, namespace, resource, name, metric] = rest;
      const selector = url.searchParams.get("labelSelector");
      const items = this.customMetrics
        .filter((item) => item.namespace === namespace && item.resource === resource && item.metric === metric)
        .filter((item) => (name === "*" ? matches(selector, item.labels) : item.describedObject.name === name))
        .map((item) => {
          const value: Record<string, unknown> = {
            describedObject: { ...item.describedObject, namespace: item.namespace },
            metric: { name: item.metric },
            timestamp: item.timestamp ?? now,
          };
          if (item.windowSeconds !== undefined) value["windowSeconds"] = item.windowSeconds;
          value["value"] = item.value;
          return value;
        });
      if (name !== "*" && items.length === 0) return notFound(url.pathname);
      return json({ kind: "MetricValueList", apiVersion: groupVersion, metadata: {}, items });
    }

    if (groupVersion === "external.metrics.k8s.io/v1beta1") {
      if (rest.length === 0) return json(resourceList(groupVersion, [{ name: "externalmetrics", kind: "ExternalMetricValueList", namespaced: true, verbs: ["get"] }]));
      if (rest.length !== 3 || rest[0] !== "namespaces") return notFound(url.pathname);
      const selector = url.searchParams.get("labelSelector");
      const items = this.externalMetrics
        .filter((item) => item.namespace === rest[1] && item.metric === rest[2] && matches(selector, item.labels))
        .map((item) => ({ metricName: item.metric, metricLabels: item.labels, timestamp: item.timestamp ?? now, value: item.value }));
      return json({ kind: "ExternalMetricValueList", apiVersion: groupVersion, metadata: {}, items });
    }
    return notFound(url.pathname);
  }
}

/** Starts the stub on a free 127.0.0.1 port with a fresh self-signed certificate. */
export async function startMetricsStub(): Promise<MetricsStub> {
  const dir = mkdtempSync(join(tmpdir(), "cpa-metrics-stub-"));
  try {
    const stub = new RunningMetricsStub(await selfSignedCertificate(dir), dir);
    stub.listen(0);
    return stub;
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function mustSucceed(plane: ControlPlane, method: string, path: string, body: unknown): Promise<void> {
  const response = await plane.request(method, path, { body });
  if (response.status >= 300 && response.status !== 409) {
    throw new Error(`${method} ${path} returned HTTP ${response.status}: ${response.text.slice(0, 500)}`);
  }
}

function apiServiceName(groupVersion: { group: string; version: string }): string {
  return `${groupVersion.version}.${groupVersion.group}`;
}

/**
 * Creates the ExternalName Service and one APIService per group version, all pointing at the stub,
 * and waits until the aggregator reports every APIService Available. The aggregator turns an
 * ExternalName Service into https://<externalName>:<port> as long as --enable-aggregator-routing
 * is off, which is the apiserver's default.
 */
export async function registerMetricsStub(plane: ControlPlane, stub: MetricsStub, timeoutMs = 60_000): Promise<void> {
  await mustSucceed(plane, "POST", `/api/v1/namespaces/${STUB_SERVICE.namespace}/services`, {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: STUB_SERVICE.name, namespace: STUB_SERVICE.namespace },
    spec: { type: "ExternalName", externalName: "localhost", ports: [{ name: "https", port: stub.port, protocol: "TCP" }] },
  });
  for (const groupVersion of STUB_GROUP_VERSIONS) {
    await mustSucceed(plane, "POST", "/apis/apiregistration.k8s.io/v1/apiservices", {
      apiVersion: "apiregistration.k8s.io/v1",
      kind: "APIService",
      metadata: { name: apiServiceName(groupVersion) },
      spec: {
        group: groupVersion.group,
        version: groupVersion.version,
        service: { namespace: STUB_SERVICE.namespace, name: STUB_SERVICE.name, port: stub.port },
        insecureSkipTLSVerify: true,
        groupPriorityMinimum: 100,
        versionPriority: 100,
      },
    });
  }
  await waitForAvailability(plane, true, timeoutMs);
  // The aggregator proxy picks up the availability a moment after the status shows it, and responds with 503 until then.
  const deadline = Date.now() + timeoutMs;
  for (const groupVersion of STUB_GROUP_VERSIONS) {
    const path = `/apis/${groupVersion.group}/${groupVersion.version}`;
    while ((await plane.request("GET", path)).status !== 200) {
      if (Date.now() > deadline) throw new Error(`GET ${path} through the aggregator did not succeed within ${timeoutMs} ms`);
      await Bun.sleep(100);
    }
  }
}

/** Waits until every stub APIService reports Available with the given value. */
export async function waitForAvailability(plane: ControlPlane, available: boolean, timeoutMs = 60_000): Promise<void> {
  const expectedStatus = available ? "True" : "False";
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const states = await Promise.all(
      STUB_GROUP_VERSIONS.map(async (groupVersion) => {
        const response = await plane.request("GET", `/apis/apiregistration.k8s.io/v1/apiservices/${apiServiceName(groupVersion)}`);
        const conditions = (response.body as { status?: { conditions?: { type: string; status: string; message?: string }[] } } | undefined)?.status?.conditions ?? [];
        const condition = conditions.find((candidate) => candidate.type === "Available");
        return { name: apiServiceName(groupVersion), status: condition?.status, message: condition?.message };
      }),
    );
    if (states.every((state) => state.status === expectedStatus)) return;
    last = states.map((state) => `${state.name}=${state.status ?? "unknown"} (${state.message ?? ""})`).join(", ");
    if (Date.now() > deadline) throw new Error(`APIServices did not become Available=${expectedStatus} within ${timeoutMs} ms: ${last}`);
    await Bun.sleep(200);
  }
}

/** Deletes the APIService objects and the Service, so that namespace deletion no longer waits on them. */
export async function unregisterMetricsStub(plane: ControlPlane): Promise<void> {
  for (const groupVersion of STUB_GROUP_VERSIONS) {
    await plane.request("DELETE", `/apis/apiregistration.k8s.io/v1/apiservices/${apiServiceName(groupVersion)}`);
  }
  await plane.request("DELETE", `/api/v1/namespaces/${STUB_SERVICE.namespace}/services/${STUB_SERVICE.name}`);
}
