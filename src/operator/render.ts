/**
 * Renders the objects the operator keeps for each CustomPodAutoscaler: a ServiceAccount, a Role, a
 * RoleBinding and the agent Pod. Every function is pure, so the same CustomPodAutoscaler always
 * renders the same objects and the same spec hash.
 */

import { createHash } from "node:crypto";
import type { KubeObject } from "../kube/client.ts";
import type { OwnerReference } from "../kube/resources.ts";
import {
  CPA_API_VERSION,
  CPA_KIND,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  OWNED_BY_LABEL,
  SPEC_HASH_ANNOTATION,
  type CustomPodAutoscaler,
} from "./custom-resource.ts";

/** An RBAC policy rule. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** Rules of every provisioned Role: the agent reads pods and the built-in scalable kinds and sets their scale. */
export const BASE_ROLE_RULES: readonly PolicyRule[] = [
  { apiGroups: [""], resources: ["pods", "replicationcontrollers", "replicationcontrollers/scale"], verbs: ["*"] },
  {
    apiGroups: ["apps"],
    resources: ["deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"],
    verbs: ["*"],
  },
  // The agent writes Events on its target (kubernetesEvents, on by default); the Go operator's Role lacks this rule.
  { apiGroups: [""], resources: ["events"], verbs: ["create"] },
];

/** Added by `roleRequiresMetricsServer: true`, for agents that read the resource, custom or external metrics APIs. */
export const METRICS_ROLE_RULE: PolicyRule = {
  apiGroups: ["metrics.k8s.io", "custom.metrics.k8s.io", "external.metrics.k8s.io"],
  resources: ["*"],
  verbs: ["*"],
};

/** Added by `roleRequiresArgoRollouts: true`, for agents that scale Argo Rollouts. */
export const ARGO_ROLLOUTS_ROLE_RULE: PolicyRule = {
  apiGroups: ["argoproj.io"],
  resources: ["rollouts", "rollouts/scale"],
  verbs: ["*"],
};

/** Returns the rules of the Role provisioned for `cpa`. */
export function roleRules(cpa: CustomPodAutoscaler): PolicyRule[] {
  const rules = BASE_ROLE_RULES.map((rule) => structuredClone(rule));
  if (cpa.roleRequiresMetricsServer) rules.push(structuredClone(METRICS_ROLE_RULE));
  if (cpa.roleRequiresArgoRollouts) rules.push(structuredClone(ARGO_ROLLOUTS_ROLE_RULE));
  return rules;
}

/** Returns the controller owner reference that ties an object to `cpa`, so garbage collection deletes it with `cpa`. */
export function ownerReference(cpa: CustomPodAutoscaler): OwnerReference {
  return {
    apiVersion: CPA_API_VERSION,
    kind: CPA_KIND,
    name: cpa.name,
    uid: cpa.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Returns the labels of every object the operator creates for `cpa`. */
export function ownedLabels(cpa: CustomPodAutoscaler): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [OWNED_BY_LABEL]: cpa.name };
}

function ownedMetadata(cpa: CustomPodAutoscaler): KubeObject {
  return {
    name: cpa.name,
    namespace: cpa.namespace,
    labels: ownedLabels(cpa),
    ownerReferences: [ownerReference(cpa)],
  };
}

export function renderServiceAccount(cpa: CustomPodAutoscaler): KubeObject {
  return { apiVersion: "v1", kind: "ServiceAccount", metadata: ownedMetadata(cpa) };
}

export function renderRole(cpa: CustomPodAutoscaler): KubeObject {
  return { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: ownedMetadata(cpa), rules: roleRules(cpa) };
}

/** Renders the RoleBinding that grants the Role named after `cpa` to the ServiceAccount named after it. */
export function renderRoleBinding(cpa: CustomPodAutoscaler): KubeObject {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: ownedMetadata(cpa),
    subjects: [{ kind: "ServiceAccount", name: cpa.name, namespace: cpa.namespace }],
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: cpa.name },
  };
}

/**
 * Returns the environment variables given to every agent container, in this order: `scaleTargetRef`
 * as JSON, `namespace`, then one per `spec.config` entry. The agent reads each as an override of the
 * configuration key of the same name.
 */
export function injectedEnv(cpa: CustomPodAutoscaler): { name: string; value: string }[] {
  return [
    { name: "scaleTargetRef", value: JSON.stringify(cpa.scaleTargetRef) },
    { name: "namespace", value: cpa.namespace },
    ...cpa.config.map((entry) => ({ name: entry.name, value: entry.value })),
  ];
}

/** Returns the agent pod name: `spec.template.metadata.name`, or the CustomPodAutoscaler name. */
export function podName(cpa: CustomPodAutoscaler): string {
  return cpa.template.name ?? cpa.name;
}

/**
 * Renders the agent pod spec from `spec.template.spec`: the injected variables are appended to each
 * container's own, and the pod runs as the ServiceAccount named after `cpa`.
 */
export function renderPodSpec(cpa: CustomPodAutoscaler): KubeObject {
  const spec = structuredClone(cpa.template.spec);
  const injected = injectedEnv(cpa);
  const injectedNames = new Set(injected.map((entry) => entry.name));

  spec.containers = spec.containers.map((container) => {
    const own = Array.isArray(container["env"]) ? (container["env"] as KubeObject[]) : [];
    // A later entry of the same name wins in the container anyway. Dropping the earlier one keeps
    // the API server from warning about a hidden definition.
    const remaining = own.filter((entry) => !injectedNames.has(String(entry["name"])));
    return { ...container, env: [...remaining, ...injected] };
  });
  spec["serviceAccountName"] = cpa.name;
  // `serviceAccount` is the deprecated alias of serviceAccountName, and a different value there
  // would contradict the name set above.
  delete spec["serviceAccount"];
  return spec;
}

/** Orders strings by UTF-16 code units, independent of the locale. */
function compareCodeUnits(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/** Serializes JSON with object keys sorted at every level, so that key order never changes a hash. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => compareCodeUnits(a, b));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Returns the SHA-256 (hex) of a rendered pod spec. The spec already carries the configuration as
 * environment variables, so a change of `spec.config` or `spec.scaleTargetRef` changes the hash too.
 */
export function specHash(podSpec: KubeObject): string {
  return createHash("sha256").update(canonicalJson(podSpec)).digest("hex");
}

/** Renders the agent pod, with the template's labels and annotations, the owner labels and the spec hash. */
export function renderPod(cpa: CustomPodAutoscaler): KubeObject {
  const spec = renderPodSpec(cpa);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: podName(cpa),
      namespace: cpa.namespace,
      labels: { ...cpa.template.labels, ...ownedLabels(cpa) },
      annotations: { ...cpa.template.annotations, [SPEC_HASH_ANNOTATION]: specHash(spec) },
      ownerReferences: [ownerReference(cpa)],
    },
    spec,
  };
}
