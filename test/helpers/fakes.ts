/** Hand-written fakes for cycle tests: a target in memory and a method runner with canned outputs. */
import { MethodError } from "../../src/errors.ts";
import type { MethodRequest, MethodResult, MethodRunner } from "../../src/execute/index.ts";
import type { KubeObject } from "../../src/pipeline/payloads.ts";
import type { Clock, ScaleInfo, TargetApi } from "../../src/pipeline/target.ts";

export class FakeTarget implements TargetApi {
  object: KubeObject;
  replicas: number;
  selector: string;
  pods: KubeObject[] = [];
  readonly patches: number[] = [];
  /** Errors thrown by the next patchScale calls, first one first. */
  patchErrors: unknown[] = [];
  calls: string[] = [];

  constructor(options: { replicas?: number; selector?: string; object?: KubeObject; pods?: KubeObject[] } = {}) {
    this.replicas = options.replicas ?? 1;
    this.selector = options.selector ?? "app=web";
    this.object = options.object ?? { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: "default" } };
    this.pods = options.pods ?? [];
  }

  describe(): string {
    return "Deployment default/web";
  }
  async getObject(): Promise<KubeObject> {
    this.calls.push("getObject");
    return structuredClone(this.object);
  }
  async getScale(): Promise<ScaleInfo> {
    this.calls.push("getScale");
    return { replicas: this.replicas, selector: this.selector };
  }
  async listPods(selector: string): Promise<KubeObject[]> {
    this.calls.push(`listPods ${selector}`);
    // Reversed so tests see that the agent orders pods itself.
    return structuredClone([...this.pods].reverse());
  }
  async patchScale(replicas: number): Promise<void> {
    this.calls.push(`patchScale ${replicas}`);
    const error = this.patchErrors.shift();
    if (error !== undefined) throw error;
    this.patches.push(replicas);
    this.replicas = replicas;
  }
  isConflict(error: unknown): boolean {
    return error instanceof Error && error.message.includes("conflict");
  }
}

type Handler = (request: MethodRequest) => string | Promise<string>;

/** Runner whose output per stage comes from a handler; records every request in order. */
export class FakeRunner implements MethodRunner {
  readonly requests: MethodRequest[] = [];

  constructor(private readonly handlers: Record<string, Handler>) {}

  async run(request: MethodRequest): Promise<MethodResult> {
    this.requests.push(request);
    const handler = this.handlers[request.stage];
    if (handler === undefined) return { stdout: "", stderr: "", durationMs: 0 };
    const stdout = await handler(request);
    return { stdout, stderr: "", durationMs: 0 };
  }

  stages(): string[] {
    return this.requests.map((r) => r.stage);
  }

  inputOf(stage: string): string | undefined {
    return this.requests.find((r) => r.stage === stage)?.input;
  }
}

/** Returns a handler that fails like a script exiting with code 1. */
export function failing(message: string): Handler {
  return (request) => {
    throw new MethodError(`${request.stage} failed: ${message}`, { stage: request.stage, reason: "exit", exitCode: 1 });
  };
}

export class FakeClock implements Clock {
  constructor(public time = 1_700_000_000_000) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Returns a pod object with the given name, phase, readiness and labels. */
export function pod(name: string, options: { phase?: string; ready?: boolean; terminating?: boolean } = {}): KubeObject {
  const metadata: Record<string, unknown> = { name, namespace: "default", labels: { app: "web" } };
  if (options.terminating) metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata,
    status: { phase: options.phase ?? "Running", conditions: [{ type: "Ready", status: options.ready === false ? "False" : "True" }] },
  };
}
