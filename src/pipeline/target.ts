/** The cycle's view of the scale target, whether it lives in a cluster or in a manifest file. */
import type { KubeObject } from "./payloads.ts";

export interface ScaleInfo {
  /** `/scale` `spec.replicas`: the authoritative current replica count. */
  readonly replicas: number;
  /** `/scale` `status.selector` in label-selector text form; empty when the target has none. */
  readonly selector: string;
}

/** The scale target bound to one object; errors name the object and the operation that failed. */
export interface TargetApi {
  /** Returns `Deployment default/web`, the object's name in messages. */
  describe(): string;
  getObject(signal?: AbortSignal): Promise<KubeObject>;
  getScale(signal?: AbortSignal): Promise<ScaleInfo>;
  listPods(selector: string, signal?: AbortSignal): Promise<KubeObject[]>;
  patchScale(replicas: number, signal?: AbortSignal): Promise<void>;
  /** Reports whether an error from patchScale is a conflict worth one retry with fresh state. */
  isConflict?(error: unknown): boolean;
}

/** Source of the current time in milliseconds since the Unix epoch; injected so tests control it. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
