import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { KubeClient, type KubeConnection, type KubeObject } from "../../src/kube/index.ts";
import { PODS } from "../../src/kube/resources.ts";
import { Backoff, runListWatch, watchEvents } from "../../src/kube/watch.ts";
import { rootLogger } from "../../src/logging.ts";
import { captureLogs } from "../helpers/log-capture.ts";

type Reply = () => Response;

/** A fake API server on loopback that serves lists and watches of pods from two scripted queues. */
const requests: URL[] = [];
const listReplies: Reply[] = [];
const watchReplies: Reply[] = [];
let server: ReturnType<typeof Bun.serve>;
let client: KubeClient;

const encoder = new TextEncoder();

function pod(name: string, resourceVersion: string): KubeObject {
  return { metadata: { name, namespace: "default", resourceVersion } };
}

function list(resourceVersion: string, items: KubeObject[]): Reply {
  return () => Response.json({ kind: "PodList", metadata: { resourceVersion }, items });
}

/** Returns a watch response that sends `parts` with a short pause between them, then ends unless `hold` is set. */
function stream(parts: string[], hold = false): Reply {
  return () =>
    new Response(
      new ReadableStream({
        async start(controller) {
          for (const part of parts) {
            controller.enqueue(encoder.encode(part));
            await Bun.sleep(5);
          }
          if (!hold) controller.close();
        },
      }),
    );
}

function line(type: string, object: KubeObject): string {
  return `${JSON.stringify({ type, object })}\n`;
}

function status(code: number): Reply {
  return () => Response.json({ kind: "Status", code, reason: code === 410 ? "Expired" : "InternalError", message: `code ${code}` }, { status: code });
}

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const url = new URL(request.url);
      requests.push(url);
      const watching = url.searchParams.get("watch") === "true";
      const reply = (watching ? watchReplies : listReplies).shift();
      if (reply !== undefined) return reply();
      // Without a scripted reply a watch stays open and a list is empty.
      return watching ? stream([], true)() : list("1", [])();
    },
  });
  const connection: KubeConnection = {
    server: `http://127.0.0.1:${server.port}`,
    namespace: undefined,
    source: "test",
    requestOptions: async () => ({ headers: {}, tls: {} }),
    describeUser: () => "test user",
  };
  client = new KubeClient(connection);
});

afterAll(() => server.stop(true));

afterEach(() => {
  requests.length = 0;
  listReplies.length = 0;
  watchReplies.length = 0;
});

interface Recorder {
  lists: string[][];
  events: string[];
  stop: () => Promise<void>;
}

