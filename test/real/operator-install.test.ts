/**
 * The install manifests' permissions on a real control plane: the operator runs with a token of the
 * ServiceAccount that deploy/namespaced.yaml or deploy/cluster.yaml creates, given the in-cluster way
 * (token, CA and namespace files plus KUBERNETES_SERVICE_HOST/PORT), exactly as its Deployment would.
 * The namespaced install must list and watch only its namespace. Both installs must hold every
 * permission they grant to agent Roles, and the /scale access that pausing needs.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { startControlPlane, type ControlPlane } from "../controlplane/harness.ts";
import { EXAMPLE_DIR, REPO_ROOT, startAgent, type AgentProcess } from "../e2e/agent-process.ts";
import { writeServiceAccountDir } from "../fake-kube/kubeconfig.ts";
import { BASE_ROLE_RULES } from "../../src/operator/render.ts";

setDefaultTimeout(120_000);

const CPA = "python-custom-autoscaler";
const OPERATOR_ACCOUNT = "custom-pod-autoscaler-operator";
const RESYNC_MS = 1000;

let plane: ControlPlane;
let operator: AgentProcess | undefined;

async function getJson(path: string): Promise<any> {
  const response = await plane.request("GET", path);
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw new Error(`GET ${path} returned HTTP ${response.status}: ${response.text}`);
  return response.body;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      const recent = (operator?.logs ?? []).slice(-10).map((line) => JSON.stringify(line)).join("\n");
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last operator log lines:\n${recent}`);
    }
    await Bun.sleep(100);
  }
}

const kubectl = (args: string[]) => plane.kubectl(args);
const podPath = (namespace: string, name: string) => `/api/v1/namespaces/${namespace}/pods/${name}`;
const objectPaths = (namespace: string) => [
  `/api/v1/namespaces/${namespace}/serviceaccounts/${CPA}`,
  `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles/${CPA}`,
  `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings/${CPA}`,
  podPath(namespace, CPA),
];
const deploymentReplicas = async (namespace: string) =>
  (await getJson(`/apis/apps/v1/namespaces/${namespace}/deployments/hello-kubernetes`)).spec.replicas;

/** Starts the operator as its pod would run: the ServiceAccount's token and no kubeconfig. */
async function startOperatorAs(namespace: string, env: Record<string, string>): Promise<AgentProcess> {
  const token = await plane.createServiceAccountToken(namespace, OPERATOR_ACCOUNT);
  const directory = writeServiceAccountDir(join(plane.dir, `operator-${namespace}`), { token, caPem: plane.caPem, namespace });
  const started = startAgent({
    args: ["operator", "--log-format", "json", "--resync-interval", String(RESYNC_MS)],
    env: {
      ...env,
      // An empty home, so that no ~/.kube/config takes precedence over the service account.
      HOME: join(plane.dir, "empty-home"),
      CPA_SERVICE_ACCOUNT_DIR: directory,
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: new URL(plane.server).port,
    },
  });
  await started.waitForLog((line) => line.message === "starting Custom Pod Autoscaler operator");
  return started;
}

/** Applies the example Deployment and CustomPodAutoscaler in `namespace`. */
async function applyExample(namespace: string): Promise<void> {
  await kubectl(["apply", "-n", namespace, "-f", join(EXAMPLE_DIR, "deployment.yaml")]);
  await kubectl(["apply", "-n", namespace, "-f", join(EXAMPLE_DIR, "cpa.yaml")]);
}

/** Log lines that show a failed request: retries of watches and failed reconciliations. */
function failures(process: AgentProcess): Record<string, unknown>[] {
  return process.logs.filter((line) => line.level === "ERROR" || line.message === "watch failed, retrying");
}

beforeAll(async () => {
  plane = await startControlPlane();
  for (const namespace of ["apps", "other"]) await kubectl(["create", "namespace", namespace]);
});

afterAll(async () => {
  if (operator !== undefined && operator.process.exitCode === null) await operator.stop();
  await plane?.stop();
});

