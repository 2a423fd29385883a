/**
 * Reconciliation of one CustomPodAutoscaler: reads it, leaves it alone while it is being deleted, and
 * otherwise brings its ServiceAccount, Role, RoleBinding and agent pod in line with its spec.
 */

import type { KubeObject } from "../kube/client.ts";
import { ROLE_BINDINGS, ROLES, SERVICE_ACCOUNTS, metadataOf, type ResourceType } from "../kube/resources.ts";
import type { Logger } from "../logging.ts";
import { reconcilePods, type PodOutcome } from "./agent-pod.ts";
import type { ClusterApi } from "./cluster-api.ts";
import { AutoscalerGoneError, createOwned, earlierOwnerError, ownershipOf } from "./ownership.ts";
import { CUSTOM_POD_AUTOSCALERS, parseCustomPodAutoscaler, type CustomPodAutoscaler } from "./custom-resource.ts";
import { canonicalJson, ownedLabels, renderRole, renderRoleBinding, renderServiceAccount } from "./render.ts";

/** Outcome of one reconciliation. */
export type ReconcileOutcome =
  /** The CustomPodAutoscaler no longer exists; garbage collection removes its objects. */
  | "not-found"
  /** It has a deletionTimestamp, so nothing is created or changed. */
  | "deleting"
  | PodOutcome;

export interface ReconcileContext {
  api: ClusterApi;
  /** Logger with no CustomPodAutoscaler fields bound; reconcile binds namespace and name. */
  logger: Logger;
}

/**
 * Reconciles the CustomPodAutoscaler `namespace/name`. Throws `InvalidCustomPodAutoscalerError` for a
 * spec that cannot work until it is edited; `EarlierOwnerError` and `KubeApiError` are worth a retry.
 */
export async function reconcile(namespace: string, name: string, context: ReconcileContext): Promise<ReconcileOutcome> {
  const { api } = context;
  const logger = context.logger.with({ namespace, name });

  const object = await api.get(CUSTOM_POD_AUTOSCALERS, namespace, name);
  if (object === undefined) return "not-found";
  // Foreground deletion sets deletionTimestamp and keeps the object until the garbage collector has
  // deleted its children, so creating objects from then on would bring children back.
  if (metadataOf(object).deletionTimestamp !== undefined) {
    logger.v(1).info("CustomPodAutoscaler is being deleted, not reconciling it");
    return "deleting";
  }
  const cpa = parseCustomPodAutoscaler(object);

  try {
    if (cpa.provisionServiceAccount) await ensureServiceAccount(cpa, api, logger);
    if (cpa.provisionRole) await ensureRole(cpa, api, logger);
    if (cpa.provisionRoleBinding) await ensureRoleBinding(cpa, api, logger);
    return await reconcilePods(cpa, api, logger);
  } catch (error) {
    if (!(error instanceof AutoscalerGoneError)) throw error;
    logger.v(1).info("CustomPodAutoscaler is being deleted, not reconciling it", { reason: error.message });
    return "deleting";
  }
}

function hasLabels(object: KubeObject, labels: Record<string, string>): boolean {
  const current = metadataOf(object).labels;
  return Object.entries(labels).every(([key, value]) => current[key] === value);
}

/**
 * Reads the object named after `cpa`. Creates `desired` when it is missing, and returns undefined
 * when the object was just created or belongs to someone else, in which case it is left unchanged.
 */
async function existingOwnedObject(
  type: ResourceType,
  cpa: CustomPodAutoscaler,
  desired: KubeObject,
  api: ClusterApi,
  logger: Logger,
): Promise<KubeObject | undefined> {
  const existing = await api.get(type, cpa.namespace, cpa.name);
  if (existing === undefined) {
    await createOwned(type, cpa, desired, api);
    logger.info("created object", { kind: type.kind });
    return undefined;
  }
  const ownership = ownershipOf(existing, cpa);
  if (ownership === "earlier-owner") throw earlierOwnerError(type, cpa, cpa.name);
  if (ownership === "foreign") {
    // Set provision* to false to manage this object yourself; it is never adopted or overwritten.
    logger.v(1).info("object exists and is not controlled by this CustomPodAutoscaler, leaving it unchanged", {
      kind: type.kind,
    });
    return undefined;
  }
  return existing;
}

