/**
 * Fault tests: the fake API server responds with errors, responds late, closes the connection or is
 * stopped, and each case must surface as a clear `KubeApiError`.
 */

import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { isConflict, isForbidden, isTimeout, KubeClient, loadKubeConnection } from "../../src/kube/index.ts";
import { deployment, pod } from "../fake-kube/fixtures.ts";
import { startFakeKube, type FakeKube } from "../fake-kube/server.ts";
import { caughtKubeError } from "./helpers.ts";

const WEB = { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "default" };
const SCALE_PATH = "/apis/apps/v1/namespaces/default/deployments/web/scale";

let kube: FakeKube;
let client: KubeClient;

beforeAll(async () => {
  kube = await startFakeKube({ token: true });
  kube.addObject(deployment({ name: "web", replicas: 2 }));
  for (const name of ["web-a", "web-b", "web-c"]) kube.addObject(pod({ name, labels: { app: "web" } }));
  client = new KubeClient(loadKubeConnection({ kubeconfigPath: kube.kubeconfigPath }), { timeoutMs: 300, pageSize: 1 });
  // Fills the discovery cache, so the faults below hit the request under test.
  await client.resolveResource("apps/v1", "Deployment");
});

afterEach(() => {
  kube.clearFaults();
});

afterAll(async () => {
  await kube.stop();
});

describe("API status errors", () => {
  test("500 with Status body", async () => {
    kube.fail({ path: SCALE_PATH, status: 500, message: "etcdserver: request timed out" });
    const error = await caughtKubeError(() => client.getScale(WEB));
    expect(error.status).toBe(500);
    expect(error.reason).toBe("InternalError");
    expect(error.apiMessage).toBe("etcdserver: request timed out");
    expect(error.message).toBe("failed to get scale for Deployment default/web: internal error: etcdserver: request timed out");
  });

  test("502 with text body", async () => {
    kube.fail({ path: SCALE_PATH, status: 502, body: "upstream connect error" });
    const error = await caughtKubeError(() => client.getScale(WEB));
    expect(error.status).toBe(502);
    expect(error.reason).toBeUndefined();
    expect(error.message).toBe("failed to get scale for Deployment default/web: HTTP 502: upstream connect error");
  });

  test("long body is truncated", async () => {
    kube.fail({ path: SCALE_PATH, status: 503, body: "x".repeat(2000) });
    const error = await caughtKubeError(() => client.getScale(WEB));
    expect(error.message).toContain("… (1500 more characters)");
    expect(error.message.length).toBeLessThan(700);
  });

  test("403 with Status body", async () => {
    const apiMessage =
      'deployments.apps "web" is forbidden: User "system:serviceaccount:default:cpa" cannot get resource "deployments/scale" in API group "apps" in the namespace "default"';
    kube.fail({ path: SCALE_PATH, status: 403, message: apiMessage });
    const error = await caughtKubeError(() => client.getScale(WEB));
    expect(isForbidden(error)).toBe(true);
    expect(error.reason).toBe("Forbidden");
    expect(error.apiMessage).toBe(apiMessage);
    expect(error.message).toBe(
      `failed to get scale for Deployment default/web: forbidden: ${apiMessage} (user fake-admin needs the "get" verb ` +
        'on "deployments/scale" in API group "apps" in namespace default; grant it with a Role and RoleBinding)',
    );
  });

  test("403 on discovery names the URL", async () => {
    kube.fail({ path: "/apis/apps/v1", status: 403, message: "forbidden" });
    const fresh = new KubeClient(client.connection);
    const error = await caughtKubeError(() => fresh.getScale(WEB));
    expect(isForbidden(error)).toBe(true);
    expect(error.message).toBe(
      "failed to discover the resources of API group version apps/v1: forbidden: forbidden (user fake-admin needs " +
        'the "get" verb on the non-resource URL /apis/apps/v1, which the system:discovery ClusterRole grants)',
    );
  });

  test("409 on patch is a conflict", async () => {
    kube.fail({ method: "PATCH", path: SCALE_PATH, status: 409, message: "the object has been modified" });
    const error = await caughtKubeError(() => client.patchScale(WEB, 3));
    expect(isConflict(error)).toBe(true);
    expect(error.message).toBe("failed to patch scale for Deployment default/web: conflict: the object has been modified");
  });

  test("200 with invalid JSON", async () => {
    kube.fail({ path: SCALE_PATH, status: 200, body: "<html>proxy login</html>" });
    const error = await caughtKubeError(() => client.getScale(WEB));
    expect(error.failure).toBe("invalid-response");
    expect(error.message).toBe(
      "failed to get scale for Deployment default/web: the API responded with HTTP 200 and a body that is not JSON: <html>proxy login</html>",
    );
  });
});

