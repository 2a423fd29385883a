/**
 * The `kubernetesMetrics` source of the cycle: gathers every configured spec in order, turns each
 * result into an entry of the Go agent's JSON shape, and applies `requireKubernetesMetrics`.
 */
import type { Config } from "../config/schema.ts";
import { AgentError } from "../errors.ts";
import type { Logger } from "../logging.ts";
import type { KubernetesMetricsSource } from "../pipeline/cycle.ts";
import type { KubeObject } from "../pipeline/payloads.ts";
import type { Clock, ScaleInfo } from "../pipeline/target.ts";
import { MetricsApi, type MetricsApiClient } from "./api.ts";
import { gatherSpec, type GatherContext } from "./gather.ts";
import { goString } from "./go-json.ts";
import { podFacts, type PodFacts } from "./pods.ts";
import { decodeMetricSpec, describeSpec, echoSpec, type MetricSpec } from "./spec.ts";
import { fromMilliseconds } from "./time.ts";

const NANOS_PER_SECOND = 1_000_000_000n;

/** Consecutive failures of one spec between two error-level log lines about it. */
const REPEATED_FAILURE_LOG_INTERVAL = 20;

/** The configuration keys that gathering reads. */
export type KubernetesMetricsSettings = Pick<
  Config,
  "namespace" | "kubernetesMetricSpecs" | "requireKubernetesMetrics" | "initialReadinessDelay" | "cpuInitializationPeriod"
>;

export interface KubernetesMetricsSourceOptions {
  readonly client: MetricsApiClient;
  readonly config: KubernetesMetricsSettings;
  readonly logger: Logger;
  readonly clock: Clock;
  /**
   * Treatment of a failed spec when `requireKubernetesMetrics` is false. With `entry`, the default,
   * it keeps its place in the list as `{current_replicas, spec, error}`, so scripts can see that
   * data is missing. With `omit` it is left out, as the Go agent does.
   */
  readonly failedSpecs?: "entry" | "omit";
}

/** Some required Kubernetes metrics could not be gathered; the message names each failed spec. */
export class KubernetesMetricsError extends AgentError {
  readonly failures: readonly SpecFailure[];

  constructor(failures: readonly SpecFailure[], total: number) {
    const details = failures.map((failure) => `${failure.label}: ${failure.message}`).join("; ");
    super(`${failures.length} of ${total} required Kubernetes metrics failed: ${details}`);
    this.failures = failures;
  }
}

/** One spec that failed in a cycle. */
export interface SpecFailure {
  /** Position in `kubernetesMetricSpecs`. */
  readonly index: number;
  /** Such as `external/queue_depth`. */
  readonly label: string;
  readonly message: string;
}

interface DecodedSpec {
  readonly raw: unknown;
  readonly spec: MetricSpec | undefined;
  /** Reason the spec could not be decoded; undefined when it was decoded. */
  readonly problem: string | undefined;
}

function decodeAll(specs: readonly unknown[]): DecodedSpec[] {
  return specs.map((raw, index) => {
    const { spec, problems } = decodeMetricSpec(raw);
    const first = problems[0];
    const problem = first === undefined ? undefined : `invalid kubernetesMetricSpecs[${index}]${first.path === "" ? "" : `.${first.path}`}: ${first.message}`;
    return { raw, spec, problem };
  });
}

/** Creates the source that the cycle calls before the metric stage. */
export function createKubernetesMetricsSource(options: KubernetesMetricsSourceOptions): KubernetesMetricsSource {
  const { client, config, clock } = options;
  const logger = options.logger.with({ stage: "kubernetes-metrics" });
  const failedSpecs = options.failedSpecs ?? "entry";
  const specs = decodeAll(config.kubernetesMetricSpecs ?? []);
  const api = new MetricsApi(client);
  const consecutiveFailures = new Map<number, number>();

  const logFailure = (failure: SpecFailure): void => {
    const count = (consecutiveFailures.get(failure.index) ?? 0) + 1;
    consecutiveFailures.set(failure.index, count);
    const fields = { key: `kubernetesMetricSpecs[${failure.index}]`, reason: failure.label, error: failure.message, count };
    const text = "failed to get Kubernetes metric; continuing without it because requireKubernetesMetrics is false";
    if (count === 1 || count % REPEATED_FAILURE_LOG_INTERVAL === 0) logger.error(text, fields);
    else logger.v(1).info(text, fields);
  };

  const logRecovery = (index: number, label: string): void => {
    const count = consecutiveFailures.get(index);
    if (count === undefined) return;
    consecutiveFailures.delete(index);
    logger.info("Kubernetes metric available again", { key: `kubernetesMetricSpecs[${index}]`, reason: label, count });
  };

  return {
    async gather(_object: KubeObject, scale: ScaleInfo, signal: AbortSignal): Promise<unknown[]> {
      if (specs.length === 0) return [];
      signal.throwIfAborted();
      const started = performance.now();
      const context = gatherContext({ api, client, config, clock, scale, signal });

      const entries: unknown[] = [];
      const failures: SpecFailure[] = [];
      for (const [index, decoded] of specs.entries()) {
        const label = describeSpec(decoded.spec, index);
        const echo = decoded.spec === undefined ? decoded.raw : echoSpec(decoded.spec);
        try {
          if (decoded.spec === undefined) throw new Error(decoded.problem);
          const result = await gatherSpec(decoded.spec, context);
          entries.push({ current_replicas: scale.replicas, spec: echo, [result.key]: result.value });
          logRecovery(index, label);
        } catch (error) {
          if (signal.aborted) throw error;
          const message = error instanceof Error ? error.message : String(error);
          failures.push({ index, label, message });
          if (failedSpecs === "entry") entries.push({ current_replicas: scale.replicas, spec: echo, error: goString(message) });
        }
      }

      if (failures.length > 0 && config.requireKubernetesMetrics) throw new KubernetesMetricsError(failures, specs.length);
      for (const failure of failures) logFailure(failure);
      logger.v(2).info("gathered Kubernetes metrics", { count: specs.length - failures.length, durationMs: Math.round(performance.now() - started) });
      return entries;
    },
  };
}

function gatherContext(input: {
  api: MetricsApi;
  client: MetricsApiClient;
  config: KubernetesMetricsSettings;
  clock: Clock;
  scale: ScaleInfo;
  signal: AbortSignal;
}): GatherContext {
  const { api, client, config, clock, scale, signal } = input;
  let pods: Promise<readonly PodFacts[]> | undefined;
  return {
    api,
    namespace: config.namespace,
    podSelector: scale.selector,
    // One pod list serves every spec of the cycle; it is made only when a spec needs it.
    pods: () => (pods ??= client.listPods(config.namespace, scale.selector, { signal }).then((items) => items.map(podFacts))),
    cpuInitializationPeriod: BigInt(config.cpuInitializationPeriod) * NANOS_PER_SECOND,
    initialReadinessDelay: BigInt(config.initialReadinessDelay) * NANOS_PER_SECOND,
    now: fromMilliseconds(clock.now()),
    signal,
  };
}
