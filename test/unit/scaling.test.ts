import { describe, expect, test } from "bun:test";
import { StabilizationWindow, clampReplicas, isScalingDisabled, stabilize, type StabilizationEntry } from "../../src/pipeline/scaling.ts";

describe("clampReplicas", () => {
  const cases: [string, number, number, number, number, string | undefined][] = [
    ["within limits", 3, 1, 10, 3, undefined],
    ["at min", 1, 1, 10, 1, undefined],
    ["at max", 10, 1, 10, 10, undefined],
    ["below min", 0, 15, 60, 15, "minReplicas"],
    ["above max", 9, 1, 5, 5, "maxReplicas"],
    ["zero with min zero", 0, 0, 5, 0, undefined],
  ];
  for (const [name, evaluated, min, max, replicas, limitedBy] of cases) {
    test(name, () => {
      const result = clampReplicas(evaluated, { minReplicas: min, maxReplicas: max });
      expect(result.replicas).toBe(replicas);
      expect(result.limitedBy).toBe(limitedBy as never);
    });
  }
});

describe("isScalingDisabled", () => {
  const cases: [number, number, boolean][] = [
    [0, 1, true],
    [0, 0, false],
    [1, 1, false],
    [3, 0, false],
  ];
  for (const [current, min, expected] of cases) {
    test(`current ${current} min ${min}`, () => expect(isScalingDisabled(current, min)).toBe(expected));
  }
});

describe("stabilize", () => {
  const t = (seconds: number): number => 1_000_000 + seconds * 1000;
  const cases: { name: string; history: StabilizationEntry[]; target: number; now: number; window: number; replicas: number; kept: number }[] = [
    { name: "empty history", history: [], target: 3, now: t(0), window: 60, replicas: 3, kept: 1 },
    { name: "holds downscale", history: [{ time: t(0), replicas: 10 }], target: 2, now: t(30), window: 60, replicas: 10, kept: 2 },
    { name: "scale-up is never delayed", history: [{ time: t(0), replicas: 2 }], target: 8, now: t(1), window: 60, replicas: 8, kept: 2 },
    { name: "entry exactly at the window edge is kept", history: [{ time: t(0), replicas: 10 }], target: 2, now: t(60), window: 60, replicas: 10, kept: 2 },
    { name: "entry older than the window is dropped", history: [{ time: t(0), replicas: 10 }], target: 2, now: t(60) + 1, window: 60, replicas: 2, kept: 1 },
    { name: "maximum over several entries", history: [{ time: t(0), replicas: 4 }, { time: t(10), replicas: 7 }, { time: t(20), replicas: 5 }], target: 1, now: t(30), window: 60, replicas: 7, kept: 4 },
    { name: "window zero keeps nothing", history: [{ time: t(0), replicas: 10 }], target: 2, now: t(0), window: 0, replicas: 2, kept: 0 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const result = stabilize(c.history, c.target, c.now, c.window);
      expect(result.replicas).toBe(c.replicas);
      expect(result.history.length).toBe(c.kept);
    });
  }
});

describe("StabilizationWindow", () => {
  test("seed blocks scale-down after restart", () => {
    // 300 s window: a new agent reads 10 replicas at t=90 s, and the evaluator returns 2 at t=105 s.
    const window = new StabilizationWindow(300);
    window.seed(10, 90_000);
    expect(window.apply(2, 105_000)).toBe(10);
  });
  test("seed expires after the window", () => {
    const window = new StabilizationWindow(300);
    window.seed(10, 90_000);
    expect(window.apply(2, 390_001)).toBe(2);
  });
  test("seed records only once", () => {
    const window = new StabilizationWindow(300);
    window.seed(10, 0);
    window.seed(20, 1000);
    expect(window.entries()).toEqual([{ time: 0, replicas: 10 }]);
  });
  test("peek records nothing", () => {
    const window = new StabilizationWindow(300);
    window.peek(7, 0);
    expect(window.entries()).toEqual([]);
  });
  test("window zero ignores the seed", () => {
    const window = new StabilizationWindow(0);
    window.seed(10, 0);
    expect(window.apply(2, 0)).toBe(2);
  });
});
