import { describe, expect, test } from "bun:test";
import { parseEvaluation } from "../../src/pipeline/evaluation.ts";

describe("parseEvaluation accepts", () => {
  const cases: [string, string, number][] = [
    ["exact key", '{"targetReplicas": 3}', 3],
    ["surrounding whitespace", '\n  {"targetReplicas": 3}\n\n', 3],
    ["PascalCase key", '{"TargetReplicas": 3}', 3],
    ["lowercase key", '{"targetreplicas": 3}', 3],
    ["exact key over case-folded key", '{"TargetReplicas": 9, "targetReplicas": 3}', 3],
    ["last case-folded key", '{"TargetReplicas": 9, "targetreplicas": 4}', 4],
    ["integral float", '{"targetReplicas": 3.0}', 3],
    ["integral exponent", '{"targetReplicas": 1e1}', 10],
    ["zero", '{"targetReplicas": 0}', 0],
    ["negative zero", '{"targetReplicas": -0}', 0],
    ["int32 maximum", '{"targetReplicas": 2147483647}', 2147483647],
    ["extra fields", '{"targetReplicas": 2, "reason": "queue"}', 2],
  ];
  for (const [name, stdout, expected] of cases) {
    test(name, () => expect(parseEvaluation(stdout)).toBe(expected));
  }
});

describe("parseEvaluation rejects", () => {
  const cases: [string, string, string][] = [
    ["empty object", "{}", "evaluation has no integer field targetReplicas"],
    ["null", "null", "evaluation has no integer field targetReplicas"],
    ["snake_case key", '{"target_replicas": 8}', "evaluation has no integer field targetReplicas"],
    ["null value", '{"targetReplicas": null}', "evaluation has no integer field targetReplicas"],
    ["bare number", "5", "evaluation has no integer field targetReplicas"],
    ["array", "[3]", "evaluation has no integer field targetReplicas"],
    ["fraction", '{"targetReplicas": 2.5}', "received 2.5"],
    ["quoted number", '{"targetReplicas": "3"}', 'received "3" (a string)'],
    ["negative", '{"targetReplicas": -3}', "received -3"],
    ["above int32", '{"targetReplicas": 3000000000}', "received 3000000000"],
    ["boolean", '{"targetReplicas": true}', "received true"],
    ["empty output", "", "evaluate output is not a single JSON object"],
    ["text before object", 'result: {"targetReplicas": 3}', "evaluate output is not a single JSON object"],
    ["text after object", '{"targetReplicas": 3} done', "evaluate output is not a single JSON object"],
    ["two objects", '{"targetReplicas": 3}\n{"targetReplicas": 4}', "evaluate output is not a single JSON object"],
  ];
  for (const [name, stdout, message] of cases) {
    test(name, () => expect(() => parseEvaluation(stdout)).toThrow(message));
  }

  test("error shows the output received", () => {
    expect(() => parseEvaluation("oops")).toThrow('received "oops"');
  });

  test("error shows only the first 500 bytes", () => {
    const long = "x".repeat(2000);
    let message = "";
    try {
      parseEvaluation(long);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("(first 500 of 2000 bytes)");
    expect(message).not.toContain("x".repeat(501));
  });
});
