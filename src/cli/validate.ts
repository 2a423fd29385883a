/** `cpa validate`: checks a configuration offline. */
import { HOOK_KEYS } from "../config/schema.ts";
import { parseOptions } from "./args.ts";
import { loadOrReport, printWarnings } from "./common.ts";
import { VALIDATE_HELP } from "./help.ts";

export function validateCommand(args: string[], env: Record<string, string | undefined>): number {
  const options = parseOptions(args, { config: { type: "string" } });
  if (options["help"]) {
    process.stdout.write(VALIDATE_HELP);
    return 0;
  }
  const loaded = loadOrReport(options["config"] as string | undefined, env);
  if (loaded === undefined) return 1;

  printWarnings(loaded.warnings);
  const { config } = loaded;
  const hooks = HOOK_KEYS.filter((key) => config[key] !== undefined);
  const ref = config.scaleTargetRef;
  process.stdout.write(
    [
      `configuration is valid${loaded.path ? ` (${loaded.path})` : " (from the environment)"}`,
      `  target:   ${ref.kind} ${config.namespace}/${ref.name} (${ref.apiVersion})`,
      `  runMode:  ${config.runMode}, every ${config.interval} ms`,
      `  replicas: ${config.minReplicas} to ${config.maxReplicas}, downscale stabilization ${config.downscaleStabilization} s`,
      `  metric:   ${config.metric.type}, evaluate: ${config.evaluate.type}${hooks.length > 0 ? `, hooks: ${hooks.join(", ")}` : ""}`,
      "",
    ].join("\n"),
  );
  return 0;
}
