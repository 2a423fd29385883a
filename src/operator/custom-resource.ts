/**
 * The CustomPodAutoscaler resource (`custompodautoscaler.com/v1`): its API coordinates, the labels and
 * annotations the operator reads and writes, and parsing of one object into the fields reconciliation uses.
 */

import * as v from "valibot";
import { AgentError } from "../errors.ts";
import type { KubeObject } from "../kube/client.ts";
import { metadataOf, type ResourceType } from "../kube/resources.ts";

export const CPA_GROUP = "custompodautoscaler.com";
export const CPA_VERSION = "v1";
export const CPA_API_VERSION = `${CPA_GROUP}/${CPA_VERSION}`;
export const CPA_KIND = "CustomPodAutoscaler";

export const CUSTOM_POD_AUTOSCALERS: ResourceType = {
  group: CPA_GROUP,
  version: CPA_VERSION,
  resource: "custompodautoscalers",
  kind: CPA_KIND,
  noun: "CustomPodAutoscaler",
};

/** Label on every object the operator creates; its value is the CustomPodAutoscaler name. The Go operator uses the same key. */
export const OWNED_BY_LABEL = "v1.custompodautoscaler.com/owned-by";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY_VALUE = "custom-pod-autoscaler-operator";
/** Annotation on a CustomPodAutoscaler that pauses it at the given replica count. */
export const PAUSED_REPLICAS_ANNOTATION = "v1.custompodautoscaler.com/paused-replicas";
/** Annotation on the agent pod with the hash of its rendered spec and configuration. */
export const SPEC_HASH_ANNOTATION = "v1.custompodautoscaler.com/spec-hash";

/** The highest replica count the API accepts (int32). */
const MAX_REPLICAS = 2_147_483_647;

/** `spec.scaleTargetRef`, with the key order of the JSON that the Go operator passes to the agent. */
export interface ScaleTargetRef {
  kind: string;
  name: string;
  apiVersion?: string;
}

/** A CustomPodAutoscaler with defaults applied, as reconciliation reads it. */
export interface CustomPodAutoscaler {
  name: string;
  namespace: string;
  uid: string;
  deletionTimestamp: string | undefined;
  template: {
    /** `spec.template.metadata.name`; the pod is named after the CustomPodAutoscaler when absent. */
    name: string | undefined;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    /** `spec.template.spec` as stored, with at least one container. */
    spec: KubeObject & { containers: KubeObject[] };
  };
  scaleTargetRef: ScaleTargetRef;
  config: { name: string; value: string }[];
  provisionRole: boolean;
  provisionRoleBinding: boolean;
  provisionServiceAccount: boolean;
  provisionPod: boolean;
  roleRequiresMetricsServer: boolean;
  roleRequiresArgoRollouts: boolean;
  /** Replica count from the paused-replicas annotation; undefined when the annotation is absent. */
  pausedReplicas: number | undefined;
}

/** A CustomPodAutoscaler whose spec cannot be turned into an agent. Retrying does not help until the spec changes. */
export class InvalidCustomPodAutoscalerError extends AgentError {}

const StringMap = v.record(v.string(), v.string());

const SpecSchema = v.looseObject({
  template: v.looseObject({
    metadata: v.optional(
      v.nullable(
        v.looseObject({
          name: v.optional(v.string()),
          labels: v.optional(v.nullable(StringMap)),
          annotations: v.optional(v.nullable(StringMap)),
        }),
      ),
    ),
    spec: v.looseObject({
      containers: v.pipe(
        v.array(v.looseObject({ name: v.string() })),
        v.minLength(1, "must list at least one container"),
      ),
    }),
  }),
  scaleTargetRef: v.looseObject({
    apiVersion: v.optional(v.string()),
    kind: v.pipe(v.string(), v.nonEmpty("must not be empty")),
    name: v.pipe(v.string(), v.nonEmpty("must not be empty")),
  }),
  config: v.optional(v.nullable(v.array(v.object({ name: v.string(), value: v.string() })))),
  provisionRole: v.optional(v.nullable(v.boolean())),
  provisionRoleBinding: v.optional(v.nullable(v.boolean())),
  provisionServiceAccount: v.optional(v.nullable(v.boolean())),
  provisionPod: v.optional(v.nullable(v.boolean())),
  roleRequiresMetricsServer: v.optional(v.nullable(v.boolean())),
  roleRequiresArgoRollouts: v.optional(v.nullable(v.boolean())),
});

