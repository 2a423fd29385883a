/**
 * The agent pod of a CustomPodAutoscaler: created when missing, replaced only when the hash of its
 * rendered spec changed, removed while the CustomPodAutoscaler is paused or has `provisionPod: false`.
 */

import type { KubeObject } from "../kube/client.ts";
import { PODS, metadataOf } from "../kube/resources.ts";
import type { Logger } from "../logging.ts";
import type { ClusterApi } from "./cluster-api.ts";
import { createOwned, earlierOwnerError, ownershipOf } from "./ownership.ts";
import {
  InvalidCustomPodAutoscalerError,
  OWNED_BY_LABEL,
  SPEC_HASH_ANNOTATION,
  isControlledBy,
  type CustomPodAutoscaler,
} from "./custom-resource.ts";
import { podName, renderPod } from "./render.ts";

/** Outcome of reconciling the agent pod. */
export type PodOutcome =
  /** The pod exists with the current spec. */
  | "pod-ready"
  /** A pod was created. */
  | "pod-created"
  /** An outdated or finished pod is terminating; its deletion event triggers the next reconciliation. */
  | "pod-terminating"
  /** The paused-replicas annotation is set: no pod runs and the target is held at that count. */
  | "paused"
  /** `provisionPod: false`: no pod is managed. */
  | "pod-disabled";

/** Brings the agent pods of `cpa` in line with its spec. */
export async function reconcilePods(cpa: CustomPodAutoscaler, api: ClusterApi, logger: Logger): Promise<PodOutcome> {
  const desiredName = podName(cpa);
  const current = await api.get(PODS, cpa.namespace, desiredName);
  const owned = await ownedPods(cpa, current, api);

  if (cpa.pausedReplicas !== undefined) {
    await deletePods(owned, api, logger, "paused");
    await holdTargetAt(cpa, cpa.pausedReplicas, api, logger);
    return "paused";
  }
  if (!cpa.provisionPod) {
    await deletePods(owned, api, logger, "provisionPod is false");
    return "pod-disabled";
  }

  // Pods of an earlier template name, so that a rename leaves exactly one agent.
  await deletePods(
    owned.filter((pod) => metadataOf(pod).name !== desiredName),
    api,
    logger,
    "renamed",
  );

  const desired = renderPod(cpa);
  if (current === undefined) return createPod(cpa, desired, api, logger);
  const ownership = ownershipOf(current, cpa);
  if (ownership === "earlier-owner") throw earlierOwnerError(PODS, cpa, desiredName);
  if (ownership === "foreign") {
    throw new InvalidCustomPodAutoscalerError(
      `failed to create pod ${cpa.namespace}/${desiredName}: a pod of that name exists and is not controlled by ` +
        `CustomPodAutoscaler ${cpa.namespace}/${cpa.name}; delete it or set spec.template.metadata.name to another name`,
    );
  }

  const meta = metadataOf(current);
  if (meta.deletionTimestamp !== undefined) return "pod-terminating";
  const replaceReason = replacementReason(current, desired);
  if (replaceReason !== undefined) {
    await deletePods([current], api, logger, replaceReason);
    // The API server removes an unscheduled pod at once. A running pod terminates first, and its
    // deletion event queues the next reconciliation.
    if ((await api.get(PODS, cpa.namespace, desiredName)) !== undefined) return "pod-terminating";
    return createPod(cpa, desired, api, logger);
  }

  await syncPodMetadata(current, desired, api, logger);
  return "pod-ready";
}

/** Pods controlled by `cpa`: those with its owned-by label, and the pod of the current name. */
async function ownedPods(cpa: CustomPodAutoscaler, current: KubeObject | undefined, api: ClusterApi): Promise<KubeObject[]> {
  const labelled = await api.list(PODS, cpa.namespace, `${OWNED_BY_LABEL}=${cpa.name}`);
  const pods = labelled.items.filter((pod) => isControlledBy(pod, cpa.uid));
  // Pods made before the owned-by label existed carry only the owner reference.
  if (current !== undefined && isControlledBy(current, cpa.uid)) {
    const name = metadataOf(current).name;
    if (!pods.some((pod) => metadataOf(pod).name === name)) pods.push(current);
  }
  return pods;
}

