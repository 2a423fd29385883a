import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { ARGO_ROLLOUTS_ROLE_RULE, BASE_ROLE_RULES, METRICS_ROLE_RULE, type PolicyRule } from "../../src/operator/render.ts";

const DEPLOY_DIR = join(import.meta.dir, "../../deploy");

function documents(file: string): any[] {
  return parseAllDocuments(readFileSync(join(DEPLOY_DIR, file), "utf8"))
    .map((document) => document.toJSON())
    .filter((document) => document !== null);
}

function byKind(docs: any[], kind: string): any {
  const found = docs.filter((document) => document.kind === kind);
  expect(found).toHaveLength(1);
  return found[0];
}

/** True when some rule grants every verb on `resource` in `group`. */
function grantsAll(rules: PolicyRule[], group: string, resource: string): boolean {
  return rules.some(
    (rule) => rule.apiGroups.includes(group) && (rule.resources.includes(resource) || rule.resources.includes("*")) && rule.verbs.includes("*"),
  );
}

/** True when some rule grants `verb` on `resource` in `group`. */
function grants(rules: PolicyRule[], group: string, resource: string, verb: string): boolean {
  return rules.some(
    (rule) => rule.apiGroups.includes(group) && rule.resources.includes(resource) && (rule.verbs.includes(verb) || rule.verbs.includes("*")),
  );
}

const cluster = documents("cluster.yaml");
const namespaced = documents("namespaced.yaml");

describe("install manifests", () => {
  test("both contain the same CustomResourceDefinition", () => {
    expect(byKind(namespaced, "CustomResourceDefinition")).toEqual(byKind(cluster, "CustomResourceDefinition"));
  });

  test("CustomResourceDefinition names", () => {
    const crd = byKind(cluster, "CustomResourceDefinition");
    expect(crd.metadata.name).toBe("custompodautoscalers.custompodautoscaler.com");
    expect(crd.spec.group).toBe("custompodautoscaler.com");
    expect(crd.spec.scope).toBe("Namespaced");
    expect(crd.spec.names).toMatchObject({ kind: "CustomPodAutoscaler", plural: "custompodautoscalers", shortNames: ["cpa"] });
    expect(crd.spec.versions.map((version: any) => version.name)).toEqual(["v1"]);
  });

  test("CustomResourceDefinition schema fields", () => {
    const spec = byKind(cluster, "CustomResourceDefinition").spec.versions[0].schema.openAPIV3Schema.properties.spec;
    expect(spec.required).toEqual(["template", "scaleTargetRef"]);
    expect(Object.keys(spec.properties).sort()).toEqual([
      "config",
      "provisionPod",
      "provisionRole",
      "provisionRoleBinding",
      "provisionServiceAccount",
      "roleRequiresArgoRollouts",
      "roleRequiresMetricsServer",
      "scaleTargetRef",
      "template",
    ]);
    expect(spec.properties.template.properties.spec["x-kubernetes-preserve-unknown-fields"]).toBe(true);
  });

  test("printer columns show the target and its limits", () => {
    const columns = byKind(cluster, "CustomResourceDefinition").spec.versions[0].additionalPrinterColumns;
    expect(columns.map((column: any) => column.jsonPath)).toEqual([
      ".spec.scaleTargetRef.kind",
      ".spec.scaleTargetRef.name",
      '.spec.config[?(@.name=="minReplicas")].value',
      '.spec.config[?(@.name=="maxReplicas")].value',
      ".metadata.annotations.v1\\.custompodautoscaler\\.com/paused-replicas",
      ".metadata.creationTimestamp",
    ]);
  });

  test("namespaced Role has the ClusterRole's rules", () => {
    expect(byKind(namespaced, "Role").rules).toEqual(byKind(cluster, "ClusterRole").rules);
  });

  const agentRules = [...BASE_ROLE_RULES, METRICS_ROLE_RULE, ARGO_ROLLOUTS_ROLE_RULE];
  for (const rule of agentRules) {
    for (const group of rule.apiGroups) {
      for (const resource of rule.resources) {
        test(`operator holds every agent permission: ${group || "core"} ${resource}`, () => {
          const rules = byKind(cluster, "ClusterRole").rules;
          const grantsEveryVerb = rule.verbs.every((verb) => (verb === "*" ? grantsAll(rules, group, resource) : grants(rules, group, resource, verb)));
          expect(grantsEveryVerb).toBe(true);
        });
      }
    }
  }

  const operatorNeeds: [string, string, string][] = [
    ["custompodautoscaler.com", "custompodautoscalers", "list"],
    ["custompodautoscaler.com", "custompodautoscalers", "watch"],
    ["custompodautoscaler.com", "custompodautoscalers", "get"],
    ["custompodautoscaler.com", "custompodautoscalers/finalizers", "update"],
    ["", "pods", "watch"],
    ["", "pods", "delete"],
    ["", "pods", "patch"],
    ["", "serviceaccounts", "create"],
    ["", "serviceaccounts", "patch"],
    ["rbac.authorization.k8s.io", "roles", "update"],
    ["rbac.authorization.k8s.io", "rolebindings", "delete"],
  ];
  for (const [group, resource, verb] of operatorNeeds) {
    test(`operator may ${verb} ${resource}`, () => {
      expect(grants(byKind(cluster, "ClusterRole").rules, group, resource, verb)).toBe(true);
    });
  }

  test("cluster install runs in namespace default for all namespaces", () => {
    const deployment = byKind(cluster, "Deployment");
    expect(deployment.metadata.namespace).toBe("default");
    const container = deployment.spec.template.spec.containers[0];
    expect(container.command).toEqual(["/usr/local/bin/cpa", "operator"]);
    expect(container.env).toEqual([{ name: "WATCH_NAMESPACE", value: "" }]);
    expect(deployment.spec.template.spec.serviceAccountName).toBe(byKind(cluster, "ServiceAccount").metadata.name);
    expect(byKind(cluster, "ClusterRoleBinding").subjects).toEqual([
      { kind: "ServiceAccount", name: "custom-pod-autoscaler-operator", namespace: "default" },
    ]);
  });

  test("namespaced install takes its namespace from kubectl and the pod", () => {
    for (const document of namespaced) expect(document.metadata.namespace).toBeUndefined();
    const container = byKind(namespaced, "Deployment").spec.template.spec.containers[0];
    expect(container.command).toEqual(["/usr/local/bin/cpa", "operator"]);
    expect(container.env).toEqual([{ name: "WATCH_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } }]);
    expect(byKind(namespaced, "RoleBinding").roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "custom-pod-autoscaler-operator",
    });
  });
});
