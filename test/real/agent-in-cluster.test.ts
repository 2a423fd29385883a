/**
 * The compiled agent with in-cluster credentials: token, CA and namespace files in a directory named
 * by CPA_SERVICE_ACCOUNT_DIR and the API server address in KUBERNETES_SERVICE_HOST and
 * KUBERNETES_SERVICE_PORT, as in a pod. The tests replace the token file while the agent runs.
 *
 * Bound ServiceAccount tokens cannot be revoked one by one. Deleting and recreating the account
 * invalidates every token issued for it, because each token names the uid of the account it was issued for.
 */
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { EXAMPLE_DIR, pythonMethod, startAgent, type AgentProcess } from "../e2e/agent-process.ts";
import {
  OPERATOR_ROLE_RULES,
  applyRole,
  bindRole,
  eventually,
  freshNamespace,
  inClusterFiles,
  replaceToken,
  sharedControlPlane,
  waitForReplicas,
  waitUntilAllowed,
  watchAgent,
  type ControlPlane,
} from "./shared-plane.ts";

const TEST_TIMEOUT_MS = 180_000;
const ROLE = "autoscaler";

let plane: ControlPlane;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  plane = await sharedControlPlane();
}, TEST_TIMEOUT_MS);

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

interface Setup {
  namespace: string;
  deployment: string;
  /** The token directory the agent reads. */
  directory: string;
  /** The token in the directory when the agent started. */
  firstToken: string;
}

/**
 * Creates the example's Deployment and the ServiceAccounts `accounts`, all bound to the operator's
 * default Role, in a new namespace, and starts the guide's agent with a token of the first account.
 */
async function startInCluster(prefix: string, accounts: readonly string[]): Promise<Setup> {
  const namespace = await freshNamespace(plane, prefix);
  await plane.kubectl(["apply", "-n", namespace, "-f", join(EXAMPLE_DIR, "deployment.yaml")]);
  await applyRole(plane, namespace, ROLE, OPERATOR_ROLE_RULES);
  const tokens = [];
  for (const account of accounts) tokens.push(await plane.createServiceAccountToken(namespace, account));
  await bindRole(plane, namespace, ROLE, accounts);
  for (const account of accounts) await waitUntilAllowed(plane, namespace, account, "patch", "deployments.apps", "scale");

  const firstToken = tokens[0]!;
  const files = inClusterFiles(plane, namespace, firstToken);
  agent = startAgent({
    env: {
      ...files.env,
      CONFIG_PATH: join(EXAMPLE_DIR, "config.yaml"),
      scaleTargetRef: JSON.stringify({ apiVersion: "apps/v1", kind: "Deployment", name: "hello-kubernetes" }),
      namespace,
      interval: "500",
      logFormat: "json",
      metric: JSON.stringify(pythonMethod("metric.py")),
      evaluate: JSON.stringify(pythonMethod("evaluate.py")),
    },
  });
  return { namespace, deployment: `apis/apps/v1/namespaces/${namespace}/deployments/hello-kubernetes`, directory: files.directory, firstToken };
}

/** Returns the HTTP status of a pod list in `namespace` sent with `token` and no client certificate. */
async function statusWithToken(namespace: string, token: string): Promise<number> {
  const response = await plane.request("GET", `/api/v1/namespaces/${namespace}/pods`, {
    withoutClientCertificate: true,
    headers: { Authorization: `Bearer ${token}` },
  });
  return response.status;
}

/**
 * Deletes and recreates ServiceAccount `account`, then waits until the apiserver rejects `token` with
 * 401. kube-apiserver caches successful token authentications for 10 s by default
 * (TokenSuccessCacheTTL in pkg/kubeapiserver/options/authentication.go), so the wait takes about 10 s.
 */
async function invalidateTokens(namespace: string, account: string, token: string): Promise<void> {
  await plane.kubectl(["delete", "serviceaccount", "-n", namespace, account]);
  await plane.kubectl(["create", "serviceaccount", "-n", namespace, account]);
  await eventually(`the old token of ${namespace}/${account} to be rejected`, async () =>
    (await statusWithToken(namespace, token)) === 401 ? true : undefined,
  );
}

describe("agent with in-cluster credentials", () => {
  test("in-cluster token, CA and namespace files scale the Deployment", async () => {
    const { namespace, deployment, directory, firstToken } = await startInCluster("in-cluster", ["autoscaler"]);
    const running = agent!;

    await waitForReplicas(plane, deployment, 3, watchAgent(running));
    const credentials = await running.waitForLog((line) => line.message === "using Kubernetes credentials");
    expect(JSON.stringify(credentials)).toContain(`in-cluster service account in ${directory}`);
    expect(JSON.stringify(credentials)).toContain(`https://127.0.0.1:${new URL(plane.server).port}`);
    expect(running.logs.filter((line) => line.level === "ERROR")).toEqual([]);
    expect(JSON.stringify(running.logs) + running.otherOutput.join("\n")).not.toContain(firstToken);
    expect(await statusWithToken(namespace, firstToken)).toBe(200);
  }, TEST_TIMEOUT_MS);

  test("token file replaced, old token invalidated: no failed cycle", async () => {
    const { namespace, deployment, directory, firstToken } = await startInCluster("in-cluster-rotate", ["first", "second"]);
    const running = agent!;
    await waitForReplicas(plane, deployment, 3, watchAgent(running));

    replaceToken(directory, await plane.createServiceAccountToken(namespace, "second"));
    await invalidateTokens(namespace, "first", firstToken);
    await plane.kubectl(["label", "--overwrite", "-n", namespace, "deployment/hello-kubernetes", "numPods=5"]);
    await waitForReplicas(plane, deployment, 5, watchAgent(running));

    expect(running.logs.filter((line) => line.message === "cycle failed")).toEqual([]);
    expect(running.process.exitCode).toBeNull();
  }, TEST_TIMEOUT_MS);

  test("token invalidated, then file replaced: 401 errors, then recovery", async () => {
    const { namespace, deployment, directory, firstToken } = await startInCluster("in-cluster-recover", ["autoscaler"]);
    const running = agent!;
    await waitForReplicas(plane, deployment, 3, watchAgent(running));

    await invalidateTokens(namespace, "autoscaler", firstToken);
    await plane.kubectl(["label", "--overwrite", "-n", namespace, "deployment/hello-kubernetes", "numPods=5"]);
    const failure = await running.waitForLog((line) => line.message === "cycle failed", 30_000);
    expect(String(failure["error"])).toContain(`rejected the credentials of serviceaccount ${namespace}/autoscaler`);
    expect(running.process.exitCode).toBeNull();

    replaceToken(directory, await plane.createServiceAccountToken(namespace, "autoscaler"));
    await waitForReplicas(plane, deployment, 5, watchAgent(running));
    expect(running.process.exitCode).toBeNull();
  }, TEST_TIMEOUT_MS);
});
