/**
 * Ownership rules for the objects of a CustomPodAutoscaler: who controls an existing object, and
 * creation guarded against a deletion of the owner that started during its reconciliation.
 */

import { AgentError } from "../errors.ts";
import type { KubeObject } from "../kube/client.ts";
import { metadataOf, type ResourceType } from "../kube/resources.ts";
import type { ClusterApi } from "./cluster-api.ts";
import { CPA_KIND, CUSTOM_POD_AUTOSCALERS, type CustomPodAutoscaler } from "./custom-resource.ts";

/** The CustomPodAutoscaler was deleted, or is being deleted, while it was reconciled. */
export class AutoscalerGoneError extends AgentError {}

/**
 * An object of the same name still belongs to a deleted CustomPodAutoscaler of the same name.
 * Garbage collection removes it, so a retry a little later succeeds.
 */
export class EarlierOwnerError extends AgentError {}

/** Controller of an existing object, relative to a CustomPodAutoscaler. */
export type Ownership =
  /** A controller owner reference to `cpa` itself (same uid). */
  | "controlled"
  /** A controller owner reference to an earlier, deleted CustomPodAutoscaler of the same name. */
  | "earlier-owner"
  /** Anything else: another controller, or none. */
  | "foreign";

/** Returns who controls `object`, relative to `cpa`. */
export function ownershipOf(object: KubeObject, cpa: CustomPodAutoscaler): Ownership {
  const controller = metadataOf(object).ownerReferences.find((ref) => ref.controller === true);
  if (controller === undefined) return "foreign";
  if (controller.uid === cpa.uid) return "controlled";
  if (controller.kind === CPA_KIND && controller.name === cpa.name) return "earlier-owner";
  return "foreign";
}

/** Returns the error for an object that an earlier CustomPodAutoscaler of the same name still owns. */
export function earlierOwnerError(type: ResourceType, cpa: CustomPodAutoscaler, name: string): EarlierOwnerError {
  return new EarlierOwnerError(
    `${type.noun} ${cpa.namespace}/${name} still belongs to a deleted CustomPodAutoscaler named ${cpa.name}; ` +
      "waiting for garbage collection to remove it",
  );
}

/**
 * Creates `object` after reading the owner again. Garbage collection deletes the children only once
 * the owner is gone or has a deletionTimestamp, so a child that disappeared mid-reconciliation is not
 * created again. Throws `AutoscalerGoneError` when the owner is gone, terminating or was replaced.
 */
export async function createOwned(
  type: ResourceType,
  cpa: CustomPodAutoscaler,
  object: KubeObject,
  api: ClusterApi,
): Promise<KubeObject> {
  const owner = await api.get(CUSTOM_POD_AUTOSCALERS, cpa.namespace, cpa.name);
  const meta = owner === undefined ? undefined : metadataOf(owner);
  if (meta === undefined || meta.uid !== cpa.uid || meta.deletionTimestamp !== undefined) {
    throw new AutoscalerGoneError(
      `not creating ${type.noun} ${cpa.namespace}/${metadataOf(object).name}: CustomPodAutoscaler ${cpa.namespace}/${cpa.name} is being deleted`,
    );
  }
  return api.create(type, cpa.namespace, object);
}
