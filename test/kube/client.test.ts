/**
 * Client tests that look at the requests on the wire, through the fake API server's request log:
 * patch format, discovery caching, and checks made before any request.
 */

import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { KubeClient, loadKubeConnection } from "../../src/kube/index.ts";
import { countedResource, deployment, replicaSet, replicationController, statefulSet } from "../fake-kube/fixtures.ts";
import { startFakeKube, type FakeKube } from "../fake-kube/server.ts";
import { caughtKubeError } from "./helpers.ts";

const WEB = { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "default" };

let kube: FakeKube;
let client: KubeClient;

beforeAll(async () => {
  kube = await startFakeKube({ token: true });
  kube.addObject(deployment({ name: "web", replicas: 2 }));
  kube.addObject(statefulSet({ name: "db", replicas: 3, labels: { app: "db" } }));
  kube.addObject(replicaSet({ name: "rs", replicas: 1, labels: { app: "rs", tier: "back" } }));
  kube.addObject(replicationController({ name: "rc", replicas: 4, labels: { app: "rc" } }));
  kube.registerKind({ apiVersion: "example.com/v1", kind: "Gadget", plural: "gadgets", noScale: true });
  kube.registerKind({ apiVersion: "example.com/v1", kind: "Pool", plural: "pools", namespaced: false, replicasPath: ".spec.size" });
  kube.addObject({ apiVersion: "example.com/v1", kind: "Pool", metadata: { name: "global" }, spec: { size: 6 } });
  client = new KubeClient(loadKubeConnection({ kubeconfigPath: kube.kubeconfigPath }));
});

beforeEach(() => {
  kube.clearFaults();
  kube.clearRequests();
});

afterAll(async () => {
  await kube.stop();
});

describe("patchScale request", () => {
  test("sends merge patch with field manager", async () => {
    await client.patchScale(WEB, 3);
    const patch = kube.requests.find((request) => request.method === "PATCH");
    expect(patch?.pathname).toBe("/apis/apps/v1/namespaces/default/deployments/web/scale");
    expect(patch?.contentType).toBe("application/merge-patch+json");
    expect(patch?.body).toBe('{"spec":{"replicas":3}}');
    expect(patch?.query).toEqual({ fieldManager: "cpa-agent" });
  });

  const invalid = [-1, 1.5, 2_147_483_648, Number.NaN];
  for (const replicas of invalid) {
    test(`rejects replicas ${replicas} without a request`, async () => {
      const error = await caughtKubeError(() => client.patchScale(WEB, replicas));
      expect(error.failure).toBe("request");
      expect(error.message).toContain(`replicas must be an integer from 0 to 2147483647, received ${replicas}`);
      expect(kube.requests.length).toBe(0);
    });
  }
});

describe("scale of each workload kind", () => {
  const rows = [
    { ref: { apiVersion: "apps/v1", kind: "StatefulSet", name: "db", namespace: "default" }, replicas: 3, selector: "app=db" },
    { ref: { apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", namespace: "default" }, replicas: 1, selector: "app=rs,tier=back" },
    { ref: { apiVersion: "v1", kind: "ReplicationController", name: "rc", namespace: "default" }, replicas: 4, selector: "app=rc" },
    { ref: { apiVersion: "example.com/v1", kind: "Pool", name: "global", namespace: "ignored" }, replicas: 6, selector: "" },
  ];
  for (const row of rows) {
    test(`getScale and patchScale ${row.ref.kind}`, async () => {
      const before = await client.getScale(row.ref);
      const after = await client.patchScale(row.ref, row.replicas + 1);
      expect(before.replicas).toBe(row.replicas);
      expect(before.selector).toBe(row.selector);
      expect(after.replicas).toBe(row.replicas + 1);
      expect(kube.replicasOf(row.ref)).toBe(row.replicas + 1);
    });
  }

  test("cluster-scoped kind path has no namespace", async () => {
    await client.getScale({ apiVersion: "example.com/v1", kind: "Pool", name: "global", namespace: "ignored" });
    expect(kube.requests.at(-1)?.pathname).toBe("/apis/example.com/v1/pools/global/scale");
  });

  test("cluster-scoped kind in error names no namespace", async () => {
    const error = await caughtKubeError(() => client.getScale({ apiVersion: "example.com/v1", kind: "Pool", name: "none", namespace: "x" }));
    expect(error.message).toBe('failed to get scale for Pool none: not found: pools.example.com "none" not found');
  });
});

describe("discovery cache", () => {
  test("kind without scale sends no scale request", async () => {
    await caughtKubeError(() => client.getScale({ apiVersion: "example.com/v1", kind: "Gadget", name: "g", namespace: "default" }));
    expect(kube.requests.some((request) => request.pathname.endsWith("/scale"))).toBe(false);
  });

  test("second lookup uses the cache", async () => {
    const fresh = new KubeClient(client.connection);
    await fresh.resolveResource("apps/v1", "Deployment");
    await fresh.resolveResource("apps/v1", "StatefulSet");
    expect(kube.requests.filter((request) => request.pathname === "/apis/apps/v1").length).toBe(1);
  });

  test("miss fetches discovery again", async () => {
    const fresh = new KubeClient(client.connection);
    kube.registerKind({ apiVersion: "late.example.com/v1", kind: "Early", plural: "earlies" });
    await fresh.resolveResource("late.example.com/v1", "Early");
    kube.registerKind({ apiVersion: "late.example.com/v1", kind: "Late", plural: "lates" });
    const late = await fresh.resolveResource("late.example.com/v1", "Late");
    await fresh.resolveResource("late.example.com/v1", "Early");
    expect(late.resource).toBe("lates");
    expect(kube.requests.filter((request) => request.pathname === "/apis/late.example.com/v1").length).toBe(2);
  });

  test("failed discovery is not cached", async () => {
    const fresh = new KubeClient(client.connection);
    kube.fail({ path: "/apis/apps/v1", status: 500, times: 1 });
    const error = await caughtKubeError(() => fresh.resolveResource("apps/v1", "Deployment"));
    const info = await fresh.resolveResource("apps/v1", "Deployment");
    expect(error.status).toBe(500);
    expect(info.resource).toBe("deployments");
  });

  test("invalid apiVersion is rejected", async () => {
    const error = await caughtKubeError(() => client.resolveResource("a/b/c", "Thing"));
    expect(error.message).toBe('invalid apiVersion "a/b/c": expected "v1" or "GROUP/VERSION"');
  });
});

describe("custom resource scale", () => {
  test("selector comes from status.selector", async () => {
    kube.registerKind({ apiVersion: "scale.example.com/v1", kind: "Logstash", plural: "logstashes", replicasPath: ".spec.count", statusReplicasPath: ".status.count" });
    kube.addObject(countedResource({ apiVersion: "scale.example.com/v1", kind: "Logstash", name: "ls", count: 2, selector: "app=ls" }));
    const scale = await client.getScale({ apiVersion: "scale.example.com/v1", kind: "Logstash", name: "ls", namespace: "default" });
    expect(scale.replicas).toBe(2);
    expect(scale.statusReplicas).toBe(2);
    expect(scale.selector).toBe("app=ls");
  });
});
