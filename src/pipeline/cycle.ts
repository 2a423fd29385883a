/**
 * One autoscaling cycle: read the target and its scale, gather metrics, evaluate, scale. Each
 * step throws on failure and nothing after a failed step runs, so a failed cycle never scales.
 */
import type { Config, HookKey } from "../config/schema.ts";
import { CycleError } from "../errors.ts";
import type { MethodRunner } from "../execute/index.ts";
import type { Logger } from "../logging.ts";
import { truncate } from "../logging.ts";
import { parseEvaluation } from "./evaluation.ts";
import { gatherMetrics, logStderr } from "./metric-stage.ts";
import { evaluatePayload, metricPayload, postEvaluatePayload, postMetricPayload, type KubeObject, type MetricEntry, type RunType } from "./payloads.ts";
import { previewScale, scaleTarget } from "./scale-stage.ts";
import type { StabilizationWindow } from "./scaling.ts";
import type { Clock, ScaleInfo, TargetApi } from "./target.ts";

/** Gathers `kubernetesMetricSpecs` for the metric stage. */
export interface KubernetesMetricsSource {
  gather(object: KubeObject, scale: ScaleInfo, signal: AbortSignal): Promise<unknown[]>;
}

export interface CycleDeps {
  readonly config: Config;
  readonly target: TargetApi;
  readonly runner: MethodRunner;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly window: StabilizationWindow;
  readonly kubernetesMetrics?: KubernetesMetricsSource;
}

export interface CycleOptions {
  readonly runType: RunType;
  /** Evaluate without hooks of the scale stage, patches or stabilization records. */
  readonly dryRun?: boolean;
  /** Stop after the metric stage (the metrics API endpoint). */
  readonly metricsOnly?: boolean;
  readonly signal: AbortSignal;
}

export interface CycleResult {
  readonly metrics: readonly MetricEntry[];
  readonly currentReplicas: number;
  /** Replica count the evaluator requested; undefined when the cycle stopped after the metric stage. */
  readonly evaluatedReplicas?: number;
  /** Replicas after clamping and stabilization; for a dry run, what a real run would apply. */
  readonly targetReplicas?: number;
  readonly scaled: boolean;
  readonly disabled: boolean;
}

/** Runs one cycle and returns what it decided, or throws the first failure. */
export async function runCycle(deps: CycleDeps, options: CycleOptions): Promise<CycleResult> {
  const { config, target, runner, logger } = deps;
  const { runType, signal } = options;
  const runHook = hookRunner(deps, signal);

  const object = await step("get-target", () => target.getObject(signal));
  const scale = await step("get-scale", () => target.getScale(signal));
  const currentReplicas = scale.replicas;

  const gathered = deps.kubernetesMetrics
    ? await step("kubernetes-metrics", () => deps.kubernetesMetrics!.gather(object, scale, signal))
    : undefined;
  // The payloads leave the key out rather than send an empty list, as the Go agent does.
  const kubernetesMetrics = gathered !== undefined && gathered.length > 0 ? gathered : undefined;

  await runHook("preMetric", metricPayload(object, runType, kubernetesMetrics));
  const metrics = await step("metric", () =>
    gatherMetrics({ config, runner, target, logger, object, selector: scale.selector, runType, kubernetesMetrics, signal }),
  );
  await runHook("postMetric", postMetricPayload(object, metrics, runType, kubernetesMetrics));
  if (options.metricsOnly) return { metrics, currentReplicas, scaled: false, disabled: false };

  const evaluateInput = evaluatePayload(metrics, object, runType, currentReplicas);
  await runHook("preEvaluate", evaluateInput);
  logger.v(3).info("running evaluate", { stage: "evaluate", output: truncate(evaluateInput, 2000) });
  const evaluation = await step("evaluate", () => runner.run({ stage: "evaluate", method: config.evaluate, input: evaluateInput, signal }));
  logStderr(logger, config.evaluate.shell?.logStderr, "evaluate", evaluation.stderr);
  logger.v(3).info("evaluate output", { stage: "evaluate", output: truncate(evaluation.stdout, 2000) });
  const evaluatedReplicas = await step("evaluate", async () => parseEvaluation(evaluation.stdout));
  await runHook("postEvaluate", postEvaluatePayload(metrics, object, evaluatedReplicas, runType, currentReplicas));

  if (options.dryRun) {
    const preview = previewScale({ config, clock: deps.clock, window: deps.window, currentReplicas, evaluatedReplicas });
    return { metrics, currentReplicas, evaluatedReplicas, ...preview };
  }
  const outcome = await scaleTarget({
    config,
    target,
    logger,
    clock: deps.clock,
    window: deps.window,
    object,
    currentReplicas,
    evaluatedReplicas,
    runType,
    signal,
    runHook,
  });
  return { metrics, currentReplicas, evaluatedReplicas, ...outcome };
}

/** Runs `action`, turning any failure that is not yet a CycleError into one that names the step. */
async function step<T>(name: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    if (error instanceof CycleError) throw error;
    throw new CycleError(name, (error as Error).message ?? String(error), { cause: error });
  }
}

function hookRunner(deps: CycleDeps, signal: AbortSignal) {
  return async (stage: HookKey, payload: string): Promise<void> => {
    const method = deps.config[stage];
    if (method === undefined) return;
    const result = await step(stage, () => deps.runner.run({ stage, method, input: payload, signal }));
    deps.logger.v(1).info("hook output", { stage, output: truncate(result.stdout, 2000), durationMs: result.durationMs });
    logStderr(deps.logger, method.shell?.logStderr, stage, result.stderr);
  };
}
