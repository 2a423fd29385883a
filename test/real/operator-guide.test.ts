/**
 * The operator on a real control plane, driven as the user's guide does: `kubectl apply` of
 * deploy/cluster.yaml, the example Deployment and the example CustomPodAutoscaler. No kubelet runs,
 * so the operator is a local process of the built binary with the admin kubeconfig, and the agent pod
 * is played by a local agent process with exactly that pod's environment and a token of its
 * ServiceAccount. Later tests edit, pause and delete the CustomPodAutoscaler as a user would.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startControlPlane, type ControlPlane, type FakeKubelet } from "../controlplane/harness.ts";
import { EXAMPLE_DIR, REPO_ROOT, pythonMethod, startAgent, type AgentProcess } from "../e2e/agent-process.ts";
import { writeServiceAccountDir } from "../fake-kube/kubeconfig.ts";

setDefaultTimeout(120_000);

const CPA = "python-custom-autoscaler";
const CPA_PATH = `/apis/custompodautoscaler.com/v1/namespaces/default/custompodautoscalers/${CPA}`;
const DEPLOYMENT_PATH = "/apis/apps/v1/namespaces/default/deployments/hello-kubernetes";
const OWNED_PODS_PATH = `/api/v1/namespaces/default/pods?labelSelector=${encodeURIComponent(`v1.custompodautoscaler.com/owned-by=${CPA}`)}`;
const RESYNC_MS = 1000;

let plane: ControlPlane;
let operator: AgentProcess;
let kubelet: FakeKubelet | undefined;

async function getJson(path: string): Promise<any> {
  const response = await plane.request("GET", path);
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`GET ${path} returned HTTP ${response.status}: ${response.text}`);
  return response.body;
}

/** Polls `probe` every 100 ms until it returns a value other than undefined or false. */
async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const recent = operator.logs.slice(-10).map((line) => JSON.stringify(line)).join("\n");
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last operator log lines:\n${recent}`);
    }
    await Bun.sleep(100);
  }
}

const podPath = (name: string) => `/api/v1/namespaces/default/pods/${name}`;
const ownedPodNames = async (): Promise<string[]> => (await getJson(OWNED_PODS_PATH)).items.map((pod: any) => pod.metadata.name).sort();
const kubectl = (args: string[], input?: string) => plane.kubectl(args, input === undefined ? {} : { input });

/** Waits until the agent pod `name` exists with a uid other than `previousUid`, and returns it. */
function waitForPod(name: string, previousUid?: string): Promise<any> {
  return until(`pod ${name}`, async () => {
    const pod = await getJson(podPath(name));
    return pod !== undefined && pod.metadata.uid !== previousUid && pod.metadata.deletionTimestamp === undefined && pod;
  });
}

function createdLogs(): Record<string, unknown>[] {
  return operator.logs.filter((line) => line.message === "created object");
}

beforeAll(async () => {
  plane = await startControlPlane();
  // The guide's first step: the operator's cluster-wide install.
  await kubectl(["apply", "-f", join(REPO_ROOT, "deploy", "cluster.yaml")]);
  await kubectl(["wait", "--for=condition=Established", "crd/custompodautoscalers.custompodautoscaler.com", "--timeout=30s"]);
  operator = startAgent({
    args: ["operator", "--kubeconfig", plane.kubeconfigPath, "--log-format", "json", "--resync-interval", String(RESYNC_MS)],
  });
  await operator.waitForLog((line) => line.message === "starting Custom Pod Autoscaler operator");
});

afterAll(async () => {
  await kubelet?.stop();
  if (operator !== undefined && operator.process.exitCode === null) await operator.stop();
  await plane?.stop();
});

describe("operator following the guide", () => {
  let agentPod: any;

  test("kubectl apply creates the agent's objects", async () => {
    await kubectl(["apply", "-f", join(EXAMPLE_DIR, "deployment.yaml")]);
    await kubectl(["apply", "-f", join(EXAMPLE_DIR, "cpa.yaml")]);
    agentPod = await waitForPod(CPA);
    const cpa = await getJson(CPA_PATH);

    for (const path of [
      `/api/v1/namespaces/default/serviceaccounts/${CPA}`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/${CPA}`,
      `/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/${CPA}`,
      podPath(CPA),
    ]) {
      const object = await getJson(path);
      expect(object.metadata.ownerReferences).toEqual([
        { apiVersion: "custompodautoscaler.com/v1", kind: "CustomPodAutoscaler", name: CPA, uid: cpa.metadata.uid, controller: true, blockOwnerDeletion: true },
      ]);
      expect(object.metadata.labels["v1.custompodautoscaler.com/owned-by"]).toBe(CPA);
    }
  });

  test("agent pod has the injected environment", () => {
    expect(agentPod.spec.serviceAccountName).toBe(CPA);
    expect(agentPod.spec.containers).toHaveLength(1);
    expect(agentPod.spec.containers[0].image).toBe("python-custom-autoscaler:latest");
    expect(agentPod.spec.containers[0].env).toEqual([
      { name: "scaleTargetRef", value: '{"kind":"Deployment","name":"hello-kubernetes","apiVersion":"apps/v1"}' },
      { name: "namespace", value: "default" },
      { name: "interval", value: "10000" },
    ]);
    expect(agentPod.metadata.annotations["v1.custompodautoscaler.com/spec-hash"]).toMatch(/^[0-9a-f]{64}$/);
  });

  test("Role and RoleBinding grant the default rules", async () => {
    const role = await getJson(`/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/${CPA}`);
    expect(role.rules).toEqual([
      { apiGroups: [""], resources: ["pods", "replicationcontrollers", "replicationcontrollers/scale"], verbs: ["*"] },
      {
        apiGroups: ["apps"],
        resources: ["deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"],
        verbs: ["*"],
      },
      { apiGroups: [""], resources: ["events"], verbs: ["create"] },
    ]);
    const binding = await getJson(`/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/${CPA}`);
    expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: CPA });
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: CPA, namespace: "default" }]);
  });

  test("kubectl get cpa shows the target", async () => {
    const { stdout } = await kubectl(["get", "cpa", CPA]);
    const [header, row] = stdout.trim().split("\n");
    expect(header?.split(/\s{2,}/)).toEqual(["NAME", "TARGET KIND", "TARGET NAME", "MIN", "MAX", "PAUSED", "AGE"]);
    expect(row?.split(/\s{2,}/).slice(0, 3)).toEqual([CPA, "Deployment", "hello-kubernetes"]);
  });

  test("agent with the pod's environment scales to 3", async () => {
    kubelet = plane.startFakeKubelet({ namespace: "default", labelSelector: "app=hello-kubernetes" });
    const token = await plane.createServiceAccountToken("default", agentPod.spec.serviceAccountName);
    const serviceAccountDir = writeServiceAccountDir(join(plane.dir, "agent-serviceaccount"), { token, caPem: plane.caPem, namespace: "default" });
    const podEnv = Object.fromEntries(agentPod.spec.containers[0].env.map((entry: any) => [entry.name, entry.value]));
    const server = new URL(plane.server);

    const agent = startAgent({
      env: {
        ...podEnv,
        CPA_SERVICE_ACCOUNT_DIR: serviceAccountDir,
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: server.port,
        // The image's /config.yaml and scripts, found at their paths in the example folder.
        CONFIG_PATH: join(EXAMPLE_DIR, "config.yaml"),
        metric: JSON.stringify(pythonMethod("metric.py")),
        evaluate: JSON.stringify(pythonMethod("evaluate.py")),
        logFormat: "json",
      },
    });
    try {
      const deployment = await until(
        "3 ready replicas",
        async () => {
          const current = await getJson(DEPLOYMENT_PATH);
          return current.spec.replicas === 3 && current.status?.readyReplicas === 3 && current;
        },
        60_000,
      );
      expect(deployment.spec.replicas).toBe(3);
      expect(agent.otherOutput.join("\n")).not.toContain("forbidden");
    } finally {
      // A paused or deleted CustomPodAutoscaler removes the agent pod; this process plays that pod.
      await agent.stop();
      await kubelet.stop();
      kubelet = undefined;
    }
  });

  test("no token secrets after five pod restarts", async () => {
    for (let restart = 0; restart < 5; restart++) {
      const uid = (await getJson(podPath(CPA))).metadata.uid;
      await kubectl(["delete", "pod", CPA, "--wait=false"]);
      await waitForPod(CPA, uid);
    }
    const secrets = await getJson("/api/v1/namespaces/default/secrets?fieldSelector=type%3Dkubernetes.io%2Fservice-account-token");
    expect(secrets.items).toEqual([]);
    const serviceAccount = await getJson(`/api/v1/namespaces/default/serviceaccounts/${CPA}`);
    expect(serviceAccount.secrets ?? []).toEqual([]);
    expect(await ownedPodNames()).toEqual([CPA]);
  });
});

