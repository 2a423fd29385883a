/**
 * Leader election with a coordination.k8s.io/v1 Lease. The holder renews the lease every
 * `retryPeriod`; it stays leader while its last renewal is younger than `renewDeadline`. Another
 * agent takes the lease over once it has seen no renewal for `leaseDuration`, measured on its own
 * clock, so clock skew between machines does not matter. On stop the holder releases the lease so
 * a follower can take over at once.
 */
import type { LeadershipGate } from "../agent/agent.ts";
import { errorMessage } from "../errors.ts";
import { isConflict, isNotFound, type KubeClient } from "../kube/index.ts";
import type { Logger } from "../logging.ts";

export interface LeaseSettings {
  readonly name: string;
  readonly namespace: string;
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  readonly renewDeadlineSeconds: number;
  readonly retryPeriodSeconds: number;
}

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: LeaseSpec;
}

/** Renders a time as a Kubernetes MicroTime. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector implements LeadershipGate {
  private leaderSince: number | undefined;
  private lastRenew = 0;
  private term: AbortController | undefined;
  private observed: { record: string; at: number } | undefined;
  private timer: Timer | undefined;
  private stopped = false;
  private readonly listeners: ((leader: boolean) => void)[] = [];

  constructor(
    private readonly client: KubeClient,
    private readonly settings: LeaseSettings,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Calls `listener` with true when this agent becomes leader and false when it stops being one. */
  onChange(listener: (leader: boolean) => void): void {
    this.listeners.push(listener);
  }

  isLeader(): boolean {
    return this.leaderSince !== undefined && this.now() - this.lastRenew < this.settings.renewDeadlineSeconds * 1000;
  }

  leadershipSignal(): AbortSignal | undefined {
    return this.term?.signal;
  }

  /** Starts trying to acquire and renew the lease every retry period. */
  start(): void {
    void this.loop();
  }

  /** Stops renewing and, when leader, releases the lease. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.leaderSince === undefined) return;
    this.setLeader(false);
    try {
      const lease = await this.get();
      if (lease?.spec.holderIdentity === this.settings.identity) {
        lease.spec = { ...lease.spec, holderIdentity: null, acquireTime: null, renewTime: null, leaseDurationSeconds: 1 };
        await this.put(lease);
        this.logger.info("released the leader lease", { lease: this.leaseKey });
      }
    } catch (error) {
      this.logger.warn("failed to release the leader lease; followers take over once it expires", { error: errorMessage(error) });
    }
  }

  private async loop(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.tryAcquireOrRenew();
    } catch (error) {
      this.logger.warn("leader election request failed", { lease: this.leaseKey, error: errorMessage(error) });
    }
    if (this.leaderSince !== undefined && !this.isLeader()) {
      this.logger.warn("lost the leader lease: it was not renewed within renewDeadline", { lease: this.leaseKey });
      this.setLeader(false);
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.loop(), this.settings.retryPeriodSeconds * 1000);
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const { identity, leaseDurationSeconds } = this.settings;
    const now = this.now();
    const lease = await this.get();

    if (lease === undefined) {
      const created = await this.create({ holderIdentity: identity, leaseDurationSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 });
      if (created) this.renewed(now);
      return;
    }

    const spec = lease.spec;
    const holder = spec.holderIdentity ?? "";
    if (holder === identity) {
      lease.spec = { ...spec, renewTime: microTime(now), leaseDurationSeconds };
      if (await this.put(lease)) this.renewed(now);
      return;
    }

    if (holder !== "" && !this.expired(lease, now)) {
      if (this.leaderSince !== undefined) this.setLeader(false);
      return;
    }
    lease.spec = {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + 1,
    };
    if (await this.put(lease)) this.renewed(now);
  }

  /** Reports whether the other holder's lease has gone unrenewed for its duration, on this agent's clock. */
  private expired(lease: Lease, now: number): boolean {
    const record = `${lease.spec.holderIdentity}/${lease.spec.renewTime}/${lease.metadata.resourceVersion}`;
    if (this.observed?.record !== record) this.observed = { record, at: now };
    const duration = (lease.spec.leaseDurationSeconds ?? this.settings.leaseDurationSeconds) * 1000;
    return now - this.observed.at >= duration;
  }

  private renewed(now: number): void {
    this.lastRenew = now;
    if (this.leaderSince === undefined) {
      this.leaderSince = now;
      this.term = new AbortController();
      this.logger.info("became the leader", { lease: this.leaseKey });
      for (const listener of this.listeners) listener(true);
    }
  }

  private setLeader(leader: boolean): void {
    if (leader || this.leaderSince === undefined) return;
    this.leaderSince = undefined;
    this.term?.abort(new Error("leader lease lost"));
    this.term = undefined;
    for (const listener of this.listeners) listener(false);
  }

  private get leaseKey(): string {
    return `${this.settings.namespace}/${this.settings.name}`;
  }

  private path(name?: string): string {
    const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.settings.namespace)}/leases`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  private purpose(verb: string) {
    const { name, namespace } = this.settings;
    return { operation: `${verb} lease ${namespace}/${name}`, verb, resource: "leases", group: "coordination.k8s.io", namespace };
  }

  private async get(): Promise<Lease | undefined> {
    try {
      return (await this.client.request({ method: "GET", path: this.path(this.settings.name), purpose: this.purpose("get") })) as Lease;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Creates the lease; returns false when another agent created it first. */
  private async create(spec: LeaseSpec): Promise<boolean> {
    const { name, namespace } = this.settings;
    const lease: Lease = { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace }, spec };
    try {
      await this.client.request({ method: "POST", path: this.path(), body: JSON.stringify(lease), contentType: "application/json", purpose: this.purpose("create") });
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  /**
   * Writes the lease with its resourceVersion, so a concurrent change by another agent fails with
   * 409; returns false in that case.
   */
  private async put(lease: Lease): Promise<boolean> {
    try {
      await this.client.request({ method: "PUT", path: this.path(this.settings.name), body: JSON.stringify(lease), contentType: "application/json", purpose: this.purpose("update") });
      return true;
    } catch (error) {
      if (isConflict(error)) {
        this.logger.v(2).info("lease changed by another agent", { lease: this.leaseKey });
        return false;
      }
      throw error;
    }
  }
}
