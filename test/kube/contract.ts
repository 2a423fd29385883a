/**
 * Contract suite of the Kubernetes client: the same cases run against every API server a setup
 * function provides, so the fake API server cannot drift from a real one unnoticed.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isForbidden, isNotFound, KubeClient, type KubeConnection, type ObjectRef } from "../../src/kube/index.ts";
import { caughtKubeError } from "./helpers.ts";

/** The custom kinds every setup installs, with these exact names. */
export const CONTRACT_KINDS = {
  /** Scalable, with the replica count at `.spec.count`, the status count at `.status.count`, the selector at `.status.selector`, and an irregular plural. */
  counted: { apiVersion: "contract.example.com/v1", kind: "Logstash", plural: "logstashes" },
  /** Without a `/scale` subresource. */
  noScale: { apiVersion: "apps.example.com/v1", kind: "Widget", plural: "widgets" },
} as const;

/** What a setup provides: connections and fixture builders for one API server. */
export interface ContractFixtures {
  /** A connection whose user may do everything the agent does. */
  connection: KubeConnection;
  /** A connection whose user is authenticated but has no permissions. */
  restrictedConnection: KubeConnection;
  /** Namespace all fixtures are created in; it exists and starts empty. */
  namespace: string;
  createDeployment(fixture: { name: string; replicas: number; labels: Record<string, string> }): Promise<void>;
  createPod(fixture: { name: string; labels: Record<string, string> }): Promise<void>;
  /** Creates a `CONTRACT_KINDS.counted` object with `.spec.count` and `.status.selector`. */
  createCounted(fixture: { name: string; count: number; selector: string }): Promise<void>;
  teardown(): Promise<void>;
}

