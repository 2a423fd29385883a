/**
 * Builders of the objects tests put into the fake API server. Each returns a plain object in the
 * shape the API serves, with only the fields the agent reads.
 */

export interface WorkloadFixture {
  name: string;
  /** Default `default`. */
  namespace?: string;
  replicas?: number;
  /** Pod labels, used as the selector's `matchLabels`; default `{ app: name }`. */
  labels?: Record<string, string>;
}

function workload(apiVersion: string, kind: string, fixture: WorkloadFixture): Record<string, unknown> {
  const labels = fixture.labels ?? { app: fixture.name };
  const spec: Record<string, unknown> = {};
  if (fixture.replicas !== undefined) spec.replicas = fixture.replicas;
  spec.selector = { matchLabels: labels };
  spec.template = { metadata: { labels }, spec: { containers: [{ name: "app", image: "registry.example/app:1" }] } };
  return {
    apiVersion,
    kind,
    metadata: { name: fixture.name, namespace: fixture.namespace ?? "default", labels },
    spec,
    status: { replicas: fixture.replicas ?? 0 },
  };
}

export const deployment = (fixture: WorkloadFixture) => workload("apps/v1", "Deployment", fixture);
export const statefulSet = (fixture: WorkloadFixture) => workload("apps/v1", "StatefulSet", fixture);
export const replicaSet = (fixture: WorkloadFixture) => workload("apps/v1", "ReplicaSet", fixture);

/** Builds a ReplicationController, whose selector is a plain label map. */
export function replicationController(fixture: WorkloadFixture): Record<string, unknown> {
  const object = workload("v1", "ReplicationController", fixture);
  (object.spec as Record<string, unknown>).selector = fixture.labels ?? { app: fixture.name };
  return object;
}

export interface PodFixture {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  /** Default `Running`. */
  phase?: string;
}

export function pod(fixture: PodFixture): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: fixture.name, namespace: fixture.namespace ?? "default", labels: fixture.labels ?? {} },
    spec: { containers: [{ name: "app", image: "registry.example/app:1" }] },
    status: { phase: fixture.phase ?? "Running" },
  };
}

/** Builds a custom resource with its replica count at `.spec.count` and its pod selector at `.status.selector`. */
export function countedResource(fixture: {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  count?: number;
  selector?: string;
}): Record<string, unknown> {
  const spec: Record<string, unknown> = {};
  if (fixture.count !== undefined) spec.count = fixture.count;
  const status: Record<string, unknown> = { count: fixture.count ?? 0 };
  if (fixture.selector !== undefined) status.selector = fixture.selector;
  return {
    apiVersion: fixture.apiVersion,
    kind: fixture.kind,
    metadata: { name: fixture.name, namespace: fixture.namespace ?? "default" },
    spec,
    status,
  };
}
