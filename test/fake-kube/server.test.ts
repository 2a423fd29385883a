/**
 * Tests of the fake API server itself, through raw HTTPS requests, so that client tests can rely
 * on it behaving like the apiserver where it matters.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { countedResource, deployment } from "./fixtures.ts";
import { applyJsonPatch, applyMergePatch } from "./patch.ts";
import { formatSelector, parseLabelSelector } from "./selector.ts";
import { startFakeKube, type FakeKube } from "./server.ts";

let kube: FakeKube;

beforeAll(async () => {
  kube = await startFakeKube({ token: true });
  kube.registerKind({ apiVersion: "example.com/v1", kind: "Logstash", plural: "logstashes", replicasPath: ".spec.count" });
  kube.addObject(deployment({ name: "web", replicas: 2 }));
  kube.addObject(countedResource({ apiVersion: "example.com/v1", kind: "Logstash", name: "ls", count: 1 }));
});

afterAll(async () => {
  await kube.stop();
});

async function send(method: string, path: string, options: { body?: string; contentType?: string; token?: string | null } = {}) {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? kube.token : options.token;
  if (token !== null && token !== undefined) headers.Authorization = `Bearer ${token}`;
  if (options.contentType !== undefined) headers["Content-Type"] = options.contentType;
  const init: BunFetchRequestInit = { method, headers, tls: { ca: kube.caPem } };
  if (options.body !== undefined) init.body = options.body;
  const response = await fetch(`${kube.url}${path}`, init);
  const text = await response.text();
  const isJson = response.headers.get("content-type")?.startsWith("application/json") ?? false;
  return { status: response.status, body: (isJson ? JSON.parse(text) : {}) as Record<string, unknown>, text };
}

const DEPLOYMENT_SCALE = "/apis/apps/v1/namespaces/default/deployments/web/scale";
const LOGSTASH_SCALE = "/apis/example.com/v1/namespaces/default/logstashes/ls/scale";

describe("fake scale PATCH", () => {
  const rows = [
    { name: "json patch", path: DEPLOYMENT_SCALE, contentType: "application/json-patch+json", body: '[{"op":"replace","path":"/spec/replicas","value":5}]', status: 200 },
    { name: "merge patch with charset", path: DEPLOYMENT_SCALE, contentType: "application/merge-patch+json; charset=utf-8", body: '{"spec":{"replicas":6}}', status: 200 },
    { name: "strategic merge on built-in", path: DEPLOYMENT_SCALE, contentType: "application/strategic-merge-patch+json", body: '{"spec":{"replicas":7}}', status: 200 },
    { name: "strategic merge on custom resource", path: LOGSTASH_SCALE, contentType: "application/strategic-merge-patch+json", body: '{"spec":{"replicas":2}}', status: 415 },
    { name: "plain JSON content type", path: DEPLOYMENT_SCALE, contentType: "application/json", body: '{"spec":{"replicas":2}}', status: 415 },
    { name: "negative replicas", path: DEPLOYMENT_SCALE, contentType: "application/merge-patch+json", body: '{"spec":{"replicas":-1}}', status: 422 },
    { name: "stale resourceVersion", path: DEPLOYMENT_SCALE, contentType: "application/merge-patch+json", body: '{"metadata":{"resourceVersion":"1"},"spec":{"replicas":2}}', status: 409 },
    { name: "invalid JSON", path: DEPLOYMENT_SCALE, contentType: "application/merge-patch+json", body: "{", status: 400 },
    { name: "custom resource merge patch", path: LOGSTASH_SCALE, contentType: "application/merge-patch+json", body: '{"spec":{"replicas":4}}', status: 200 },
  ];
  for (const row of rows) {
    test(row.name, async () => {
      const answer = await send("PATCH", row.path, { body: row.body, contentType: row.contentType });
      expect(answer.status).toBe(row.status);
      if (row.status !== 200) expect(answer.body.kind).toBe("Status");
    });
  }

  test("patch writes the replicas path of the kind", async () => {
    await send("PATCH", LOGSTASH_SCALE, { body: '{"spec":{"replicas":9}}', contentType: "application/merge-patch+json" });
    const object = kube.getObject({ apiVersion: "example.com/v1", kind: "Logstash", name: "ls" });
    expect((object?.spec as { count: number }).count).toBe(9);
  });
});

describe("fake authentication", () => {
  test("missing token is unauthorized", async () => {
    const answer = await send("GET", DEPLOYMENT_SCALE, { token: null });
    expect(answer.status).toBe(401);
  });

  test("unknown token is unauthorized", async () => {
    const answer = await send("GET", DEPLOYMENT_SCALE, { token: "nope" });
    expect(answer.status).toBe(401);
  });

  test("forbidden user gets apiserver message", async () => {
    const token = kube.addServiceAccount("default", "reader", (attributes) => attributes.verb === "get" && attributes.resource === "deployments");
    const answer = await send("GET", DEPLOYMENT_SCALE, { token });
    expect(answer.status).toBe(403);
    expect(answer.body.message).toBe(
      'deployments.apps "web" is forbidden: User "system:serviceaccount:default:reader" cannot get resource "deployments/scale" in API group "apps" in the namespace "default"',
    );
  });
});

describe("fake discovery and lists", () => {
  test("APIGroupList names registered groups", async () => {
    const answer = await send("GET", "/apis");
    const names = (answer.body.groups as { name: string }[]).map((group) => group.name);
    expect(names).toEqual(["apps", "example.com"]);
  });

  test("unknown group version is 404", async () => {
    const answer = await send("GET", "/apis/none.example.com/v1");
    expect(answer.status).toBe(404);
    expect(answer.text).toBe("404 page not found\n");
  });

  test("invalid label selector is 400", async () => {
    const answer = await send("GET", "/api/v1/namespaces/default/pods?labelSelector=a%20in%20b");
    expect(answer.status).toBe(400);
  });

  test("invalid continue token is 400", async () => {
    const answer = await send("GET", "/api/v1/namespaces/default/pods?continue=zzz");
    expect(answer.status).toBe(400);
  });
});

describe("label selector", () => {
  const labels = { app: "web", tier: "front" };
  const rows: [string, boolean][] = [
    ["", true],
    ["app=web", true],
    ["app==web", true],
    ["app!=web", false],
    ["app=web,tier=back", false],
    ["app in (api, web)", true],
    ["app notin (web)", false],
    ["tier", true],
    ["!tier", false],
    ["missing!=x", true],
    ["missing in (x)", false],
  ];
  for (const [selector, expected] of rows) {
    test(`selector "${selector}"`, () => {
      expect(parseLabelSelector(selector)(labels)).toBe(expected);
    });
  }

  test("formatSelector of matchLabels and matchExpressions", () => {
    const text = formatSelector({
      matchLabels: { app: "web" },
      matchExpressions: [
        { key: "tier", operator: "In", values: ["front", "edge"] },
        { key: "canary", operator: "DoesNotExist" },
      ],
    });
    expect(text).toBe("!canary,app=web,tier in (edge,front)");
  });
});

describe("patch functions", () => {
  test("merge patch deletes null keys", () => {
    expect(applyMergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null }, e: 4 })).toEqual({ a: 1, b: { d: 3 }, e: 4 });
  });

  test("json patch add, remove, test", () => {
    const result = applyJsonPatch({ spec: { replicas: 1 }, list: [1, 2] }, [
      { op: "test", path: "/spec/replicas", value: 1 },
      { op: "add", path: "/list/-", value: 3 },
      { op: "remove", path: "/list/0" },
    ]);
    expect(result).toEqual({ spec: { replicas: 1 }, list: [2, 3] });
  });

  test("json patch failed test raises", () => {
    expect(() => applyJsonPatch({ a: 1 }, [{ op: "test", path: "/a", value: 2 }])).toThrow("test operation at /a failed");
  });
});

describe("fake request log", () => {
  test("waitForRequest resolves on a later request", async () => {
    kube.clearRequests();
    const waiting = kube.waitForRequest((request) => request.method === "PATCH", 2000);
    await send("PATCH", DEPLOYMENT_SCALE, { body: '{"spec":{"replicas":3}}', contentType: "application/merge-patch+json" });
    expect((await waiting).body).toBe('{"spec":{"replicas":3}}');
  });

  test("waitForRequest rejects after the timeout", async () => {
    const waiting = kube.waitForRequest((request) => request.method === "DELETE", 100);
    await expect(waiting).rejects.toThrow("no matching request reached the fake API server within 100 ms");
  });
});
