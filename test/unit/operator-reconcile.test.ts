import { beforeEach, describe, expect, test } from "bun:test";
import type { KubeObject } from "../../src/kube/client.ts";
import { KubeApiError } from "../../src/kube/errors.ts";
import { metadataOf, type ResourceType } from "../../src/kube/resources.ts";
import { rootLogger } from "../../src/logging.ts";
import type { ClusterApi, TargetRef } from "../../src/operator/cluster-api.ts";
import { InvalidCustomPodAutoscalerError, OWNED_BY_LABEL, SPEC_HASH_ANNOTATION } from "../../src/operator/custom-resource.ts";
import { EarlierOwnerError } from "../../src/operator/ownership.ts";
import { reconcile } from "../../src/operator/reconcile.ts";
import { captureLogs } from "../helpers/log-capture.ts";

/**
 * In-memory cluster: objects by resource/namespace/name, a replica count per scale target, and a log
 * of every write. Deleting a pod removes it at once, as the API server does for unscheduled pods,
 * unless `gracefulPods` is set, which marks it terminating instead.
 */
class FakeCluster implements ClusterApi {
  readonly objects = new Map<string, KubeObject>();
  readonly replicas = new Map<string, number>();
  readonly writes: string[] = [];
  gracefulPods = false;
  /** Runs before each get, with the key read, so a test can change the cluster mid-reconciliation. */
  onGet: ((key: string) => void) | undefined;
  private nextUid = 1;
  private nextVersion = 1;

  private key(type: ResourceType, namespace: string, name: string): string {
    return `${type.resource}/${namespace}/${name}`;
  }

  put(type: ResourceType, object: KubeObject): KubeObject {
    const stored = structuredClone(object);
    const metadata = stored["metadata"] as Record<string, unknown>;
    metadata["uid"] ??= `uid-${this.nextUid++}`;
    metadata["resourceVersion"] = String(this.nextVersion++);
    this.objects.set(this.key(type, String(metadata["namespace"]), String(metadata["name"])), stored);
    return structuredClone(stored);
  }

  find(resource: string, namespace: string, name: string): any {
    return this.objects.get(`${resource}/${namespace}/${name}`);
  }

  all(resource: string): any[] {
    return [...this.objects.entries()].filter(([key]) => key.startsWith(`${resource}/`)).map(([, object]) => object);
  }

  async get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    this.onGet?.(this.key(type, namespace, name));
    const object = this.objects.get(this.key(type, namespace, name));
    return object === undefined ? undefined : structuredClone(object);
  }

  async create(type: ResourceType, namespace: string, object: KubeObject): Promise<KubeObject> {
    const name = metadataOf(object).name;
    if (this.objects.has(this.key(type, namespace, name))) {
      throw new KubeApiError(`failed to create ${type.noun} ${namespace}/${name}: already exists`, {
        failure: "status",
        operation: "create",
        status: 409,
        reason: "AlreadyExists",
      });
    }
    this.writes.push(`create ${type.resource} ${name}`);
    return this.put(type, object);
  }

  async replace(type: ResourceType, object: KubeObject): Promise<KubeObject> {
    const meta = metadataOf(object);
    const current = this.objects.get(this.key(type, meta.namespace, meta.name));
    if (current === undefined || metadataOf(current).resourceVersion !== meta.resourceVersion) {
      throw new KubeApiError("failed to update: conflict", { failure: "status", operation: "update", status: 409, reason: "Conflict" });
    }
    this.writes.push(`update ${type.resource} ${meta.name}`);
    return this.put(type, object);
  }

  async mergePatch(type: ResourceType, namespace: string, name: string, patch: KubeObject): Promise<KubeObject> {
    const current = this.objects.get(this.key(type, namespace, name));
    if (current === undefined) throw new Error(`patch of missing ${name}`);
    this.writes.push(`patch ${type.resource} ${name}`);
    return this.put(type, mergePatch(current, patch) as KubeObject);
  }

  async delete(type: ResourceType, namespace: string, name: string, uid: string): Promise<boolean> {
    const key = this.key(type, namespace, name);
    const current = this.objects.get(key);
    if (current === undefined) return false;
    if (metadataOf(current).uid !== uid) throw new Error(`delete of ${name} with a stale uid`);
    this.writes.push(`delete ${type.resource} ${name}`);
    if (type.resource === "pods" && this.gracefulPods) {
      (current["metadata"] as Record<string, unknown>)["deletionTimestamp"] = "2026-01-01T00:00:00Z";
    } else {
      this.objects.delete(key);
    }
    return true;
  }

  async list(type: ResourceType, namespace: string, labelSelector: string) {
    const [labelKey, labelValue] = labelSelector.split("=");
    const items = this.all(type.resource).filter((object) => {
      const meta = metadataOf(object);
      return meta.namespace === namespace && meta.labels[labelKey!] === labelValue;
    });
    return { items: structuredClone(items), resourceVersion: String(this.nextVersion) };
  }

  async getReplicas(target: TargetRef): Promise<number> {
    return this.replicas.get(target.name) ?? 1;
  }

  async setReplicas(target: TargetRef, replicas: number): Promise<void> {
    this.writes.push(`scale ${target.kind} ${target.name} ${replicas}`);
    this.replicas.set(target.name, replicas);
  }
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

