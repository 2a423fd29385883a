/**
 * The cluster operations that reconciliation needs, as one narrow interface, and its implementation
 * over the Kubernetes client. Unit tests pass an in-memory fake in its place.
 */

import type { KubeClient, KubeObject } from "../kube/client.ts";
import { ResourceClient, type ListResult, type ResourceType } from "../kube/resources.ts";

/** A scale target in one namespace. */
export interface TargetRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
}

/** Reads and writes namespaced objects and scale subresources. Every method throws `KubeApiError` on failure. */
export interface ClusterApi {
  /** Returns undefined when the object does not exist. */
  get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined>;
  create(type: ResourceType, namespace: string, object: KubeObject): Promise<KubeObject>;
  /** Replaces the object named by its metadata; a stale `metadata.resourceVersion` fails with 409. */
  replace(type: ResourceType, object: KubeObject): Promise<KubeObject>;
  mergePatch(type: ResourceType, namespace: string, name: string, patch: KubeObject): Promise<KubeObject>;
  /** Deletes only the object with `uid`. Returns false when it was already gone. */
  delete(type: ResourceType, namespace: string, name: string, uid: string): Promise<boolean>;
  list(type: ResourceType, namespace: string, labelSelector: string): Promise<ListResult>;
  /** Returns `spec.replicas` of the target's /scale subresource. */
  getReplicas(target: TargetRef): Promise<number>;
  /** Sets `spec.replicas` through the target's /scale subresource. */
  setReplicas(target: TargetRef, replicas: number): Promise<void>;
}

/** Returns a `ClusterApi` that sends every request through `client` and cancels it when `signal` aborts. */
export function createClusterApi(client: KubeClient, signal: AbortSignal): ClusterApi {
  const resources = new ResourceClient(client);
  return {
    get: (type, namespace, name) => resources.get(type, namespace, name, signal),
    create: (type, namespace, object) => resources.create(type, namespace, object, signal),
    replace: (type, object) => resources.replace(type, object, signal),
    mergePatch: (type, namespace, name, patch) => resources.mergePatch(type, namespace, name, patch, signal),
    delete: (type, namespace, name, uid) => resources.delete(type, namespace, name, { uid, signal }),
    list: (type, namespace, labelSelector) => resources.list(type, namespace, { labelSelector, signal }),
    getReplicas: async (target) => (await client.getScale(target, { signal })).replicas,
    setReplicas: async (target, replicas) => {
      await client.patchScale(target, replicas, { signal });
    },
  };
}