async function ensureServiceAccount(cpa: CustomPodAutoscaler, api: ClusterApi, logger: Logger): Promise<void> {
  const existing = await existingOwnedObject(SERVICE_ACCOUNTS, cpa, renderServiceAccount(cpa), api, logger);
  if (existing === undefined || hasLabels(existing, ownedLabels(cpa))) return;
  // A merge patch of the labels leaves the token secrets listed in the ServiceAccount alone.
  await api.mergePatch(SERVICE_ACCOUNTS, cpa.namespace, cpa.name, { metadata: { labels: ownedLabels(cpa) } });
  logger.info("updated object", { kind: SERVICE_ACCOUNTS.kind, reason: "labels" });
}

async function ensureRole(cpa: CustomPodAutoscaler, api: ClusterApi, logger: Logger): Promise<void> {
  const desired = renderRole(cpa);
  const existing = await existingOwnedObject(ROLES, cpa, desired, api, logger);
  if (existing === undefined) return;
  const rulesMatch = canonicalJson(normalizeRules(existing["rules"])) === canonicalJson(desired["rules"]);
  if (rulesMatch && hasLabels(existing, ownedLabels(cpa))) return;

  await api.replace(ROLES, withDesiredFields(existing, desired, ["rules"]));
  logger.info("updated object", { kind: ROLES.kind, reason: rulesMatch ? "labels" : "rules" });
}

async function ensureRoleBinding(cpa: CustomPodAutoscaler, api: ClusterApi, logger: Logger): Promise<void> {
  const desired = renderRoleBinding(cpa);
  const existing = await existingOwnedObject(ROLE_BINDINGS, cpa, desired, api, logger);
  if (existing === undefined) return;

  // roleRef cannot be changed in place, so a binding to another role is deleted and created again.
  if (canonicalJson(existing["roleRef"]) !== canonicalJson(desired["roleRef"])) {
    await api.delete(ROLE_BINDINGS, cpa.namespace, cpa.name, metadataOf(existing).uid);
    await createOwned(ROLE_BINDINGS, cpa, desired, api);
    logger.info("replaced object", { kind: ROLE_BINDINGS.kind, reason: "roleRef" });
    return;
  }
  const subjectsMatch = canonicalJson(existing["subjects"] ?? []) === canonicalJson(desired["subjects"]);
  if (subjectsMatch && hasLabels(existing, ownedLabels(cpa))) return;

  await api.replace(ROLE_BINDINGS, withDesiredFields(existing, desired, ["subjects"]));
  logger.info("updated object", { kind: ROLE_BINDINGS.kind, reason: subjectsMatch ? "labels" : "subjects" });
}

/** Keeps only the rule fields the operator sets, so that fields the API server fills in compare equal. */
function normalizeRules(rules: unknown): unknown {
  if (!Array.isArray(rules)) return [];
  return rules.map((rule: Record<string, unknown>) => ({
    apiGroups: rule["apiGroups"] ?? [],
    resources: rule["resources"] ?? [],
    verbs: rule["verbs"] ?? [],
    ...(rule["resourceNames"] === undefined ? {} : { resourceNames: rule["resourceNames"] }),
    ...(rule["nonResourceURLs"] === undefined ? {} : { nonResourceURLs: rule["nonResourceURLs"] }),
  }));
}

/** Copies `fields` of `desired` onto `existing`, and adds the owned labels, keeping its resourceVersion for the update. */
function withDesiredFields(existing: KubeObject, desired: KubeObject, fields: string[]): KubeObject {
  const updated = structuredClone(existing);
  const metadata = (updated["metadata"] ?? {}) as KubeObject;
  const desiredLabels = (desired["metadata"] as { labels: Record<string, string> }).labels;
  metadata["labels"] = { ...(metadata["labels"] as Record<string, string> | undefined), ...desiredLabels };
  updated["metadata"] = metadata;
  for (const field of fields) updated[field] = structuredClone(desired[field]);
  return updated;
}