/** Returns why `current` must be replaced by `desired`, or undefined when it can stay. */
function replacementReason(current: KubeObject, desired: KubeObject): string | undefined {
  const phase = (current["status"] as { phase?: string } | undefined)?.phase;
  // A pod that ended, such as an evicted one, never runs again; a new one takes its place.
  if (phase === "Succeeded" || phase === "Failed") return `pod ${phase.toLowerCase()}`;
  const currentHash = metadataOf(current).annotations[SPEC_HASH_ANNOTATION];
  const desiredHash = metadataOf(desired).annotations[SPEC_HASH_ANNOTATION];
  if (currentHash !== desiredHash) return "spec changed";
  return undefined;
}

async function createPod(cpa: CustomPodAutoscaler, pod: KubeObject, api: ClusterApi, logger: Logger): Promise<PodOutcome> {
  await createOwned(PODS, cpa, pod, api);
  logger.info("created object", { kind: PODS.kind, pod: metadataOf(pod).name });
  return "pod-created";
}

async function deletePods(pods: KubeObject[], api: ClusterApi, logger: Logger, reason: string): Promise<void> {
  for (const pod of pods) {
    const meta = metadataOf(pod);
    if (meta.deletionTimestamp !== undefined) continue;
    if (await api.delete(PODS, meta.namespace, meta.name, meta.uid)) {
      logger.info("deleted object", { kind: PODS.kind, pod: meta.name, reason });
    }
  }
}

/**
 * Copies the template's labels and annotations onto a pod whose spec is current, in place, because
 * replacing the pod would reset the agent's in-memory state.
 * NOTE: a label or annotation removed from the template stays on the pod until the pod is replaced.
 */
async function syncPodMetadata(current: KubeObject, desired: KubeObject, api: ClusterApi, logger: Logger): Promise<void> {
  const have = metadataOf(current);
  const want = metadataOf(desired);
  const labels = changedEntries(have.labels, want.labels);
  const annotations = changedEntries(have.annotations, want.annotations);
  if (labels === undefined && annotations === undefined) return;

  const metadata: KubeObject = {};
  if (labels !== undefined) metadata["labels"] = labels;
  if (annotations !== undefined) metadata["annotations"] = annotations;
  await api.mergePatch(PODS, have.namespace, have.name, { metadata });
  logger.info("updated object", { kind: PODS.kind, pod: have.name, reason: "template metadata" });
}

function changedEntries(have: Record<string, string>, want: Record<string, string>): Record<string, string> | undefined {
  const changed = Object.entries(want).filter(([key, value]) => have[key] !== value);
  return changed.length === 0 ? undefined : Object.fromEntries(changed);
}

/** Sets the scale target of a paused CustomPodAutoscaler to `replicas`, unless it already has that count. */
async function holdTargetAt(cpa: CustomPodAutoscaler, replicas: number, api: ClusterApi, logger: Logger): Promise<void> {
  const { apiVersion, kind, name } = cpa.scaleTargetRef;
  if (apiVersion === undefined) {
    throw new InvalidCustomPodAutoscalerError(
      `invalid CustomPodAutoscaler ${cpa.namespace}/${cpa.name}: spec.scaleTargetRef.apiVersion is missing, ` +
        "and pausing needs it to find the target's /scale subresource",
    );
  }
  const target = { apiVersion, kind, name, namespace: cpa.namespace };
  const currentReplicas = await api.getReplicas(target);
  if (currentReplicas === replicas) return;
  await api.setReplicas(target, replicas);
  logger.info("scaled paused target", { kind, currentReplicas, targetReplicas: replicas });
}