describe("transport failures", () => {
  test("slow response times out", async () => {
    kube.fail({ path: SCALE_PATH, delayMs: 1500 });
    const started = performance.now();
    const error = await caughtKubeError(() => client.getScale(WEB));
    expect(isTimeout(error)).toBe(true);
    expect(error.status).toBeUndefined();
    expect(error.message).toBe(`failed to get scale for Deployment default/web: timed out after 300 ms waiting for the Kubernetes API at ${kube.url}`);
    expect(performance.now() - started).toBeLessThan(1200);
  });

  test("missing response times out", async () => {
    kube.fail({ path: SCALE_PATH, hang: true });
    const error = await caughtKubeError(() => client.getScale(WEB));
    expect(error.failure).toBe("timeout");
  });

  test("stalled body times out", async () => {
    kube.fail({ path: SCALE_PATH, stallBody: true });
    const error = await caughtKubeError(() => client.getScale(WEB));
    expect(error.failure).toBe("timeout");
  });

  test("caller abort cancels the request", async () => {
    kube.fail({ path: SCALE_PATH, hang: true });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const slowClient = new KubeClient(client.connection, { timeoutMs: 5000 });
    const error = await caughtKubeError(() => slowClient.getScale(WEB, { signal: controller.signal }));
    expect(error.failure).toBe("aborted");
    expect(error.message).toBe("failed to get scale for Deployment default/web: the request was cancelled");
  });

  test("dropped connection on GET", async () => {
    kube.fail({ path: SCALE_PATH, drop: true });
    const error = await caughtKubeError(() => client.getScale(WEB));
    expect(error.failure).toBe("network");
    expect(error.message).toBe(
      `failed to reach the Kubernetes API at ${kube.url} to get scale for Deployment default/web: ` +
        "the server closed the connection without a response (ECONNRESET)",
    );
  });

  test("dropped connection on PATCH is not retried", async () => {
    const fault = kube.fail({ method: "PATCH", path: SCALE_PATH, drop: true });
    const error = await caughtKubeError(() => client.patchScale(WEB, 3));
    expect(error.failure).toBe("network");
    expect(fault.hits).toBe(1);
  });

  test("refused connection", async () => {
    const stoppedKube = await startFakeKube({ token: true });
    // The kubeconfig is read now, with its CA and token inline, so stopping the server loses nothing else.
    const connection = loadKubeConnection({ kubeconfigPath: stoppedKube.kubeconfigPath });
    await stoppedKube.stop();
    const error = await caughtKubeError(() => new KubeClient(connection).getScale(WEB));
    expect(error.failure).toBe("network");
    expect(error.message).toBe(
      `failed to reach the Kubernetes API at ${stoppedKube.url} to discover the resources of API group version apps/v1: connection refused (ECONNREFUSED)`,
    );
  });
});

describe("listPods pagination faults", () => {
  test("expired continue token restarts the list once", async () => {
    const fault = kube.fail({ path: "/api/v1/namespaces/default/pods", query: /continue=/, status: 410, times: 1 });
    kube.clearRequests();
    const pods = await client.listPods("default", "app=web");
    expect(pods.length).toBe(3);
    expect(fault.hits).toBe(1);
    expect(kube.requests.filter((request) => request.query.continue === undefined).length).toBe(2);
  });

  test("second expired continue token fails", async () => {
    kube.fail({ path: "/api/v1/namespaces/default/pods", query: /continue=/, status: 410, message: "too old resource version" });
    const error = await caughtKubeError(() => client.listPods("default", "app=web"));
    expect(error.status).toBe(410);
    expect(error.message).toBe("failed to list pods in namespace default with selector app=web: expired: too old resource version");
  });
});
