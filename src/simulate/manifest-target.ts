/**
 * A scale target read from a manifest file instead of a cluster, for `cpa simulate`. The file is
 * re-read on every cycle, so editing a label changes the next decision. The replica count starts
 * at the manifest's `spec.replicas` and then follows the simulated scaling.
 */
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { AgentError } from "../errors.ts";
import type { KubeObject, ScaleTargetRef } from "../pipeline/payloads.ts";
import type { ScaleInfo, TargetApi } from "../pipeline/target.ts";
import { formatSelector, matchesSelector, type LabelSelector } from "./label-selector.ts";

export class ManifestError extends AgentError {}

interface ManifestContents {
  readonly target: KubeObject;
  readonly pods: KubeObject[];
}

function field(object: unknown, ...path: string[]): unknown {
  let current = object;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function readObjects(path: string): KubeObject[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ManifestError(`failed to read manifest ${path}: ${(error as Error).message}`, { cause: error });
  }
  const objects: KubeObject[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      throw new ManifestError(`failed to parse manifest ${path}: ${document.errors[0]!.message.split("\n")[0]}`);
    }
    const value = document.toJS() as unknown;
    if (value === null || value === undefined) continue;
    const items = field(value, "kind") === "List" ? (field(value, "items") as unknown[]) : [value];
    for (const item of items) if (item !== null && typeof item === "object") objects.push(item as KubeObject);
  }
  return objects;
}

/** Returns a reference to the first object of the manifest that is not a Pod, the default scale target of a simulation. */
export function firstWorkload(path: string): ScaleTargetRef | undefined {
  const workload = readObjects(path).find((o) => o["kind"] !== "Pod");
  if (workload === undefined) return undefined;
  return { apiVersion: String(workload["apiVersion"]), kind: String(workload["kind"]), name: String(field(workload, "metadata", "name")) };
}

/** Reads every document of a manifest file; the target is the one whose kind and name match the reference. */
export function readManifest(path: string, ref: ScaleTargetRef, namespace: string): ManifestContents {
  const objects = readObjects(path);

  const target = objects.find((o) => o["kind"] === ref.kind && field(o, "metadata", "name") === ref.name);
  if (target === undefined) {
    const found = objects.map((o) => `${String(o["kind"])}/${String(field(o, "metadata", "name"))}`).join(", ") || "no objects";
    throw new ManifestError(`manifest ${path} has no ${ref.kind} named ${ref.name} (found ${found}); check scaleTargetRef`);
  }
  const metadata = (target["metadata"] ??= {}) as Record<string, unknown>;
  metadata["namespace"] ??= namespace;
  const pods = objects.filter((o) => o["kind"] === "Pod");
  return { target, pods };
}

export class ManifestTarget implements TargetApi {
  private simulatedReplicas: number | undefined;
  private contents: ManifestContents | undefined;
  /** Replica counts the simulation has patched, oldest first. */
  readonly patches: number[] = [];

  constructor(
    private readonly path: string,
    private readonly ref: ScaleTargetRef,
    private readonly namespace: string,
  ) {}

  describe(): string {
    return `${this.ref.kind} ${this.namespace}/${this.ref.name}`;
  }

  async getObject(): Promise<KubeObject> {
    this.contents = readManifest(this.path, this.ref, this.namespace);
    const object = structuredClone(this.contents.target);
    if (this.simulatedReplicas !== undefined) {
      const spec = (object["spec"] ??= {}) as Record<string, unknown>;
      spec["replicas"] = this.simulatedReplicas;
    }
    return object;
  }

  async getScale(): Promise<ScaleInfo> {
    const target = (this.contents ?? readManifest(this.path, this.ref, this.namespace)).target;
    const declared = field(target, "spec", "replicas");
    const replicas = this.simulatedReplicas ?? (typeof declared === "number" ? declared : 1);
    const selector = field(target, "spec", "selector") as LabelSelector | undefined;
    return { replicas, selector: selector ? formatSelector(selector) : "" };
  }

  async listPods(): Promise<KubeObject[]> {
    const contents = this.contents ?? readManifest(this.path, this.ref, this.namespace);
    const selector = (field(contents.target, "spec", "selector") ?? {}) as LabelSelector;
    return contents.pods.filter((pod) => matchesSelector((field(pod, "metadata", "labels") ?? {}) as Record<string, string>, selector));
  }

  async patchScale(replicas: number): Promise<void> {
    this.simulatedReplicas = replicas;
    this.patches.push(replicas);
  }
}