/** Starts a list-watch of pods in namespace default that records what it delivers. */
function start(): Recorder {
  const abort = new AbortController();
  const recorder: Omit<Recorder, "stop"> = { lists: [], events: [] };
  const done = runListWatch({
    client,
    type: PODS,
    namespace: "default",
    labelSelector: "app=web",
    signal: abort.signal,
    logger: rootLogger(),
    initialBackoffMs: 40,
    maxBackoffMs: 200,
    watchTimeoutSeconds: () => 30,
    handlers: {
      onList: (items) => recorder.lists.push(items.map((item) => String((item["metadata"] as any).name))),
      onEvent: (type, object) => recorder.events.push(`${type} ${(object["metadata"] as any).name}`),
    },
  });
  return {
    ...recorder,
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; requests: ${requests.map((r) => r.search).join(" | ")}`);
    await Bun.sleep(5);
  }
}

const watches = () => requests.filter((url) => url.searchParams.get("watch") === "true");
const lists = () => requests.filter((url) => url.searchParams.get("watch") !== "true");

describe("runListWatch", () => {
  test("watches from the list's resourceVersion", async () => {
    captureLogs();
    listReplies.push(list("10", [pod("a", "9")]));
    watchReplies.push(stream([line("ADDED", pod("b", "11")), line("BOOKMARK", { metadata: { resourceVersion: "15" } })]));
    const recorder = start();
    await waitFor("second watch", () => watches().length >= 2);
    await recorder.stop();

    expect(recorder.lists).toEqual([["a"]]);
    expect(recorder.events).toEqual(["ADDED b"]);
    const [first, second] = watches();
    expect(first?.searchParams.get("resourceVersion")).toBe("10");
    expect(first?.searchParams.get("allowWatchBookmarks")).toBe("true");
    expect(first?.searchParams.get("labelSelector")).toBe("app=web");
    expect(first?.searchParams.get("timeoutSeconds")).toBe("30");
    expect(first?.pathname).toBe("/api/v1/namespaces/default/pods");
    expect(second?.searchParams.get("resourceVersion")).toBe("15");
  });

  const goneCases: { name: string; reply: Reply }[] = [
    { name: "ERROR event", reply: stream([line("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" })]) },
    { name: "HTTP status", reply: status(410) },
  ];
  for (const row of goneCases) {
    test(`410 Gone as ${row.name} lists again`, async () => {
      captureLogs();
      listReplies.push(list("10", [pod("a", "9")]), list("20", [pod("b", "19")]));
      watchReplies.push(row.reply);
      const recorder = start();
      await waitFor("watch after the second list", () => watches().length >= 2);
      await recorder.stop();

      expect(recorder.lists).toEqual([["a"], ["b"]]);
      expect(lists()).toHaveLength(2);
      expect(watches()[1]?.searchParams.get("resourceVersion")).toBe("20");
    });
  }

  test("server error retries the watch after a backoff", async () => {
    const logs = captureLogs();
    listReplies.push(list("10", []));
    watchReplies.push(status(500));
    const recorder = start();
    await waitFor("second watch", () => watches().length >= 2);
    await recorder.stop();

    expect(lists()).toHaveLength(1);
    expect(watches()[1]?.searchParams.get("resourceVersion")).toBe("10");
    const warning = logs.find("watch failed, retrying")[0];
    expect(String(warning?.["error"])).toContain("failed to watch pods in namespace default: HTTP 500");
    expect(Number(warning?.["delayMs"])).toBeGreaterThanOrEqual(20);
  });

  test("list failure retries the list", async () => {
    const logs = captureLogs();
    listReplies.push(status(500), list("10", [pod("a", "9")]));
    const recorder = start();
    await waitFor("first watch", () => watches().length >= 1);
    await recorder.stop();

    expect(recorder.lists).toEqual([["a"]]);
    expect(logs.find("watch failed, retrying")).toHaveLength(1);
  });

  test("reassembles an event split across chunks", async () => {
    captureLogs();
    const text = line("MODIFIED", pod("split", "12"));
    watchReplies.push(stream([text.slice(0, 10), text.slice(10, 30), text.slice(30)]));
    const recorder = start();
    await waitFor("event", () => recorder.events.length >= 1);
    await recorder.stop();
    expect(recorder.events).toEqual(["MODIFIED split"]);
  });

  test("invalid line is an error, not skipped", async () => {
    const logs = captureLogs();
    watchReplies.push(stream(["not json\n", line("ADDED", pod("after", "13"))]));
    const recorder = start();
    await waitFor("retry", () => watches().length >= 2);
    await recorder.stop();
    expect(recorder.events).toEqual([]);
    expect(String(logs.find("watch failed, retrying")[0]?.["error"])).toContain("a line of the stream is not JSON");
  });

  test("abort ends an open watch at once", async () => {
    captureLogs();
    const recorder = start();
    await waitFor("open watch", () => watches().length >= 1);
    const started = performance.now();
    await recorder.stop();
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe("watchEvents", () => {
  test("yields bookmarks and ends with the stream", async () => {
    watchReplies.push(stream([line("ADDED", pod("a", "2")), line("BOOKMARK", { metadata: { resourceVersion: "3" } })]));
    const types: string[] = [];
    for await (const event of watchEvents(client.connection, {
      path: "/api/v1/pods",
      resourceVersion: "1",
      timeoutSeconds: 5,
      operation: "watch pods in all namespaces",
      signal: new AbortController().signal,
    })) {
      types.push(event.type);
    }
    expect(types).toEqual(["ADDED", "BOOKMARK"]);
  });
});

describe("Backoff", () => {
  test("doubles up to the maximum and resets", () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 500, random: () => 1 });
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([100, 200, 400, 500]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });

  test("jitter stays within half of the delay", () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 500, random: () => 0 });
    expect(backoff.next()).toBe(50);
  });
});