const CPAS = { group: "custompodautoscaler.com", version: "v1", resource: "custompodautoscalers", kind: "CustomPodAutoscaler", noun: "" };
const PODS = { group: "", version: "v1", resource: "pods", kind: "Pod", noun: "pod" };
const NAME = "python-custom-autoscaler";

let cluster: FakeCluster;

function cpaObject(change: (object: any) => void = () => {}): KubeObject {
  const object = {
    apiVersion: "custompodautoscaler.com/v1",
    kind: "CustomPodAutoscaler",
    metadata: { name: NAME, namespace: "default", uid: "cpa-uid" },
    spec: {
      template: { spec: { containers: [{ name: "agent", image: "python-custom-autoscaler:latest" }] } },
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "hello-kubernetes" },
      config: [{ name: "interval", value: "10000" }],
    },
  };
  change(object);
  return object;
}

/** Stores the CustomPodAutoscaler, with `change` applied to it. */
function apply(change?: (object: any) => void): void {
  cluster.put(CPAS, cpaObject(change));
}

/** Edits the stored CustomPodAutoscaler in place. */
function edit(change: (object: any) => void): void {
  const object = cluster.find("custompodautoscalers", "default", NAME);
  change(object);
  cluster.put(CPAS, object);
}

function run() {
  return reconcile("default", NAME, { api: cluster, logger: rootLogger() });
}

/** Runs reconcile and returns the writes it made. */
async function writesOf(): Promise<string[]> {
  const before = cluster.writes.length;
  await run();
  return cluster.writes.slice(before);
}

function agentPod(name = NAME): any {
  return cluster.find("pods", "default", name);
}

beforeEach(() => {
  captureLogs(1);
  cluster = new FakeCluster();
});

describe("reconcile of a new CustomPodAutoscaler", () => {
  test("creates the four objects with owner references", async () => {
    apply();
    expect(await run()).toBe("pod-created");
    expect(cluster.writes).toEqual([
      `create serviceaccounts ${NAME}`,
      `create roles ${NAME}`,
      `create rolebindings ${NAME}`,
      `create pods ${NAME}`,
    ]);
    for (const resource of ["serviceaccounts", "roles", "rolebindings", "pods"]) {
      const owner = cluster.find(resource, "default", NAME).metadata.ownerReferences;
      expect(owner).toEqual([
        { apiVersion: "custompodautoscaler.com/v1", kind: "CustomPodAutoscaler", name: NAME, uid: "cpa-uid", controller: true, blockOwnerDeletion: true },
      ]);
    }
  });

  const switches: { name: string; field: string; missing: string }[] = [
    { name: "service account", field: "provisionServiceAccount", missing: "serviceaccounts" },
    { name: "role", field: "provisionRole", missing: "roles" },
    { name: "role binding", field: "provisionRoleBinding", missing: "rolebindings" },
    { name: "pod", field: "provisionPod", missing: "pods" },
  ];
  for (const row of switches) {
    test(`skips the ${row.name} when ${row.field} is false`, async () => {
      apply((o) => (o.spec[row.field] = false));
      await run();
      expect(cluster.all(row.missing)).toEqual([]);
      expect(cluster.writes).toHaveLength(3);
    });
  }
});

