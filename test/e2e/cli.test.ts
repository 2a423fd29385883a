/** The command line of the compiled binary: help, version, validate and simulate. */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, EXAMPLE_DIR, ensureBinary, shMethod, startAgent, waitFor, writeConfig } from "./agent-process.ts";

setDefaultTimeout(60_000);

function run(args: string[], env: Record<string, string> = {}): { code: number; stdout: string; stderr: string } {
  ensureBinary();
  const result = Bun.spawnSync([BINARY, ...args], { env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env }, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode ?? -1, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

const EXAMPLE = ["--config", join(EXAMPLE_DIR, "config.yaml"), "--manifest", join(EXAMPLE_DIR, "deployment.yaml"), "--root", EXAMPLE_DIR];

describe("cpa help and version", () => {
  const helps: [string, string[], string][] = [
    ["main", ["--help"], "Usage:"],
    ["run", ["run", "--help"], "Usage: cpa [run]"],
    ["validate", ["validate", "--help"], "Usage: cpa validate"],
    ["simulate", ["simulate", "--help"], "Usage: cpa simulate"],
    ["version", ["version", "--help"], "Usage: cpa version"],
  ];
  for (const [name, args, text] of helps) {
    test(`${name} --help`, () => {
      const result = run(args);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(text);
    });
  }

  test("version prints the version", () => {
    expect(run(["version"]).stdout).toMatch(/^cpa \d+\.\d+\.\d+/);
  });

  test("unknown command is a usage error", () => {
    const result = run(["scale"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command "scale"');
  });

  test("unknown flag is a usage error", () => {
    const result = run(["validate", "--confg", "x"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--confg");
  });
});

describe("cpa validate", () => {
  test("valid configuration exits 0", () => {
    const path = writeConfig({ scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, metric: shMethod("echo 1"), evaluate: shMethod("echo 1") });
    const result = run(["validate", "--config", path]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("configuration is valid");
  });

  test("contradictory and misspelt configuration lists every problem", () => {
    const path = writeConfig({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
      metric: shMethod("echo 1"),
      evaluate: shMethod("echo 1"),
      minReplicas: 5,
      maxReplicas: 2,
      runMode: "per-pods",
      downscaleStabilisation: 60,
    });
    const result = run(["validate", "--config", path]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("maxReplicas: must be >= minReplicas (5) (received 2)");
    expect(result.stderr).toContain('runMode: must be "per-pod" or "per-resource" (received "per-pods")');
    expect(result.stderr).toContain("did you mean downscaleStabilization?");
  });

  test("unparsable environment value names the variable", () => {
    const path = writeConfig({ scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" }, metric: shMethod("echo 1"), evaluate: shMethod("echo 1") });
    const result = run(["validate", "--config", path], { minReplicas: "two" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('env minReplicas: must be a base-10 integer (received "two")');
  });

  test("invalid configuration prints no stack trace", () => {
    const path = writeConfig({ interval: 0 });
    const result = run(["validate", "--config", path]);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toMatch(/\bat .+:\d+:\d+/);
  });

  test("run with an invalid configuration exits non-zero before any cluster call", () => {
    const path = writeConfig({ interval: 0 });
    const result = run(["--config", path], { KUBECONFIG: "/nonexistent/kubeconfig" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("interval: must be >= 1");
  });
});

describe("cpa simulate", () => {
  test("guide example decides 1 to 3", () => {
    const result = run(["simulate", ...EXAMPLE]);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe("Deployment default/hello-kubernetes: scale from 1 to 3 replicas (evaluated 3)\n");
  });

  test("json output", () => {
    const result = run(["simulate", ...EXAMPLE, "--json"]);
    const decision = JSON.parse(result.stdout);
    expect(decision.currentReplicas).toBe(1);
    expect(decision.targetReplicas).toBe(3);
    expect(decision.scaled).toBe(true);
  });

  test("missing manifest is a usage error", () => {
    const result = run(["simulate", "--config", join(EXAMPLE_DIR, "config.yaml")]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--manifest FILE is required");
  });

  test("interval re-reads the manifest after a label edit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpa-simulate-"));
    const manifest = join(dir, "deployment.yaml");
    copyFileSync(join(EXAMPLE_DIR, "deployment.yaml"), manifest);
    const agent = startAgent({ args: ["simulate", ...EXAMPLE.slice(0, 2), "--manifest", manifest, "--root", EXAMPLE_DIR, "--interval", "200"] });
    await waitFor("first decision", () => agent.stdout().includes("scale from 1 to 3"));
    writeFileSync(manifest, readFileSync(manifest, "utf8").replace('numPods: "3"', 'numPods: "5"'));
    await waitFor("decision after the edit", () => agent.stdout().includes("scale from 3 to 5"));
    const { code } = await agent.stop("SIGINT");
    expect(code).toBe(0);
  });
});
