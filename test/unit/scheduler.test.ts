import { describe, expect, test } from "bun:test";
import { CycleBusyError, CycleLock } from "../../src/agent/cycle-lock.ts";
import { Scheduler, startDelay } from "../../src/agent/scheduler.ts";
import { rootLogger } from "../../src/logging.ts";
import { systemClock } from "../../src/pipeline/target.ts";
import { captureLogs } from "../helpers/log-capture.ts";

describe("startDelay", () => {
  const cases: [number, number, number][] = [
    [1_000, 1, 1],
    [12_345, 10_000, 7_655],
    [20_000, 10_000, 10_000],
    [59_999, 60_000, 1],
  ];
  for (const [now, startTime, expected] of cases) {
    test(`now ${now} startTime ${startTime}`, () => expect(startDelay(now, startTime)).toBe(expected));
  }
});

describe("CycleLock", () => {
  test("rejects a second run while one is running", async () => {
    const lock = new CycleLock();
    const first = lock.tryRun(() => Bun.sleep(20));
    await expect(lock.tryRun(async () => 1)).rejects.toBeInstanceOf(CycleBusyError);
    await first;
  });
  test("is free again after a failure", async () => {
    const lock = new CycleLock();
    await lock.tryRun(async () => Promise.reject(new Error("x"))).catch(() => {});
    expect(lock.busy).toBe(false);
  });
});

describe("Scheduler", () => {
  test("skips ticks while a cycle runs and never overlaps", async () => {
    const logs = captureLogs();
    const lock = new CycleLock();
    let running = 0;
    let overlapped = false;
    let cycles = 0;
    const scheduler = new Scheduler({
      interval: 20,
      startTime: 1,
      clock: systemClock,
      lock,
      logger: rootLogger(),
      onTick: async () => {
        running++;
        if (running > 1) overlapped = true;
        cycles++;
        await Bun.sleep(70);
        running--;
      },
    });
    scheduler.start();
    await Bun.sleep(300);
    scheduler.stop();
    await lock.idle();
    expect(overlapped).toBe(false);
    expect(cycles).toBeGreaterThan(1);
    expect(logs.find("skipped a timer tick").length).toBeGreaterThan(0);
  });

  test("first tick waits one interval after the start time", () => {
    const now = 1_000_000_123;
    const scheduler = new Scheduler({ interval: 15_000, startTime: 60_000, clock: { now: () => now }, lock: new CycleLock(), logger: rootLogger(), onTick: async () => {} });
    const first = scheduler.start();
    scheduler.stop();
    expect(first).toBe(1_000_020_000 + 15_000);
  });

  test("stop prevents further ticks", async () => {
    let cycles = 0;
    const scheduler = new Scheduler({ interval: 10, startTime: 1, clock: systemClock, lock: new CycleLock(), logger: rootLogger(), onTick: async () => void cycles++ });
    scheduler.start();
    scheduler.stop();
    await Bun.sleep(50);
    expect(cycles).toBe(0);
  });
});