describe("reconcile without changes", () => {
  const noops: { name: string; change: (object: any) => void }[] = [
    { name: "resync", change: () => {} },
    { name: "autoscaler annotation", change: (o) => (o.metadata.annotations = { note: "x" }) },
    { name: "provision switch set to its default", change: (o) => (o.spec.provisionPod = true) },
  ];
  for (const row of noops) {
    test(`${row.name} writes nothing`, async () => {
      apply();
      await run();
      const uid = agentPod().metadata.uid;
      edit(row.change);
      expect(await writesOf()).toEqual([]);
      expect(agentPod().metadata.uid).toBe(uid);
    });
  }
});

describe("reconcile of the agent pod", () => {
  const replacing: { name: string; change: (object: any) => void }[] = [
    { name: "image", change: (o) => (o.spec.template.spec.containers[0].image = "python-custom-autoscaler:v2") },
    { name: "config", change: (o) => (o.spec.config[0].value = "5000") },
    { name: "target", change: (o) => (o.spec.scaleTargetRef.name = "other") },
  ];
  for (const row of replacing) {
    test(`replaces the pod when the ${row.name} changes`, async () => {
      apply();
      await run();
      const old = agentPod();
      edit(row.change);
      expect(await writesOf()).toEqual([`delete pods ${NAME}`, `create pods ${NAME}`]);
      expect(agentPod().metadata.uid).not.toBe(old.metadata.uid);
      expect(agentPod().metadata.annotations[SPEC_HASH_ANNOTATION]).not.toBe(old.metadata.annotations[SPEC_HASH_ANNOTATION]);
    });
  }

  test("patches template labels in place", async () => {
    apply();
    await run();
    const uid = agentPod().metadata.uid;
    edit((o) => (o.spec.template.metadata = { labels: { team: "a" }, annotations: { note: "x" } }));
    expect(await writesOf()).toEqual([`patch pods ${NAME}`]);
    expect(agentPod().metadata.uid).toBe(uid);
    expect(agentPod().metadata.labels.team).toBe("a");
    expect(agentPod().metadata.labels[OWNED_BY_LABEL]).toBe(NAME);
    expect(agentPod().metadata.annotations.note).toBe("x");
  });

  test("rename leaves one pod", async () => {
    apply();
    await run();
    edit((o) => (o.spec.template.metadata = { name: "renamed-agent" }));
    expect(await writesOf()).toEqual([`delete pods ${NAME}`, "create pods renamed-agent"]);
    expect(cluster.all("pods").map((p) => p.metadata.name)).toEqual(["renamed-agent"]);
  });

  test("recreates a deleted pod", async () => {
    apply();
    await run();
    cluster.objects.delete(`pods/default/${NAME}`);
    expect(await writesOf()).toEqual([`create pods ${NAME}`]);
  });

  test("waits for a terminating pod", async () => {
    cluster.gracefulPods = true;
    apply();
    await run();
    edit((o) => (o.spec.template.spec.containers[0].image = "v2"));
    expect(await run()).toBe("pod-terminating");
    expect(await writesOf()).toEqual([]);
    cluster.objects.delete(`pods/default/${NAME}`);
    expect(await writesOf()).toEqual([`create pods ${NAME}`]);
  });

  test("replaces a failed pod", async () => {
    apply();
    await run();
    agentPod().status = { phase: "Failed", reason: "Evicted" };
    expect(await writesOf()).toEqual([`delete pods ${NAME}`, `create pods ${NAME}`]);
  });

  test("replaces a pod without a spec hash once", async () => {
    apply();
    // A pod made by an operator version without the owned-by label and the hash annotation.
    cluster.put(PODS, {
      metadata: {
        name: NAME,
        namespace: "default",
        ownerReferences: [{ apiVersion: "custompodautoscaler.com/v1", kind: "CustomPodAutoscaler", name: NAME, uid: "cpa-uid", controller: true }],
      },
      spec: { containers: [{ name: "agent", image: "python-custom-autoscaler:latest" }] },
    });
    expect((await writesOf()).filter((write) => write.includes("pods"))).toEqual([`delete pods ${NAME}`, `create pods ${NAME}`]);
    expect(await writesOf()).toEqual([]);
  });

  test("waits for the pod of an earlier autoscaler of the same name", async () => {
    apply();
    cluster.put(PODS, {
      metadata: {
        name: NAME,
        namespace: "default",
        ownerReferences: [{ apiVersion: "custompodautoscaler.com/v1", kind: "CustomPodAutoscaler", name: NAME, uid: "old-uid", controller: true }],
      },
      spec: { containers: [] },
    });
    await expect(run()).rejects.toBeInstanceOf(EarlierOwnerError);
    cluster.objects.delete(`pods/default/${NAME}`);
    expect(await run()).toBe("pod-created");
  });

  test("rejects a pod name taken by another pod", async () => {
    apply();
    cluster.put(PODS, { metadata: { name: NAME, namespace: "default" }, spec: { containers: [] } });
    await expect(run()).rejects.toBeInstanceOf(InvalidCustomPodAutoscalerError);
    expect(cluster.writes.filter((write) => write.includes("pods"))).toEqual([]);
  });

  test("removes the pod when provisionPod becomes false", async () => {
    apply();
    await run();
    edit((o) => (o.spec.provisionPod = false));
    expect(await run()).toBe("pod-disabled");
    expect(cluster.all("pods")).toEqual([]);
  });
});

