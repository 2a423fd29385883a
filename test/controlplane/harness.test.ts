// Smoke test of the control-plane harness: start the plane, drive a Deployment with the built
// kubectl, scale it, and check the ServiceAccount token and fake-kubelet helpers.
//
// Needs the binaries from scripts/build-control-plane.sh (or CPA_CONTROL_PLANE_BIN). Run the script
// before the tests: a cold build takes far longer than any test timeout.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";

import { type ControlPlane, ControlPlaneStartError, startControlPlane } from "./harness.ts";

const NAMESPACE = "harness-smoke";
const START_TIMEOUT_MS = 120_000;
/** Longer than the 30 s that {@link eventually} waits, and than the 20 s default in bunfig.toml. */
const TEST_TIMEOUT_MS = 60_000;

let plane: ControlPlane;

/** Polls `check` every 200 ms until it returns a value other than undefined, or fails after `timeoutMs`. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await Bun.sleep(200);
  }
}

interface PodList {
  items: { metadata: { name: string; deletionTimestamp?: string }; status?: { phase?: string } }[];
}

async function listPods(labelSelector: string): Promise<PodList["items"]> {
  const result = await plane.kubectl(["get", "pods", "-n", NAMESPACE, "-l", labelSelector, "-o", "json"]);
  return (JSON.parse(result.stdout) as PodList).items;
}

function deploymentManifest(name: string, replicas: number): string {
  return JSON.stringify({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: NAMESPACE },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "web", image: "registry.invalid/web:1" }] },
      },
    },
  });
}

beforeAll(async () => {
  plane = await startControlPlane();
  const rss = plane.residentSetBytes();
  const mebibytes = (bytes: number | undefined) => (bytes === undefined ? "?" : (bytes / 2 ** 20).toFixed(0));
  console.error(
    `control plane ready in ${plane.timings.total.toFixed(0)} ms ` +
      `(pki ${plane.timings.pki.toFixed(0)}, etcd ${plane.timings.etcd.toFixed(0)}, ` +
      `kube-apiserver ${plane.timings.apiServer.toFixed(0)}, kube-controller-manager ${plane.timings.controllerManager.toFixed(0)}); ` +
      `RSS MiB: etcd ${mebibytes(rss.etcd)}, kube-apiserver ${mebibytes(rss.apiServer)}, ` +
      `kube-controller-manager ${mebibytes(rss.controllerManager)}`,
  );
  await plane.kubectl(["create", "namespace", NAMESPACE]);
}, START_TIMEOUT_MS);

afterAll(async () => {
  await plane?.stop();
}, 60_000);

describe("control plane harness", () => {
  test("serves the pinned Kubernetes version", async () => {
    const result = await plane.kubectl(["version", "-o", "json"]);
    const version = JSON.parse(result.stdout) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+/);
    expect(version.clientVersion.gitVersion).toBe(version.serverVersion.gitVersion);
  }, TEST_TIMEOUT_MS);

  test("kubeconfig and server address are loopback", () => {
    expect(plane.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(plane.kubeconfigPath)).toBe(true);
  }, TEST_TIMEOUT_MS);

  test("deployment creates pods and scales", async () => {
    await plane.kubectl(["apply", "-f", "-"], { input: deploymentManifest("web", 1) });

    const replicaSetName = await eventually("the ReplicaSet of deployment web", async () => {
      const result = await plane.kubectl(["get", "replicasets", "-n", NAMESPACE, "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"]);
      return result.stdout.trim() === "" ? undefined : result.stdout.trim();
    });
    expect(replicaSetName).toStartWith("web-");

    const firstPods = await eventually("1 pod of deployment web", async () => {
      const pods = await listPods("app=web");
      return pods.length === 1 ? pods : undefined;
    });
    expect(firstPods[0]?.status?.phase).toBe("Pending");

    await plane.kubectl(["scale", "deployment/web", "-n", NAMESPACE, "--replicas=3"]);
    const scaledPods = await eventually("3 pods after scaling to 3", async () => {
      const pods = await listPods("app=web");
      return pods.length === 3 ? pods : undefined;
    });
    expect(scaledPods).toHaveLength(3);

    const scale = await plane.request("GET", `/apis/apps/v1/namespaces/${NAMESPACE}/deployments/web/scale`);
    expect(scale.status).toBe(200);
    expect((scale.body as { spec: { replicas: number } }).spec.replicas).toBe(3);
  }, TEST_TIMEOUT_MS);

  test("fake kubelet makes pods ready and finishes deletions", async () => {
    await plane.kubectl(["apply", "-f", "-"], { input: deploymentManifest("ready", 2) });
    await eventually("2 pods of deployment ready", async () => ((await listPods("app=ready")).length === 2 ? true : undefined));

    const changed = await plane.makePodsReady(NAMESPACE, { labelSelector: "app=ready" });
    expect(changed).toHaveLength(2);

    const readyReplicas = await eventually("deployment ready to report 2 ready replicas", async () => {
      const result = await plane.kubectl(["get", "deployment/ready", "-n", NAMESPACE, "-o", "jsonpath={.status.readyReplicas}"]);
      return result.stdout === "2" ? 2 : undefined;
    });
    expect(readyReplicas).toBe(2);

    // A pod bound to a node stays Terminating after a scale-down until a kubelet confirms it stopped.
    await plane.kubectl(["scale", "deployment/ready", "-n", NAMESPACE, "--replicas=1"]);
    await eventually("a terminating pod", async () => {
      const pods = await listPods("app=ready");
      return pods.some((pod) => pod.metadata.deletionTimestamp !== undefined) ? true : undefined;
    });
    const deleted = await plane.deleteTerminatingPods(NAMESPACE, "app=ready");
    expect(deleted).toHaveLength(1);
    expect(await listPods("app=ready")).toHaveLength(1);
  }, TEST_TIMEOUT_MS);

  test("fake kubelet loop keeps up with scaling", async () => {
    const kubelet = plane.startFakeKubelet({ namespace: NAMESPACE, labelSelector: "app=loop" });
    try {
      await plane.kubectl(["apply", "-f", "-"], { input: deploymentManifest("loop", 3) });
      await eventually("3 available replicas", async () => {
        const result = await plane.kubectl(["get", "deployment/loop", "-n", NAMESPACE, "-o", "jsonpath={.status.availableReplicas}"]);
        return result.stdout === "3" ? true : undefined;
      });
      await plane.kubectl(["scale", "deployment/loop", "-n", NAMESPACE, "--replicas=1"]);
      await eventually("1 pod left after scaling to 1", async () => ((await listPods("app=loop")).length === 1 ? true : undefined));
    } finally {
      await kubelet.stop();
    }
  }, TEST_TIMEOUT_MS);

  test("service account token authenticates", async () => {
    const token = await plane.createServiceAccountToken(NAMESPACE, "reader");
    expect(token.split(".")).toHaveLength(3);

    const review = await plane.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } },
    });
    const status = (review.body as { status: { authenticated?: boolean; user?: { username?: string } } }).status;
    expect(status.authenticated).toBe(true);
    expect(status.user?.username).toBe(`system:serviceaccount:${NAMESPACE}:reader`);

    // The token authenticates but RBAC grants it nothing yet.
    const asAccount = { withoutClientCertificate: true, headers: { Authorization: `Bearer ${token}` } };
    const denied = await plane.request("GET", `/api/v1/namespaces/${NAMESPACE}/pods`, asAccount);
    expect(denied.status).toBe(403);

    await plane.kubectl(["create", "rolebinding", "reader-view", "-n", NAMESPACE, "--clusterrole=view", `--serviceaccount=${NAMESPACE}:reader`]);
    const allowed = await eventually("RBAC to allow the ServiceAccount", async () => {
      const response = await plane.request("GET", `/api/v1/namespaces/${NAMESPACE}/pods`, asAccount);
      return response.status === 200 ? response : undefined;
    });
    expect(allowed.status).toBe(200);
  }, TEST_TIMEOUT_MS);

  test("deleting a deployment cascades to its pods", async () => {
    await plane.kubectl(["delete", "deployment/web", "-n", NAMESPACE, "--wait=false"]);
    // Unbound (Pending) pods are deleted at once, without waiting for a kubelet.
    await eventually("pods of deployment web to be garbage collected", async () => ((await listPods("app=web")).length === 0 ? true : undefined));
  }, TEST_TIMEOUT_MS);
});

function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) {
    return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("control plane lifecycle", () => {
  test("stop is idempotent and removes everything", async () => {
    const second = await startControlPlane({ startControllerManager: false });
    const { dir, pids } = second;
    expect(pids.controllerManager).toBeUndefined();
    expect(isAlive(pids.etcd)).toBe(true);
    expect(isAlive(pids.apiServer)).toBe(true);

    await Promise.all([second.stop(), second.stop()]);
    await second.stop();
    expect(isAlive(pids.etcd)).toBe(false);
    expect(isAlive(pids.apiServer)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  }, START_TIMEOUT_MS);

  test("start failure reports the log tail", async () => {
    const failure = await startControlPlane({ apiServerArgs: ["--no-such-flag=1"] }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ControlPlaneStartError);
    const error = failure as ControlPlaneStartError;
    expect(error.processName).toBe("kube-apiserver");
    expect(error.message).toContain("kube-apiserver exited with code");
    expect(error.message).toContain("unknown flag: --no-such-flag");
  }, START_TIMEOUT_MS);
});
