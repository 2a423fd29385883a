import { describe, expect, test } from "bun:test";
import { KubeApiError, type KubeClient, type KubeRequest } from "../../src/kube/index.ts";
import { LeaderElector, type LeaseSettings } from "../../src/leader/lease.ts";
import { rootLogger } from "../../src/logging.ts";
import { captureLogs } from "../helpers/log-capture.ts";

/** An in-memory Lease endpoint with resourceVersion checks, like the API server's. */
class LeaseStore {
  lease: Record<string, unknown> | undefined;
  version = 0;

  client(): KubeClient {
    return { request: (request: KubeRequest) => this.handle(request) } as unknown as KubeClient;
  }

  private async handle(request: KubeRequest): Promise<unknown> {
    const fail = (status: number, reason: string): never => {
      throw new KubeApiError(`failed: ${reason}`, { status, reason, failure: "status", operation: "lease" } as never);
    };
    if (request.method === "GET") {
      if (this.lease === undefined) fail(404, "NotFound");
      return structuredClone(this.lease);
    }
    const body = JSON.parse(request.body!) as { metadata: { resourceVersion?: string } };
    if (request.method === "POST") {
      if (this.lease !== undefined) fail(409, "AlreadyExists");
    } else if (body.metadata.resourceVersion !== String(this.version)) {
      fail(409, "Conflict");
    }
    this.version++;
    this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(this.version) } };
    return structuredClone(this.lease);
  }

  holder(): unknown {
    return (this.lease?.["spec"] as { holderIdentity?: unknown } | undefined)?.holderIdentity;
  }
}

const settings = (identity: string): LeaseSettings => ({
  name: "cpa-web",
  namespace: "default",
  identity,
  leaseDurationSeconds: 15,
  renewDeadlineSeconds: 10,
  retryPeriodSeconds: 2,
});

/** Runs one acquire-or-renew round of `elector` at time `now`. */
async function round(elector: LeaderElector): Promise<void> {
  await (elector as unknown as { tryAcquireOrRenew(): Promise<void> }).tryAcquireOrRenew();
}

describe("LeaderElector", () => {
  test("first agent creates the lease and leads", async () => {
    captureLogs(0);
    const store = new LeaseStore();
    const a = new LeaderElector(store.client(), settings("a"), rootLogger(), () => 0);
    await round(a);
    expect(a.isLeader()).toBe(true);
    expect(store.holder()).toBe("a");
  });

  test("second agent follows while the lease is renewed", async () => {
    captureLogs(0);
    const store = new LeaseStore();
    let now = 0;
    const a = new LeaderElector(store.client(), settings("a"), rootLogger(), () => now);
    const b = new LeaderElector(store.client(), settings("b"), rootLogger(), () => now);
    await round(a);
    for (let i = 0; i < 10; i++) {
      now += 2000;
      await round(a);
      await round(b);
    }
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    expect(store.holder()).toBe("a");
  });

  test("follower takes over after the lease duration without renewals", async () => {
    captureLogs(0);
    const store = new LeaseStore();
    let now = 0;
    const a = new LeaderElector(store.client(), settings("a"), rootLogger(), () => now);
    const b = new LeaderElector(store.client(), settings("b"), rootLogger(), () => now);
    await round(a);
    await round(b);
    now += 14_000;
    await round(b);
    expect(b.isLeader()).toBe(false);
    now += 1_000;
    await round(b);
    expect(b.isLeader()).toBe(true);
    expect(store.holder()).toBe("b");
  });

  test("leader stops leading when renewals fail past the deadline", async () => {
    captureLogs(0);
    const store = new LeaseStore();
    let now = 0;
    const a = new LeaderElector(store.client(), settings("a"), rootLogger(), () => now);
    await round(a);
    now += 10_000;
    expect(a.isLeader()).toBe(false);
  });

  test("release lets a follower take over at once", async () => {
    captureLogs(0);
    const store = new LeaseStore();
    let now = 0;
    const a = new LeaderElector(store.client(), settings("a"), rootLogger(), () => now);
    const b = new LeaderElector(store.client(), settings("b"), rootLogger(), () => now);
    await round(a);
    await round(b);
    await a.stop();
    now += 100;
    await round(b);
    expect(b.isLeader()).toBe(true);
  });

  test("losing leadership aborts the leadership signal", async () => {
    captureLogs(0);
    const store = new LeaseStore();
    const a = new LeaderElector(store.client(), settings("a"), rootLogger(), () => 0);
    await round(a);
    const signal = a.leadershipSignal();
    await a.stop();
    expect(signal?.aborted).toBe(true);
  });

  test("concurrent takeover has one winner", async () => {
    captureLogs(0);
    const store = new LeaseStore();
    const electors = ["a", "b", "c"].map((id) => new LeaderElector(store.client(), settings(id), rootLogger(), () => 0));
    await Promise.all(electors.map(round));
    expect(electors.filter((e) => e.isLeader())).toHaveLength(1);
  });
});
