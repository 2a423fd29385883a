import { describe, expect, test } from "bun:test";
import { WorkQueue } from "../../src/operator/queue.ts";

describe("WorkQueue", () => {
  test("queues a key once", async () => {
    const queue = new WorkQueue();
    queue.add("default/a");
    queue.add("default/b");
    queue.add("default/a");
    expect(queue.length).toBe(2);
    expect(await queue.next()).toBe("default/a");
    expect(await queue.next()).toBe("default/b");
  });

  test("key added while active runs again after done", async () => {
    const queue = new WorkQueue();
    queue.add("default/a");
    const key = await queue.next();
    queue.add("default/a");
    expect(queue.length).toBe(0);
    queue.done(key!);
    expect(queue.length).toBe(1);
    expect(await queue.next()).toBe("default/a");
  });

  test("retry delays double per failure and reset on forget", () => {
    const queue = new WorkQueue({ initialRetryMs: 100, maxRetryMs: 350 });
    const delays = [queue.retry("default/a"), queue.retry("default/a"), queue.retry("default/a")];
    expect(delays).toEqual([100, 200, 350]);
    queue.forget("default/a");
    expect(queue.retry("default/a")).toBe(100);
    queue.close();
  });

  test("retried key comes back after its delay", async () => {
    const queue = new WorkQueue({ initialRetryMs: 20 });
    const started = performance.now();
    queue.retry("default/a");
    expect(await queue.next()).toBe("default/a");
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  });

  test("add cancels a pending retry", async () => {
    const queue = new WorkQueue({ initialRetryMs: 30 });
    queue.retry("default/a");
    queue.add("default/a");
    expect(await queue.next()).toBe("default/a");
    queue.done("default/a");
    await Bun.sleep(60);
    expect(queue.length).toBe(0);
  });

  test("close releases a waiting worker", async () => {
    const queue = new WorkQueue();
    const next = queue.next();
    queue.close();
    expect(await next).toBeUndefined();
  });
});