describe("reconcile of a paused CustomPodAutoscaler", () => {
  const paused = (o: any, replicas: string) =>
    (o.metadata.annotations = { ...o.metadata.annotations, "v1.custompodautoscaler.com/paused-replicas": replicas });

  test("removes the pod and scales the target", async () => {
    apply();
    await run();
    edit((o) => paused(o, "4"));
    expect(await writesOf()).toEqual([`delete pods ${NAME}`, "scale Deployment hello-kubernetes 4"]);
    expect(cluster.all("pods")).toEqual([]);
  });

  test("keeps a target that has the paused count", async () => {
    cluster.replicas.set("hello-kubernetes", 2);
    apply((o) => paused(o, "2"));
    expect(await run()).toBe("paused");
    expect(cluster.writes.filter((write) => write.startsWith("scale") || write.includes("pods"))).toEqual([]);
  });

  test("resumes when the annotation is removed", async () => {
    apply((o) => paused(o, "0"));
    await run();
    edit((o) => delete o.metadata.annotations);
    expect(await writesOf()).toEqual([`create pods ${NAME}`]);
    expect(cluster.replicas.get("hello-kubernetes")).toBe(0);
  });

  test("invalid annotation changes nothing", async () => {
    apply();
    await run();
    edit((o) => paused(o, "many"));
    await expect(run()).rejects.toBeInstanceOf(InvalidCustomPodAutoscalerError);
    expect(agentPod()).toBeDefined();
  });

  test("pausing needs the target apiVersion", async () => {
    apply((o) => {
      paused(o, "1");
      delete o.spec.scaleTargetRef.apiVersion;
    });
    await expect(run()).rejects.toThrow("spec.scaleTargetRef.apiVersion is missing");
  });
});

