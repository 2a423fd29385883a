/**
 * The compiled agent under a ServiceAccount token, loaded from in-cluster style files, with the
 * Role that the Custom Pod Autoscaler operator creates by default, on a real control plane with
 * RBAC authorization.
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
  scaleReplicas,
  sharedControlPlane,
  waitForPodCount,
  waitForReplicas,
  waitUntilAllowed,
  watchAgent,
  type ControlPlane,
  type PolicyRule,
} from "./shared-plane.ts";

const TEST_TIMEOUT_MS = 180_000;
const ACCOUNT = "python-custom-autoscaler";

let plane: ControlPlane;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  plane = await sharedControlPlane();
}, TEST_TIMEOUT_MS);

afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

/**
 * Creates the example's Deployment, the ServiceAccount, a Role with `rules` and its RoleBinding in a
 * new namespace, and starts the guide's agent with the account's token. Returns the Deployment path.
 */
async function startUnderRole(prefix: string, rules: readonly PolicyRule[]): Promise<{ namespace: string; deployment: string }> {
  const namespace = await freshNamespace(plane, prefix);
  await plane.kubectl(["apply", "-n", namespace, "-f", join(EXAMPLE_DIR, "deployment.yaml")]);
  await applyRole(plane, namespace, ACCOUNT, rules);
  const token = await plane.createServiceAccountToken(namespace, ACCOUNT);
  await bindRole(plane, namespace, ACCOUNT, [ACCOUNT]);
  await waitUntilAllowed(plane, namespace, ACCOUNT, "get", "deployments.apps");

  const files = inClusterFiles(plane, namespace, token);
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
  return { namespace, deployment: `apis/apps/v1/namespaces/${namespace}/deployments/hello-kubernetes` };
}

describe("agent under the operator's default Role", () => {
  test("ServiceAccount with default Role scales the Deployment", async () => {
    const { namespace, deployment } = await startUnderRole("rbac", OPERATOR_ROLE_RULES);
    const running = agent!;

    await waitForReplicas(plane, deployment, 3, watchAgent(running));
    expect(await waitForPodCount(plane, namespace, "app=hello-kubernetes", 3)).toHaveLength(3);
    const credentials = await running.waitForLog((line) => line.message === "using Kubernetes credentials");
    expect(JSON.stringify(credentials)).toContain("in-cluster service account");
    expect(running.logs.filter((line) => line.level === "ERROR")).toEqual([]);
  }, TEST_TIMEOUT_MS);

  // Each case takes one permission on deployments/scale away from the default Role. The agent reads
  // the scale with "get" at the start of a cycle and writes it with "patch" at the end.
  const missingPermissionCases = [
    { name: "deployments/scale removed", missingVerb: "get", scaleVerbs: undefined },
    { name: "deployments/scale without patch", missingVerb: "patch", scaleVerbs: ["get"] },
  ];
  for (const { name, missingVerb, scaleVerbs } of missingPermissionCases) {
    test(`Role with ${name}: forbidden each cycle, then recovery`, async () => {
      const rules = OPERATOR_ROLE_RULES.map((rule) => ({
        ...rule,
        resources: rule.resources.filter((resource) => resource !== "deployments/scale"),
      }));
      if (scaleVerbs !== undefined) rules.push({ apiGroups: ["apps"], resources: ["deployments/scale"], verbs: scaleVerbs });
      const { namespace, deployment } = await startUnderRole("rbac-forbidden", rules);
      const running = agent!;
      const failures = () => running.logs.filter((line) => line.message === "cycle failed");

      await eventually("3 failed cycles", async () => (failures().length >= 3 ? true : undefined), watchAgent(running));
      const seen = failures();
      for (const failure of seen) {
        const error = String(failure["error"]);
        expect(failure.level).toBe("ERROR");
        expect(error).toContain("forbidden");
        expect(error).toContain(`needs the "${missingVerb}" verb on "deployments/scale" in API group "apps"`);
        expect(error).toContain(`serviceaccount ${namespace}/${ACCOUNT}`);
      }
      // One error line per cycle: `count` numbers the consecutive failures, and no other error is logged.
      expect(seen.map((failure) => failure["count"])).toEqual(seen.map((_, index) => index + 1));
      const errors = running.logs.filter((line) => line.level === "ERROR");
      expect(errors.every((line) => line.message === "cycle failed")).toBe(true);
      expect(running.process.exitCode).toBeNull();
      expect(await scaleReplicas(plane, deployment)).toBe(1);

      await applyRole(plane, namespace, ACCOUNT, OPERATOR_ROLE_RULES);
      await waitForReplicas(plane, deployment, 3, watchAgent(running));
      const scaled = await running.waitForLog((line) => line.message === "scaled target");
      expect(scaled["targetReplicas"]).toBe(3);
      expect(running.process.exitCode).toBeNull();
    }, TEST_TIMEOUT_MS);
  }
});
