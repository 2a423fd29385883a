/** `cpa simulate`: the agent's pipeline on a manifest file, with the decision printed. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { HOOK_KEYS, type Config, type MethodConfig } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import { createMethodRunner } from "../execute/index.ts";
import { rootLogger } from "../logging.ts";
import { runCycle, type CycleResult } from "../pipeline/cycle.ts";
import { StabilizationWindow } from "../pipeline/scaling.ts";
import { systemClock } from "../pipeline/target.ts";
import type { ScaleTargetRef } from "../pipeline/payloads.ts";
import { ManifestTarget, firstWorkload } from "../simulate/manifest-target.ts";
import { parseOptions, positiveInteger, UsageError } from "./args.ts";
import { loadOrReport, setUpLogging } from "./common.ts";
import { SIMULATE_HELP } from "./help.ts";

/** Returns the method with absolute paths that exist under `root` pointed there. */
function rebaseMethod(method: MethodConfig, root: string): MethodConfig {
  if (method.type !== "shell" || method.shell === undefined) return method;
  const rebase = (path: string): string => (path.startsWith("/") && existsSync(join(root, path)) ? join(root, path) : path);
  return { ...method, shell: { ...method.shell, entrypoint: rebase(method.shell.entrypoint), command: method.shell.command.map(rebase) } };
}

/** Returns the configuration with every shell method's absolute paths resolved against `root`. */
export function rebaseScriptPaths(config: Config, root: string): Config {
  const rebased: Config = { ...config, metric: rebaseMethod(config.metric, root), evaluate: rebaseMethod(config.evaluate, root) };
  for (const key of HOOK_KEYS) {
    const method = config[key];
    if (method !== undefined) rebased[key] = rebaseMethod(method, root);
  }
  return rebased;
}

function describeDecision(target: string, result: CycleResult): string {
  if (result.disabled) return `${target}: autoscaling disabled at 0 replicas (evaluated ${result.evaluatedReplicas}; set minReplicas: 0 to scale from zero)`;
  if (result.scaled) return `${target}: scale from ${result.currentReplicas} to ${result.targetReplicas} replicas (evaluated ${result.evaluatedReplicas})`;
  return `${target}: stay at ${result.currentReplicas} replicas (evaluated ${result.evaluatedReplicas})`;
}

export async function simulateCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const options = parseOptions(args, {
    config: { type: "string" },
    manifest: { type: "string" },
    root: { type: "string" },
    interval: { type: "string" },
    count: { type: "string" },
    json: { type: "boolean" },
  });
  if (options["help"]) {
    process.stdout.write(SIMULATE_HELP);
    return 0;
  }
  const manifest = options["manifest"] as string | undefined;
  if (manifest === undefined) throw new UsageError("--manifest FILE is required: a YAML file with the target object");
  const interval = positiveInteger("interval", options["interval"]);
  const count = positiveInteger("count", options["count"]);

  // The operator normally supplies scaleTargetRef; without it, the manifest's first workload is the target.
  let fallbackRef: ScaleTargetRef | undefined;
  try {
    fallbackRef = firstWorkload(manifest);
  } catch (error) {
    process.stderr.write(`cpa: ${errorMessage(error)}\n`);
    return 1;
  }
  const loaded = loadOrReport(options["config"] as string | undefined, env, fallbackRef ? { scaleTargetRef: fallbackRef } : undefined);
  if (loaded === undefined) return 1;
  setUpLogging(loaded);
  const root = options["root"] as string | undefined;
  const config = root === undefined ? loaded.config : rebaseScriptPaths(loaded.config, root);

  const target = new ManifestTarget(manifest, config.scaleTargetRef, config.namespace);
  const deps = {
    config,
    target,
    runner: createMethodRunner(),
    clock: systemClock,
    logger: rootLogger().with({ namespace: config.namespace, name: config.scaleTargetRef.name }),
    window: new StabilizationWindow(config.downscaleStabilization),
  };

  const stop = new AbortController();
  const onSignal = (): void => stop.abort(new Error("interrupted"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let failed = false;
  for (let run = 1; ; run++) {
    try {
      const result = await runCycle(deps, { runType: "scaler", signal: stop.signal });
      process.stdout.write(options["json"] ? `${JSON.stringify(result)}\n` : `${describeDecision(target.describe(), result)}\n`);
      failed = false;
    } catch (error) {
      process.stderr.write(`cpa: cycle failed: ${errorMessage(error)}\n`);
      failed = true;
    }
    if (interval === undefined || stop.signal.aborted || (count !== undefined && run >= count)) break;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, interval);
      stop.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
    if (stop.signal.aborted) break;
  }
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  return failed ? 1 : 0;
}