describe("reconcile of a deleted CustomPodAutoscaler", () => {
  test("missing one is a no-op", async () => {
    expect(await run()).toBe("not-found");
    expect(cluster.writes).toEqual([]);
  });

  const midway: { name: string; change: (object: any) => void }[] = [
    { name: "deletion timestamp", change: (o) => (o.metadata.deletionTimestamp = "2026-01-01T00:00:00Z") },
    { name: "new uid", change: (o) => (o.metadata.uid = "other-uid") },
  ];
  for (const row of midway) {
    test(`owner ${row.name} during reconcile stops creation`, async () => {
      apply();
      await run();
      cluster.objects.delete(`pods/default/${NAME}`);
      cluster.onGet = (key) => {
        if (key === `pods/default/${NAME}`) edit(row.change);
      };
      expect(await run()).toBe("deleting");
      expect(cluster.all("pods")).toEqual([]);
    });
  }

  test("owner deleted during reconcile stops creation", async () => {
    apply();
    cluster.onGet = (key) => {
      if (key === `roles/default/${NAME}`) cluster.objects.delete(`custompodautoscalers/default/${NAME}`);
    };
    expect(await run()).toBe("deleting");
    expect(cluster.writes).toEqual([`create serviceaccounts ${NAME}`]);
  });

  test("terminating one creates nothing", async () => {
    apply((o) => {
      o.metadata.deletionTimestamp = "2026-01-01T00:00:00Z";
      o.metadata.finalizers = ["foregroundDeletion"];
    });
    expect(await run()).toBe("deleting");
    expect(cluster.writes).toEqual([]);
  });
});

describe("reconcile of the Role and RoleBinding", () => {
  test("updates the rules when a switch changes", async () => {
    apply();
    await run();
    edit((o) => (o.spec.roleRequiresMetricsServer = true));
    expect(await writesOf()).toEqual([`update roles ${NAME}`]);
    expect(cluster.find("roles", "default", NAME).rules.at(-1).apiGroups).toContain("metrics.k8s.io");
  });

  test("leaves objects it does not control", async () => {
    const userRole = { metadata: { name: NAME, namespace: "default" }, rules: [{ apiGroups: ["example.com"], resources: ["things"], verbs: ["get"] }] };
    cluster.put({ ...PODS, resource: "roles" }, userRole);
    apply();
    await run();
    expect(cluster.writes).not.toContain(`update roles ${NAME}`);
    expect(cluster.find("roles", "default", NAME).rules[0].apiGroups).toEqual(["example.com"]);
  });

  test("waits for objects of an earlier autoscaler of the same name", async () => {
    const earlier = { apiVersion: "custompodautoscaler.com/v1", kind: "CustomPodAutoscaler", name: NAME, uid: "old-uid", controller: true };
    cluster.put({ ...PODS, resource: "serviceaccounts" }, { metadata: { name: NAME, namespace: "default", ownerReferences: [earlier] } });
    apply();
    await expect(run()).rejects.toThrow("still belongs to a deleted CustomPodAutoscaler named python-custom-autoscaler");
    expect(cluster.writes).toEqual([]);
  });

  test("recreates a binding with another roleRef", async () => {
    apply();
    await run();
    const binding = cluster.find("rolebindings", "default", NAME);
    binding.roleRef.name = "other";
    expect(await writesOf()).toEqual([`delete rolebindings ${NAME}`, `create rolebindings ${NAME}`]);
    expect(cluster.find("rolebindings", "default", NAME).roleRef.name).toBe(NAME);
  });

  test("restores missing labels on the service account", async () => {
    apply();
    await run();
    cluster.find("serviceaccounts", "default", NAME).metadata.labels = {};
    expect(await writesOf()).toEqual([`patch serviceaccounts ${NAME}`]);
  });
});
