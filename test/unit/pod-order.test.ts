import { describe, expect, test } from "bun:test";
import { comparePodNames } from "../../src/pipeline/pod-order.ts";

describe("comparePodNames", () => {
  const cases: [string, string[], string[]][] = [
    [
      "StatefulSet ordinals in numeric order",
      ["recorder-0", "recorder-1", "recorder-10", "recorder-2", "recorder-9"],
      ["recorder-0", "recorder-1", "recorder-2", "recorder-9", "recorder-10"],
    ],
    ["Deployment pod names by name", ["web-7d9f8-zx2k1", "web-7d9f8-abcde", "web-5c4b-q1w2e"], ["web-5c4b-q1w2e", "web-7d9f8-abcde", "web-7d9f8-zx2k1"]],
    ["names without ordinal after the same base", ["web-1x", "web-10", "web-2"], ["web-2", "web-10", "web-1x"]],
    ["different bases", ["b-1", "a-2", "a-10"], ["a-2", "a-10", "b-1"]],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => expect([...input].sort(comparePodNames)).toEqual(expected));
  }

  test("order does not depend on the input order", () => {
    const names = ["db-3", "db-11", "db-0", "db-1", "other", "db-x", "db-2"];
    const sorted = [...names].sort(comparePodNames);
    expect([...names].reverse().sort(comparePodNames)).toEqual(sorted);
  });
});