/** Registers the contract cases under `describe(name)`; `setupTimeoutMs` bounds setup and teardown. */
export function runKubeContract(
  name: string,
  setup: () => Promise<ContractFixtures>,
  options: { setupTimeoutMs?: number } = {},
): void {
  const hookTimeout = options.setupTimeoutMs ?? 20_000;
  describe(name, () => {
    let fixtures: ContractFixtures;
    let client: KubeClient;
    let ns: string;

    const deploymentRef = (objectName: string): ObjectRef => ({ apiVersion: "apps/v1", kind: "Deployment", name: objectName, namespace: ns });
    const countedRef = (objectName: string): ObjectRef => ({
      apiVersion: CONTRACT_KINDS.counted.apiVersion,
      kind: CONTRACT_KINDS.counted.kind,
      name: objectName,
      namespace: ns,
    });

    beforeAll(async () => {
      fixtures = await setup();
      ns = fixtures.namespace;
      client = new KubeClient(fixtures.connection);
      await fixtures.createDeployment({ name: "web", replicas: 2, labels: { app: "web" } });
      await fixtures.createDeployment({ name: "idle", replicas: 0, labels: { app: "idle" } });
      await fixtures.createCounted({ name: "logs", count: 3, selector: "app=logs" });
      await fixtures.createPod({ name: "web-a", labels: { app: "web" } });
      await fixtures.createPod({ name: "web-b", labels: { app: "web" } });
      await fixtures.createPod({ name: "web-c", labels: { app: "web", tier: "canary" } });
      await fixtures.createPod({ name: "other-a", labels: { app: "other" } });
    }, hookTimeout);

    afterAll(async () => {
      await fixtures?.teardown();
    }, hookTimeout);

    const discoveryRows = [
      { apiVersion: "apps/v1", kind: "Deployment", resource: "deployments", hasScale: true },
      { apiVersion: "apps/v1", kind: "StatefulSet", resource: "statefulsets", hasScale: true },
      { apiVersion: "apps/v1", kind: "ReplicaSet", resource: "replicasets", hasScale: true },
      { apiVersion: "v1", kind: "ReplicationController", resource: "replicationcontrollers", hasScale: true },
      { apiVersion: "v1", kind: "Pod", resource: "pods", hasScale: false },
      { ...CONTRACT_KINDS.counted, resource: CONTRACT_KINDS.counted.plural, hasScale: true },
      { ...CONTRACT_KINDS.noScale, resource: CONTRACT_KINDS.noScale.plural, hasScale: false },
    ];
    for (const row of discoveryRows) {
      test(`resolveResource ${row.apiVersion} ${row.kind}`, async () => {
        const info = await client.resolveResource(row.apiVersion, row.kind);
        expect(info.resource).toBe(row.resource);
        expect(info.hasScale).toBe(row.hasScale);
        expect(info.namespaced).toBe(true);
      });
    }

    test("resolveResource unknown kind is not found", async () => {
      const error = await caughtKubeError(() => client.resolveResource("apps/v1", "Gadget"));
      expect(isNotFound(error)).toBe(true);
      expect(error.message).toContain("kind Gadget is not served in API group version apps/v1");
    });

    test("resolveResource unknown group version is not found", async () => {
      const error = await caughtKubeError(() => client.resolveResource("nothing.example.com/v1", "Gadget"));
      expect(isNotFound(error)).toBe(true);
      expect(error.message).toContain("API group version nothing.example.com/v1 is not served");
    });

    test("getObject returns the object unchanged", async () => {
      const object = await client.getObject(deploymentRef("web"));
      const options = await fixtures.connection.requestOptions();
      const raw = await fetch(`${fixtures.connection.server}/apis/apps/v1/namespaces/${ns}/deployments/web`, {
        headers: options.headers,
        tls: options.tls,
      });
      expect(JSON.stringify(object)).toBe(JSON.stringify(await raw.json()));
      expect((object.metadata as { labels: unknown }).labels).toEqual({ app: "web" });
    });

    test("getObject missing object is not found", async () => {
      const error = await caughtKubeError(() => client.getObject(deploymentRef("missing")));
      expect(isNotFound(error)).toBe(true);
      expect(error.message).toBe(`failed to get Deployment ${ns}/missing: not found: deployments.apps "missing" not found`);
    });

    const scaleRows = [
      { name: "Deployment", ref: () => deploymentRef("web"), replicas: 2, selector: "app=web" },
      { name: "Deployment with 0 replicas", ref: () => deploymentRef("idle"), replicas: 0, selector: "app=idle" },
      { name: "custom resource with .spec.count", ref: () => countedRef("logs"), replicas: 3, selector: "app=logs" },
    ];
    for (const row of scaleRows) {
      test(`getScale ${row.name}`, async () => {
        const scale = await client.getScale(row.ref());
        expect(scale.replicas).toBe(row.replicas);
        expect(scale.selector).toBe(row.selector);
        expect(scale.raw.kind).toBe("Scale");
      });
    }

    test("getScale kind without scale subresource", async () => {
      const ref = { ...CONTRACT_KINDS.noScale, name: "gear", namespace: ns };
      const error = await caughtKubeError(() => client.getScale(ref));
      expect(error.message).toBe(`failed to get scale for Widget ${ns}/gear: apps.example.com/Widget does not expose a /scale subresource`);
      expect(error.failure).toBe("request");
    });

    test("getScale missing object is not found", async () => {
      const error = await caughtKubeError(() => client.getScale(deploymentRef("missing")));
      expect(isNotFound(error)).toBe(true);
      expect(error.status).toBe(404);
      expect(error.reason).toBe("NotFound");
      expect(error.message).toBe(`failed to get scale for Deployment ${ns}/missing: not found: deployments.apps "missing" not found`);
    });

    test("patchScale Deployment changes replicas", async () => {
      await fixtures.createDeployment({ name: "patched", replicas: 1, labels: { app: "patched" } });
      const returned = await client.patchScale(deploymentRef("patched"), 4);
      expect(returned.replicas).toBe(4);
      expect((await client.getScale(deploymentRef("patched"))).replicas).toBe(4);
      const object = await client.getObject(deploymentRef("patched"));
      expect((object.spec as { replicas: number }).replicas).toBe(4);
    });

    test("patchScale Deployment to zero", async () => {
      await fixtures.createDeployment({ name: "to-zero", replicas: 2, labels: { app: "to-zero" } });
      const returned = await client.patchScale(deploymentRef("to-zero"), 0);
      expect(returned.replicas).toBe(0);
      expect((await client.getScale(deploymentRef("to-zero"))).replicas).toBe(0);
    });

    test("patchScale custom resource changes .spec.count", async () => {
      await fixtures.createCounted({ name: "counted-patch", count: 1, selector: "app=counted" });
      const returned = await client.patchScale(countedRef("counted-patch"), 5);
      expect(returned.replicas).toBe(5);
      const object = await client.getObject(countedRef("counted-patch"));
      expect((object.spec as { count: number }).count).toBe(5);
    });

    test("patchScale missing object is not found", async () => {
      const error = await caughtKubeError(() => client.patchScale(deploymentRef("missing"), 2));
      expect(isNotFound(error)).toBe(true);
      expect(error.message).toStartWith(`failed to patch scale for Deployment ${ns}/missing: not found:`);
    });

    const podRows = [
      { selector: "app=web", expected: ["web-a", "web-b", "web-c"] },
      { selector: "app in (web,other),tier!=canary", expected: ["other-a", "web-a", "web-b"] },
      { selector: "tier", expected: ["web-c"] },
      { selector: "app=none", expected: [] },
    ];
    for (const row of podRows) {
      test(`listPods selector ${row.selector}`, async () => {
        const pods = await client.listPods(ns, row.selector);
        const names = pods.map((item) => (item.metadata as { name: string }).name).sort();
        expect(names).toEqual(row.expected);
      });
    }

    test("listPods follows continue across pages", async () => {
      const paging = new KubeClient(fixtures.connection, { pageSize: 1 });
      const pods = await paging.listPods(ns, "app=web");
      expect(pods.map((item) => (item.metadata as { name: string }).name).sort()).toEqual(["web-a", "web-b", "web-c"]);
    });

    test("getScale without permission is forbidden", async () => {
      const restricted = new KubeClient(fixtures.restrictedConnection);
      const error = await caughtKubeError(() => restricted.getScale(deploymentRef("web")));
      expect(isForbidden(error)).toBe(true);
      expect(error.status).toBe(403);
      expect(error.message).toStartWith(`failed to get scale for Deployment ${ns}/web: forbidden: `);
      expect(error.message).toContain(`${fixtures.restrictedConnection.describeUser()} needs the "get" verb on "deployments/scale"`);
      expect(error.message).toContain(`in namespace ${ns}`);
    });

    test("listPods without permission is forbidden", async () => {
      const restricted = new KubeClient(fixtures.restrictedConnection);
      const error = await caughtKubeError(() => restricted.listPods(ns, "app=web"));
      expect(isForbidden(error)).toBe(true);
      expect(error.message).toStartWith(`failed to list pods in namespace ${ns} with selector app=web: forbidden: `);
    });
  });
}