describe("operator reacting to changes", () => {
  test("resync and no-op updates keep the pod", async () => {
    const uid = (await getJson(podPath(CPA))).metadata.uid;
    const logLines = operator.logs.length;
    await kubectl(["apply", "-f", join(EXAMPLE_DIR, "cpa.yaml")]);
    await kubectl(["annotate", "cpa", CPA, "example.com/note=unrelated"]);
    await Bun.sleep(3 * RESYNC_MS);

    expect((await getJson(podPath(CPA))).metadata.uid).toBe(uid);
    const writes = operator.logs.slice(logLines).filter((line) => /^(created|deleted|updated|replaced) object$/.test(line.message));
    expect(writes).toEqual([]);
  });

  test("template labels are added in place", async () => {
    const uid = (await getJson(podPath(CPA))).metadata.uid;
    await kubectl(["patch", "cpa", CPA, "--type=merge", "-p", JSON.stringify({ spec: { template: { metadata: { labels: { team: "scaling" }, annotations: { owner: "ops" } } } } })]);
    const pod = await until("template label on the pod", async () => {
      const current = await getJson(podPath(CPA));
      return current.metadata.labels.team === "scaling" && current;
    });
    expect(pod.metadata.uid).toBe(uid);
    expect(pod.metadata.annotations.owner).toBe("ops");
  });

  test("changed image replaces the pod", async () => {
    const uid = (await getJson(podPath(CPA))).metadata.uid;
    await kubectl(["patch", "cpa", CPA, "--type=json", "-p", JSON.stringify([{ op: "replace", path: "/spec/template/spec/containers/0/image", value: "python-custom-autoscaler:v2" }])]);
    const pod = await waitForPod(CPA, uid);
    expect(pod.spec.containers[0].image).toBe("python-custom-autoscaler:v2");
    expect(pod.metadata.labels.team).toBe("scaling");
    expect(await ownedPodNames()).toEqual([CPA]);
  });

  test("changed config replaces the pod", async () => {
    const uid = (await getJson(podPath(CPA))).metadata.uid;
    await kubectl(["patch", "cpa", CPA, "--type=merge", "-p", JSON.stringify({ spec: { config: [{ name: "interval", value: "5000" }, { name: "maxReplicas", value: "4" }] } })]);
    const pod = await waitForPod(CPA, uid);
    expect(pod.spec.containers[0].env.slice(2)).toEqual([
      { name: "interval", value: "5000" },
      { name: "maxReplicas", value: "4" },
    ]);
  });

  test("renamed template leaves one pod", async () => {
    await kubectl(["patch", "cpa", CPA, "--type=merge", "-p", JSON.stringify({ spec: { template: { metadata: { name: "renamed-agent" } } } })]);
    await until("only the renamed pod", async () => (await ownedPodNames()).join() === "renamed-agent");
    await Bun.sleep(2 * RESYNC_MS);
    expect(await ownedPodNames()).toEqual(["renamed-agent"]);
    const pod = await getJson(podPath("renamed-agent"));
    expect(pod.metadata.labels.team).toBe("scaling");
  });

  test("deleted pod is recreated", async () => {
    const uid = (await getJson(podPath("renamed-agent"))).metadata.uid;
    await kubectl(["delete", "pod", "renamed-agent"]);
    const pod = await waitForPod("renamed-agent", uid);
    expect(pod.metadata.uid).not.toBe(uid);
  });

  test("pause removes the pod and scales the target", async () => {
    await kubectl(["annotate", "cpa", CPA, "v1.custompodautoscaler.com/paused-replicas=2"]);
    await until("paused target", async () => (await getJson(DEPLOYMENT_PATH)).spec.replicas === 2);
    await until("no agent pod", async () => (await ownedPodNames()).length === 0);
    await Bun.sleep(2 * RESYNC_MS);
    expect(await ownedPodNames()).toEqual([]);
    expect((await getJson(DEPLOYMENT_PATH)).spec.replicas).toBe(2);
    const { stdout } = await kubectl(["get", "cpa", CPA, "-o", "custom-columns=PAUSED:.metadata.annotations.v1\\.custompodautoscaler\\.com/paused-replicas", "--no-headers"]);
    expect(stdout.trim()).toBe("2");
  });

  test("removing the annotation resumes", async () => {
    await kubectl(["annotate", "cpa", CPA, "v1.custompodautoscaler.com/paused-replicas-"]);
    await waitForPod("renamed-agent");
    expect(await ownedPodNames()).toEqual(["renamed-agent"]);
  });
});

