/** Builds validated configurations for tests; each case lists only what differs from a default. */
import { validateConfigValues } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";

/** Returns a shell method that runs `script` with /bin/sh -c. */
export function sh(script: string, timeout = 5000): Record<string, unknown> {
  return { type: "shell", timeout, shell: { entrypoint: "/bin/sh", command: ["-c", script] } };
}

/** Returns a valid configuration with a Deployment target and trivial methods, overridden by `overrides`. */
export function makeConfig(overrides: Record<string, unknown> = {}): Config {
  const base = {
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    namespace: "default",
    metric: sh("echo 1"),
    evaluate: sh('echo \'{"targetReplicas": 1}\''),
    runMode: "per-resource",
  };
  // Values go through the real validation so defaults match production.
  return validateConfigValues({ ...base, ...overrides }, {}).config;
}