/**
 * Reads a CustomPodAutoscaler object. Throws `InvalidCustomPodAutoscalerError` listing every invalid
 * field by its path, such as `spec.template.spec.containers`.
 */
export function parseCustomPodAutoscaler(object: KubeObject): CustomPodAutoscaler {
  const meta = metadataOf(object);
  const problems: string[] = [];

  const parsed = v.safeParse(SpecSchema, object["spec"]);
  if (!parsed.success) {
    for (const issue of parsed.issues) {
      const path = v.getDotPath(issue);
      problems.push(`spec${path ? `.${path}` : ""}: ${issue.message}`);
    }
  }

  const pausedText = meta.annotations[PAUSED_REPLICAS_ANNOTATION];
  let pausedReplicas: number | undefined;
  if (pausedText !== undefined) {
    pausedReplicas = /^\d+$/.test(pausedText.trim()) ? Number(pausedText.trim()) : Number.NaN;
    if (!(pausedReplicas <= MAX_REPLICAS)) {
      problems.push(
        `metadata.annotations["${PAUSED_REPLICAS_ANNOTATION}"]: must be a replica count from 0 to ${MAX_REPLICAS}, received "${pausedText}"`,
      );
    }
  }

  if (!parsed.success || problems.length > 0) {
    throw new InvalidCustomPodAutoscalerError(
      `invalid CustomPodAutoscaler ${meta.namespace}/${meta.name}: ${problems.join("; ")}`,
    );
  }

  const spec = parsed.output;
  const templateMeta = spec.template.metadata ?? {};
  const ref = spec.scaleTargetRef;
  const scaleTargetRef: ScaleTargetRef = { kind: ref.kind, name: ref.name };
  if (ref.apiVersion) scaleTargetRef.apiVersion = ref.apiVersion;

  return {
    name: meta.name,
    namespace: meta.namespace,
    uid: meta.uid,
    deletionTimestamp: meta.deletionTimestamp,
    template: {
      name: templateMeta.name || undefined,
      labels: { ...templateMeta.labels },
      annotations: { ...templateMeta.annotations },
      spec: spec.template.spec as CustomPodAutoscaler["template"]["spec"],
    },
    scaleTargetRef,
    config: spec.config ?? [],
    provisionRole: spec.provisionRole ?? true,
    provisionRoleBinding: spec.provisionRoleBinding ?? true,
    provisionServiceAccount: spec.provisionServiceAccount ?? true,
    provisionPod: spec.provisionPod ?? true,
    roleRequiresMetricsServer: spec.roleRequiresMetricsServer ?? false,
    roleRequiresArgoRollouts: spec.roleRequiresArgoRollouts ?? false,
    pausedReplicas,
  };
}

/** Returns the namespace/name key of the CustomPodAutoscaler that controls `object`, if any. */
export function controllingAutoscaler(object: KubeObject): string | undefined {
  const meta = metadataOf(object);
  const owner = meta.ownerReferences.find(
    (ref) => ref.controller === true && ref.kind === CPA_KIND && ref.apiVersion.startsWith(`${CPA_GROUP}/`),
  );
  return owner === undefined ? undefined : `${meta.namespace}/${owner.name}`;
}

/** True when `object` carries a controller owner reference to the CustomPodAutoscaler with `uid`. */
export function isControlledBy(object: KubeObject, uid: string): boolean {
  return metadataOf(object).ownerReferences.some((ref) => ref.controller === true && ref.uid === uid);
}
