import { describe, expect, test } from "bun:test";
import { UsageError } from "../../src/cli/args.ts";
import { parseOperatorSettings } from "../../src/cli/operator.ts";

describe("parseOperatorSettings", () => {
  const cases: { name: string; args: string[]; env: Record<string, string>; namespaces: string[] | undefined }[] = [
    { name: "all namespaces by default", args: [], env: {}, namespaces: undefined },
    { name: "empty WATCH_NAMESPACE", args: [], env: { WATCH_NAMESPACE: "" }, namespaces: undefined },
    { name: "WATCH_NAMESPACE", args: [], env: { WATCH_NAMESPACE: "apps" }, namespaces: ["apps"] },
    { name: "comma-separated list", args: [], env: { WATCH_NAMESPACE: "apps, web,apps" }, namespaces: ["apps", "web"] },
    { name: "flag over environment", args: ["--namespace", "web"], env: { WATCH_NAMESPACE: "apps" }, namespaces: ["web"] },
  ];
  for (const row of cases) {
    test(row.name, () => {
      const settings = parseOperatorSettings(row.args, row.env);
      expect(settings === "help" ? "help" : settings.namespaces).toEqual(row.namespaces);
    });
  }

  test("defaults", () => {
    expect(parseOperatorSettings([], {})).toEqual({
      namespaces: undefined,
      kubeconfig: undefined,
      resyncIntervalMs: 300_000,
      logFormat: "text",
      verbosity: 0,
    });
  });

  test("reads every flag", () => {
    const settings = parseOperatorSettings(
      ["--kubeconfig", "/tmp/k", "--resync-interval", "2000", "--log-format", "json", "--verbosity", "2"],
      {},
    );
    expect(settings).toMatchObject({ kubeconfig: "/tmp/k", resyncIntervalMs: 2000, logFormat: "json", verbosity: 2 });
  });

  test("help", () => expect(parseOperatorSettings(["--help"], {})).toBe("help"));

  const invalid: { name: string; args: string[]; message: string }[] = [
    { name: "log format", args: ["--log-format", "xml"], message: "--log-format must be text or json" },
    { name: "verbosity", args: ["--verbosity", "9"], message: "--verbosity must be an integer from 0 to 3" },
    { name: "resync interval", args: ["--resync-interval", "0"], message: "--resync-interval must be a positive integer" },
    { name: "unknown flag", args: ["--watch"], message: "Unknown option" },
  ];
  for (const row of invalid) {
    test(`rejects invalid ${row.name}`, () => {
      expect(() => parseOperatorSettings(row.args, {})).toThrow(UsageError);
      expect(() => parseOperatorSettings(row.args, {})).toThrow(row.message);
    });
  }
});
