/**
 * The operator's control loop: list-watches of CustomPodAutoscalers and of the pods they own feed a
 * work queue, one worker reconciles the queued keys, and a periodic resync queues every known key.
 */

import { errorMessage } from "../errors.ts";
import type { KubeClient, KubeObject } from "../kube/client.ts";
import { PODS, metadataOf } from "../kube/resources.ts";
import { runListWatch } from "../kube/watch.ts";
import type { Logger } from "../logging.ts";
import { createClusterApi, type ClusterApi } from "./cluster-api.ts";
import {
  CUSTOM_POD_AUTOSCALERS,
  InvalidCustomPodAutoscalerError,
  OWNED_BY_LABEL,
  controllingAutoscaler,
} from "./custom-resource.ts";
import { EarlierOwnerError } from "./ownership.ts";
import { WorkQueue, type WorkQueueOptions } from "./queue.ts";
import { reconcile } from "./reconcile.ts";

export interface OperatorOptions {
  client: KubeClient;
  /** Namespaces to watch; undefined watches every namespace. */
  namespaces: string[] | undefined;
  /** Time between two reconciliations of every known CustomPodAutoscaler, in milliseconds. */
  resyncIntervalMs: number;
  logger: Logger;
  /** Retry delays of failed reconciliations. */
  retry?: WorkQueueOptions;
  /** Backoff of failed lists and watches, in milliseconds. Defaults: 500 and 30 000. */
  watchBackoff?: { initialMs: number; maxMs: number };
}

/** Runs reconciliation until `stop` is called. */
export class Operator {
  private readonly abort = new AbortController();
  private readonly queue: WorkQueue;
  private readonly api: ClusterApi;
  /** Known CustomPodAutoscaler keys, one set per watched namespace (one set for all namespaces). */
  private readonly known: Set<string>[] = [];
  /** Last message logged for an invalid CustomPodAutoscaler, so an unchanged problem is logged once. */
  private readonly reportedInvalid = new Map<string, string>();
  private loops: Promise<void>[] = [];
  private resyncTimer: ReturnType<typeof setInterval> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: OperatorOptions) {
    this.queue = new WorkQueue(options.retry);
    this.api = createClusterApi(options.client, this.abort.signal);
  }

  /** Starts the watches, the worker and the resync timer. */
  start(): void {
    const scopes = this.options.namespaces ?? [undefined];
    for (const namespace of scopes) {
      const known = new Set<string>();
      this.known.push(known);
      this.loops.push(this.watchAutoscalers(namespace, known), this.watchPods(namespace));
    }
    this.loops.push(this.work());
    this.resyncTimer = setInterval(() => this.resync(), this.options.resyncIntervalMs);
  }

  /** Stops watching and waits for the reconciliation in progress to end. Later calls return the same promise. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.resyncTimer);
      this.abort.abort();
      this.queue.close();
      await Promise.allSettled(this.loops);
    })();
    return this.stopping;
  }

  private watchAutoscalers(namespace: string | undefined, known: Set<string>): Promise<void> {
    return runListWatch({
      client: this.options.client,
      type: CUSTOM_POD_AUTOSCALERS,
      namespace,
      signal: this.abort.signal,
      logger: this.options.logger,
      ...this.backoffOptions(),
      handlers: {
        onList: (items) => {
          known.clear();
          for (const item of items) known.add(keyOf(item));
          for (const key of known) this.queue.add(key);
        },
        onEvent: (type, object) => {
          const key = keyOf(object);
          if (type === "DELETED") {
            // Garbage collection removes the owned objects; there is nothing to reconcile.
            known.delete(key);
            this.reportedInvalid.delete(key);
            return;
          }
          known.add(key);
          this.queue.add(key);
        },
      },
    });
  }

  private watchPods(namespace: string | undefined): Promise<void> {
    return runListWatch({
      client: this.options.client,
      type: PODS,
      namespace,
      // Only pods with the owned-by label, so the operator never lists every pod of the cluster.
      labelSelector: OWNED_BY_LABEL,
      signal: this.abort.signal,
      logger: this.options.logger,
      ...this.backoffOptions(),
      handlers: {
        // Pods may have been deleted while the watch was down, so every known key is checked.
        onList: (items) => {
          for (const item of items) this.queueOwner(item);
          this.resync();
        },
        onEvent: (_type, object) => this.queueOwner(object),
      },
    });
  }

  private backoffOptions(): { initialBackoffMs?: number; maxBackoffMs?: number } {
    const backoff = this.options.watchBackoff;
    return backoff === undefined ? {} : { initialBackoffMs: backoff.initialMs, maxBackoffMs: backoff.maxMs };
  }

  private queueOwner(pod: KubeObject): void {
    const owner = controllingAutoscaler(pod);
    if (owner !== undefined) this.queue.add(owner);
  }

  private resync(): void {
    let count = 0;
    for (const known of this.known) {
      for (const key of known) {
        this.queue.add(key);
        count++;
      }
    }
    this.options.logger.v(2).info("queued every known CustomPodAutoscaler", { count });
  }

  private async work(): Promise<void> {
    for (let key = await this.queue.next(); key !== undefined; key = await this.queue.next()) {
      try {
        await this.reconcileKey(key);
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** Reconciles one key and logs the outcome; errors end here, as a log line and a retry when useful. */
  private async reconcileKey(key: string): Promise<void> {
    const [namespace = "", name = ""] = key.split("/");
    const logger = this.options.logger.with({ namespace, name });
    const started = performance.now();
    try {
      const outcome = await reconcile(namespace, name, { api: this.api, logger: this.options.logger });
      this.queue.forget(key);
      this.reportedInvalid.delete(key);
      logger.v(1).info("reconciled CustomPodAutoscaler", { reason: outcome, durationMs: Math.round(performance.now() - started) });
    } catch (error) {
      if (this.abort.signal.aborted) return;
      const message = errorMessage(error);
      if (error instanceof InvalidCustomPodAutoscalerError) {
        // Retrying cannot help; the next event of the CustomPodAutoscaler or its pod queues it again.
        this.queue.forget(key);
        if (this.reportedInvalid.get(key) === message) return;
        this.reportedInvalid.set(key, message);
        logger.error("cannot reconcile CustomPodAutoscaler, waiting for a change to it or its pod", { error: message });
        return;
      }
      const delayMs = this.queue.retry(key);
      if (error instanceof EarlierOwnerError) {
        logger.v(1).info("waiting for garbage collection, retrying", { reason: message, delayMs });
        return;
      }
      logger.error("failed to reconcile CustomPodAutoscaler, retrying", { error: message, delayMs });
    }
  }
}

function keyOf(object: KubeObject): string {
  const meta = metadataOf(object);
  return `${meta.namespace}/${meta.name}`;
}
