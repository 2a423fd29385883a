/**
 * The scale stage: clamp, the disabled-at-zero rule, stabilization, `preScale`, the `/scale`
 * patch when the target changed, and `postScale`. Nothing is patched once the cycle's signal is
 * aborted, so a shutdown or an expired deadline never leaves a late write behind.
 */
import type { Config } from "../config/schema.ts";
import { CycleAbortedError, CycleError } from "../errors.ts";
import type { Logger } from "../logging.ts";
import { scalePayload, type KubeObject, type RunType } from "./payloads.ts";
import { clampReplicas, isScalingDisabled, type StabilizationWindow } from "./scaling.ts";
import type { Clock, TargetApi } from "./target.ts";

export interface ScaleStageInput {
  readonly config: Config;
  readonly target: TargetApi;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly window: StabilizationWindow;
  readonly object: KubeObject;
  readonly currentReplicas: number;
  readonly evaluatedReplicas: number;
  readonly runType: RunType;
  readonly signal: AbortSignal;
  readonly runHook: (stage: "preScale" | "postScale", payload: string) => Promise<void>;
}

export interface ScaleOutcome {
  /** The replica count after clamping and stabilization (the current count when disabled). */
  readonly targetReplicas: number;
  readonly scaled: boolean;
  readonly disabled: boolean;
}

/** Runs the scale stage of a cycle that is not a dry run. */
export async function scaleTarget(input: ScaleStageInput): Promise<ScaleOutcome> {
  const { config, logger, currentReplicas, evaluatedReplicas } = input;
  const payloadFor = (finalReplicas: number): string =>
    scalePayload({
      finalReplicas,
      target: input.object,
      scaleTargetRef: config.scaleTargetRef,
      namespace: config.namespace,
      minReplicas: config.minReplicas,
      maxReplicas: config.maxReplicas,
      evaluatedReplicas,
      currentReplicas,
      runType: input.runType,
    });

  if (isScalingDisabled(currentReplicas, config.minReplicas)) {
    logger.info(
      `autoscaling is disabled for this target: it has 0 replicas and minReplicas is ${config.minReplicas}; set minReplicas: 0 to allow scaling from zero`,
      { currentReplicas, evaluatedReplicas, minReplicas: config.minReplicas },
    );
    await input.runHook("preScale", payloadFor(currentReplicas));
    return { targetReplicas: currentReplicas, scaled: false, disabled: true };
  }

  const now = input.clock.now();
  input.window.seed(currentReplicas, now);
  const clamped = clampReplicas(evaluatedReplicas, config);
  if (clamped.limitedBy !== undefined) {
    logger.info(`evaluation clamped to ${clamped.limitedBy}`, {
      evaluatedReplicas,
      targetReplicas: clamped.replicas,
      currentReplicas,
      reason: clamped.limitedBy,
    });
  }
  const stabilized = input.window.apply(clamped.replicas, now);
  if (stabilized !== clamped.replicas) {
    logger.v(1).info("scale-down held by downscale stabilization", {
      evaluatedReplicas,
      targetReplicas: stabilized,
      currentReplicas,
      reason: "downscaleStabilization",
    });
  }

  await input.runHook("preScale", payloadFor(stabilized));

  let scaled = false;
  if (stabilized !== currentReplicas) {
    await patchWithRetry(input, stabilized);
    scaled = true;
    logger.info("scaled target", { currentReplicas, targetReplicas: stabilized, evaluatedReplicas, runType: input.runType });
  } else {
    logger.v(1).info("no scaling needed", { currentReplicas, targetReplicas: stabilized, evaluatedReplicas });
  }

  await input.runHook("postScale", payloadFor(stabilized));
  return { targetReplicas: stabilized, scaled, disabled: false };
}

/** Returns what the scale stage would decide, without hooks, patches or stabilization records. */
export function previewScale(input: Pick<ScaleStageInput, "config" | "clock" | "window" | "currentReplicas" | "evaluatedReplicas">): ScaleOutcome {
  const { config, currentReplicas } = input;
  if (isScalingDisabled(currentReplicas, config.minReplicas)) return { targetReplicas: currentReplicas, scaled: false, disabled: true };
  const clamped = clampReplicas(input.evaluatedReplicas, config).replicas;
  return { targetReplicas: input.window.peek(clamped, input.clock.now()), scaled: false, disabled: false };
}

/** Patches `/scale`; on a conflict, re-reads the scale once and retries if a change is still needed. */
async function patchWithRetry(input: ScaleStageInput, replicas: number): Promise<void> {
  assertNotAborted(input.signal);
  try {
    await input.target.patchScale(replicas, input.signal);
    return;
  } catch (error) {
    if (!input.target.isConflict?.(error)) throw new CycleError("scale", (error as Error).message, { cause: error });
    input.logger.warn("conflict while patching scale, retrying once with fresh state", { error: (error as Error).message });
  }
  try {
    const fresh = await input.target.getScale(input.signal);
    if (fresh.replicas === replicas) return;
    assertNotAborted(input.signal);
    await input.target.patchScale(replicas, input.signal);
  } catch (error) {
    if (error instanceof CycleAbortedError) throw error;
    throw new CycleError("scale", (error as Error).message, { cause: error });
  }
}

function assertNotAborted(signal: AbortSignal): void {
  if (signal.aborted) {
    throw new CycleAbortedError(`scaling cancelled before the patch: ${String(signal.reason instanceof Error ? signal.reason.message : signal.reason ?? "aborted")}`);
  }
}
