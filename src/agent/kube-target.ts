/** The cycle's TargetApi backed by the Kubernetes API. */
import { isConflict, type KubeClient, type ObjectRef } from "../kube/index.ts";
import type { KubeObject } from "../pipeline/payloads.ts";
import type { ScaleInfo, TargetApi } from "../pipeline/target.ts";

export class KubeTarget implements TargetApi {
  constructor(
    private readonly client: KubeClient,
    private readonly ref: ObjectRef,
  ) {}

  describe(): string {
    return `${this.ref.kind} ${this.ref.namespace}/${this.ref.name}`;
  }

  getObject(signal?: AbortSignal): Promise<KubeObject> {
    return this.client.getObject(this.ref, { signal });
  }

  async getScale(signal?: AbortSignal): Promise<ScaleInfo> {
    const scale = await this.client.getScale(this.ref, { signal });
    return { replicas: scale.replicas, selector: scale.selector };
  }

  listPods(selector: string, signal?: AbortSignal): Promise<KubeObject[]> {
    return this.client.listPods(this.ref.namespace, selector, { signal });
  }

  async patchScale(replicas: number, signal?: AbortSignal): Promise<void> {
    await this.client.patchScale(this.ref, replicas, { signal });
  }

  isConflict(error: unknown): boolean {
    return isConflict(error);
  }
}