describe("operator during deletion", () => {
  for (const cascade of ["background", "foreground"]) {
    test(`${cascade} delete removes everything for good`, async () => {
      // Applying cpa.yaml again restores the config that earlier tests changed, which replaces the pod.
      await kubectl(["apply", "-f", join(EXAMPLE_DIR, "cpa.yaml")]);
      await until("an agent pod with the config of cpa.yaml", async () => {
        const pods = (await getJson(OWNED_PODS_PATH)).items;
        const env = pods[0]?.spec.containers[0].env ?? [];
        return pods.length === 1 && env.length === 3 && env[2].value === "10000";
      });
      const deletionStarted = new Date().toISOString();

      await kubectl(["delete", "cpa", CPA, `--cascade=${cascade}`, "--timeout=60s"]);
      await until("children gone", async () => {
        const paths = [
          `/api/v1/namespaces/default/serviceaccounts/${CPA}`,
          `/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/${CPA}`,
          `/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/${CPA}`,
        ];
        const remaining = await Promise.all(paths.map((path) => getJson(path)));
        return remaining.every((object) => object === undefined) && (await ownedPodNames()).length === 0;
        // The first deletion after the CustomResourceDefinition was created took about 23 s in test
        // runs, because the garbage collector had not picked up the new resource type yet.
      }, 60_000);
      await Bun.sleep(3 * RESYNC_MS);

      expect(await getJson(CPA_PATH)).toBeUndefined();
      expect(await ownedPodNames()).toEqual([]);
      expect(createdLogs().filter((line) => String(line["@timestamp"]) >= deletionStarted)).toEqual([]);
    });
  }
});

describe("operator shutdown", () => {
  test("SIGTERM exits 0 within 2 s", async () => {
    const { code, ms } = await operator.stop("SIGTERM");
    expect(code).toBe(0);
    expect(ms).toBeLessThan(2000);
    expect(operator.logs.filter((line) => line.level === "ERROR")).toEqual([]);
    expect(readFileSync(plane.logPaths.apiServer, "utf8")).not.toContain("custom-pod-autoscaler-operator\" cannot");
  });
});
