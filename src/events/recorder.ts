/**
 * Kubernetes Events on the scale target, as the HPA writes them: a Normal event for each rescale
 * and a Warning event for each failure. A repeat of the same reason and message within
 * REPEAT_WINDOW_MS is not sent again.
 */
import { hostname } from "node:os";
import type { AgentObserver } from "../agent/agent.ts";
import { CycleError, errorMessage } from "../errors.ts";
import { isForbidden, type KubeClient, type ObjectRef } from "../kube/index.ts";
import type { Logger } from "../logging.ts";
import { truncate } from "../logging.ts";

export const REPEAT_WINDOW_MS = 5 * 60_000;
/** Time without event writes after the API refused one with 403. */
export const FORBIDDEN_BACKOFF_MS = 10 * 60_000;
export const EVENT_SOURCE = "custom-pod-autoscaler";

/** PascalCase event reasons by the cycle step that failed. */
const FAILURE_REASONS: Readonly<Record<string, string>> = {
  "get-target": "FailedGetTarget",
  "get-scale": "FailedGetScale",
  "kubernetes-metrics": "FailedGetKubernetesMetrics",
  preMetric: "FailedPreMetricHook",
  metric: "FailedGetMetrics",
  postMetric: "FailedPostMetricHook",
  preEvaluate: "FailedPreEvaluateHook",
  evaluate: "FailedEvaluate",
  postEvaluate: "FailedPostEvaluateHook",
  preScale: "FailedPreScaleHook",
  scale: "FailedRescale",
  postScale: "FailedPostScaleHook",
  deadline: "FailedCycleDeadline",
};

export interface EventRecorderOptions {
  readonly client: KubeClient;
  readonly target: ObjectRef;
  readonly logger: Logger;
  readonly now?: () => number;
}

export class EventRecorder {
  private readonly sent = new Map<string, number>();
  private uid: string | undefined;
  private pausedUntil = 0;
  private readonly now: () => number;
  private readonly instance = hostname();

  constructor(private readonly options: EventRecorderOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Returns an observer that records rescales and failures of every cycle. */
  observer(): AgentObserver {
    return {
      cycleSucceeded: ({ result, dryRun }) => {
        if (dryRun || !result.scaled || result.targetReplicas === undefined) return;
        const message = `New size: ${result.targetReplicas}; reason: the evaluation asked for ${result.evaluatedReplicas} replicas (was ${result.currentReplicas})`;
        void this.record("Normal", "SuccessfulRescale", message);
      },
      cycleFailed: ({ error }) => {
        const step = error instanceof CycleError ? error.step : "cycle";
        const reason = FAILURE_REASONS[step] ?? "FailedCycle";
        void this.record("Warning", reason, errorMessage(error));
      },
    };
  }

  /** Creates one event, unless the same reason and message went out within the repeat window. */
  async record(type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const now = this.now();
    if (now < this.pausedUntil) return;
    const key = `${type}/${reason}/${message}`;
    const last = this.sent.get(key);
    if (last !== undefined && now - last < REPEAT_WINDOW_MS) return;
    this.sent.set(key, now);
    this.forgetOldKeys(now);

    const { client, target, logger } = this.options;
    const time = new Date(now).toISOString().replace(/\.\d{3}Z$/, "Z");
    const event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { generateName: `${target.name}.`, namespace: target.namespace },
      involvedObject: { apiVersion: target.apiVersion, kind: target.kind, name: target.name, namespace: target.namespace, ...(await this.targetUid()) },
      reason,
      message: truncate(message, 1000),
      type,
      source: { component: EVENT_SOURCE },
      reportingComponent: EVENT_SOURCE,
      reportingInstance: this.instance,
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
    try {
      await client.request({
        method: "POST",
        path: `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/events`,
        body: JSON.stringify(event),
        contentType: "application/json",
        purpose: { operation: `create event ${reason} for ${target.kind} ${target.namespace}/${target.name}`, verb: "create", resource: "events", group: "", namespace: target.namespace },
      });
    } catch (error) {
      if (isForbidden(error)) {
        this.pausedUntil = now + FORBIDDEN_BACKOFF_MS;
        logger.warn("events are not written: the Role lacks create on events; retrying in 10 minutes", { error: errorMessage(error) });
        return;
      }
      logger.warn("failed to create event", { reason, error: errorMessage(error) });
    }
  }

  private async targetUid(): Promise<{ uid?: string }> {
    if (this.uid === undefined) {
      try {
        const object = await this.options.client.getObject(this.options.target);
        const uid = (object["metadata"] as { uid?: unknown } | undefined)?.uid;
        if (typeof uid === "string") this.uid = uid;
      } catch {
        // The event is still useful without the uid; the cycle logs why the target is unreadable.
      }
    }
    return this.uid === undefined ? {} : { uid: this.uid };
  }

  private forgetOldKeys(now: number): void {
    for (const [key, time] of this.sent) {
      if (now - time >= REPEAT_WINDOW_MS) this.sent.delete(key);
    }
  }
}
