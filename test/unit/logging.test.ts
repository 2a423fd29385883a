import { describe, expect, test } from "bun:test";
import { configureLogging, rootLogger, truncate, type LogFields } from "../../src/logging.ts";
import { validateConfigValues } from "../../src/config/load.ts";
import { sh } from "../helpers/config.ts";

function capture(format: "text" | "json", verbosity: 0 | 1 | 2 | 3): string[] {
  const lines: string[] = [];
  configureLogging({ format, verbosity, sink: (line) => lines.push(line) });
  return lines;
}

describe("logging", () => {
  test("text is the default format", () => {
    const { config } = validateConfigValues({ scaleTargetRef: { apiVersion: "v1", kind: "K", name: "n" }, metric: sh("echo 1"), evaluate: sh("echo 1") }, {});
    expect(config.logFormat).toBe("text");
  });

  test("text format is logfmt with the fields", () => {
    const lines = capture("text", 0);
    rootLogger().info("scaled target", { namespace: "default", currentReplicas: 1, targetReplicas: 3 });
    expect(lines[0]).toMatch(/^time=\S+ level=info logger=cpa msg="scaled target" namespace=default currentReplicas=1 targetReplicas=3\n$/);
  });

  test("json format puts fields at the top level", () => {
    const lines = capture("json", 0);
    rootLogger().with({ name: "web" }).warn("skipped a timer tick", { interval: 100 });
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line["level"]).toBe("WARN");
    expect(line["message"]).toBe("skipped a timer tick");
    expect(line["name"]).toBe("web");
    expect(line["interval"]).toBe(100);
  });

  const gates: [number, number, boolean][] = [
    [0, 1, false],
    [1, 1, true],
    [1, 2, false],
    [3, 3, true],
  ];
  for (const [configured, level, written] of gates) {
    test(`verbosity ${configured} ${written ? "writes" : "drops"} v(${level})`, () => {
      const lines = capture("json", configured as 0 | 1 | 2 | 3);
      rootLogger().v(level as 1 | 2 | 3).info("detail");
      expect(lines.length).toBe(written ? 1 : 0);
    });
  }

  test("undefined fields are left out", () => {
    const lines = capture("json", 0);
    const fields: LogFields = { stage: undefined, pod: "web-0" };
    rootLogger().error("cycle failed", fields);
    expect(Object.keys(JSON.parse(lines[0]!) as object)).not.toContain("stage");
  });

  test("truncate marks the cut", () => {
    expect(truncate("abcdef", 3)).toBe("abc... (3 more characters)");
  });
});