describe("namespaced install", () => {
  test("kubectl apply -n apps installs it", async () => {
    await kubectl(["apply", "-n", "apps", "-f", join(REPO_ROOT, "deploy", "namespaced.yaml")]);
    await kubectl(["wait", "--for=condition=Established", "crd/custompodautoscalers.custompodautoscaler.com", "--timeout=30s"]);
    const binding = await getJson(`/apis/rbac.authorization.k8s.io/v1/namespaces/apps/rolebindings/${OPERATOR_ACCOUNT}`);
    expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: OPERATOR_ACCOUNT }]);
    expect(await getJson(`/apis/rbac.authorization.k8s.io/v1/clusterroles/${OPERATOR_ACCOUNT}`)).toBeUndefined();
  });

  test("operator provisions in its namespace only", async () => {
    operator = await startOperatorAs("apps", { WATCH_NAMESPACE: "apps" });
    await applyExample("apps");
    await applyExample("other");

    await until("agent pod in apps", () => getJson(podPath("apps", CPA)));
    for (const path of objectPaths("apps")) expect(await getJson(path)).toBeDefined();

    await Bun.sleep(3 * RESYNC_MS);
    for (const path of objectPaths("other")) expect(await getJson(path)).toBeUndefined();
    const watched = operator.logs.filter((line) => line.message === "starting Custom Pod Autoscaler operator");
    expect(watched[0]?.["namespace"]).toBe("apps");
    expect(failures(operator)).toEqual([]);
  });

  test("Role rules follow the switches", async () => {
    await kubectl(["patch", "cpa", CPA, "-n", "apps", "--type=merge", "-p", JSON.stringify({ spec: { roleRequiresMetricsServer: true, roleRequiresArgoRollouts: true } })]);
    const role = await until("updated Role", async () => {
      const current = await getJson(`/apis/rbac.authorization.k8s.io/v1/namespaces/apps/roles/${CPA}`);
      return current.rules.length === BASE_ROLE_RULES.length + 2 && current;
    });
    expect(role.rules.slice(BASE_ROLE_RULES.length)).toEqual([
      { apiGroups: ["metrics.k8s.io", "custom.metrics.k8s.io", "external.metrics.k8s.io"], resources: ["*"], verbs: ["*"] },
      { apiGroups: ["argoproj.io"], resources: ["rollouts", "rollouts/scale"], verbs: ["*"] },
    ]);
    expect(failures(operator!)).toEqual([]);
  });

  test("pause scales the target through /scale", async () => {
    await kubectl(["annotate", "cpa", CPA, "-n", "apps", "v1.custompodautoscaler.com/paused-replicas=0"]);
    await until("paused target", async () => (await deploymentReplicas("apps")) === 0);
    await until("no agent pod", async () => (await getJson(podPath("apps", CPA))) === undefined);
    await kubectl(["annotate", "cpa", CPA, "-n", "apps", "v1.custompodautoscaler.com/paused-replicas-"]);
    await until("agent pod after resuming", () => getJson(podPath("apps", CPA)));
    expect(failures(operator!)).toEqual([]);
  });

  test("five pod restarts leave no token secrets", async () => {
    for (let restart = 0; restart < 5; restart++) {
      const uid = (await getJson(podPath("apps", CPA))).metadata.uid;
      await kubectl(["delete", "pod", CPA, "-n", "apps", "--wait=false"]);
      await until(`pod after restart ${restart + 1}`, async () => {
        const pod = await getJson(podPath("apps", CPA));
        return pod !== undefined && pod.metadata.uid !== uid;
      });
    }
    const secrets = await getJson("/api/v1/namespaces/apps/secrets");
    expect(secrets.items.filter((secret: any) => secret.type === "kubernetes.io/service-account-token")).toEqual([]);
    expect((await getJson(`/api/v1/namespaces/apps/serviceaccounts/${CPA}`)).secrets ?? []).toEqual([]);
  });

  test("SIGINT exits 0 within 2 s", async () => {
    const { code, ms } = await operator!.stop("SIGINT");
    expect(code).toBe(0);
    expect(ms).toBeLessThan(2000);
    expect(failures(operator!)).toEqual([]);
  });
});

describe("cluster-wide install", () => {
  test("operator with the cluster ServiceAccount provisions every namespace", async () => {
    await kubectl(["apply", "-f", join(REPO_ROOT, "deploy", "cluster.yaml")]);
    operator = await startOperatorAs("default", { WATCH_NAMESPACE: "" });

    await until("agent pod in other", () => getJson(podPath("other", CPA)));
    for (const path of objectPaths("other")) expect(await getJson(path)).toBeDefined();
    await kubectl(["patch", "cpa", CPA, "-n", "other", "--type=merge", "-p", JSON.stringify({ spec: { roleRequiresMetricsServer: true, roleRequiresArgoRollouts: true } })]);
    await until("updated Role in other", async () => {
      const role = await getJson(`/apis/rbac.authorization.k8s.io/v1/namespaces/other/roles/${CPA}`);
      return role.rules.length === BASE_ROLE_RULES.length + 2;
    });

    await kubectl(["annotate", "cpa", CPA, "-n", "other", "v1.custompodautoscaler.com/paused-replicas=2"]);
    await until("paused target in other", async () => (await deploymentReplicas("other")) === 2);
    expect(failures(operator)).toEqual([]);

    const { code } = await operator.stop("SIGTERM");
    expect(code).toBe(0);
  });
});
