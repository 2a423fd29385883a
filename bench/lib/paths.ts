/** Paths of the repository and of the agent binary that the benchmarks run. */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dir, "../..");
export const DEFAULT_BINARY = join(REPO_ROOT, "dist", "cpa");

/**
 * Builds `dist/cpa` with scripts/build.ts when it is missing or `rebuild` is set. A binary given
 * with --binary or CPA_BINARY is never built, only checked.
 */
export function ensureBinary(binary: string, rebuild: boolean): void {
  if (binary !== DEFAULT_BINARY) {
    if (!existsSync(binary)) throw new Error(`the agent binary ${binary} was not found: build it, or drop --binary and CPA_BINARY to use dist/cpa`);
    return;
  }
  if (existsSync(binary) && !rebuild) return;
  console.error(`building ${binary} with scripts/build.ts`);
  const build = Bun.spawnSync(["./node_modules/.bin/bun", "scripts/build.ts"], { cwd: REPO_ROOT, stdout: "inherit", stderr: "inherit" });
  if (build.exitCode !== 0) throw new Error(`failed to build ${binary}: scripts/build.ts exited with code ${build.exitCode}`);
}
