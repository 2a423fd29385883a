import { afterAll, describe, expect, test } from "bun:test";
import { validateConfigValues } from "../../src/config/load.ts";
import type { MethodConfig } from "../../src/config/schema.ts";
import { MethodError } from "../../src/errors.ts";
import { runHttp } from "../../src/execute/http.ts";

interface Seen {
  method: string;
  url: URL;
  body: string;
  headers: Headers;
}
const seen: Seen[] = [];

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const url = new URL(request.url);
    seen.push({ method: request.method, url, body: await request.text(), headers: request.headers });
    if (url.pathname === "/slow") await Bun.sleep(2000);
    if (url.pathname === "/fail") return new Response("upstream exploded", { status: 500 });
    if (url.pathname === "/created") return new Response("made", { status: 201 });
    return Response.json({ depth: 12 });
  },
});
afterAll(() => server.stop(true));

function method(http: Record<string, unknown>, timeout = 2000): MethodConfig {
  const metric = { type: "http", timeout, http: { method: "GET", parameterMode: "query", ...http } };
  return validateConfigValues({ scaleTargetRef: { apiVersion: "v1", kind: "K", name: "n" }, metric, evaluate: metric }, {}).config.metric;
}

const url = (path: string): string => `http://127.0.0.1:${server.port}${path}`;

async function failure(promise: Promise<unknown>): Promise<MethodError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MethodError) return error;
    throw error;
  }
  throw new Error("expected the request to fail");
}

describe("runHttp", () => {
  test("query mode sends the payload as value", async () => {
    const result = await runHttp({ stage: "metric", method: method({ url: url("/queue") }), input: '{"a": "b c"}' });
    expect(result.stdout).toBe('{"depth":12}');
    expect(seen.at(-1)?.url.searchParams.get("value")).toBe('{"a": "b c"}');
  });

  test("query mode keeps existing parameters", async () => {
    await runHttp({ stage: "metric", method: method({ url: url("/queue?x=1") }), input: "{}" });
    expect(seen.at(-1)?.url.searchParams.get("x")).toBe("1");
  });

  test("body mode sends the payload as body", async () => {
    await runHttp({ stage: "metric", method: method({ url: url("/queue"), method: "POST", parameterMode: "body" }), input: '{"x":1}' });
    expect(seen.at(-1)?.body).toBe('{"x":1}');
    expect(seen.at(-1)?.method).toBe("POST");
  });

  test("sends configured headers", async () => {
    await runHttp({ stage: "metric", method: method({ url: url("/queue"), headers: { "X-Team": "a" } }), input: "{}" });
    expect(seen.at(-1)?.headers.get("x-team")).toBe("a");
  });

  test("default successCodes accept 200", async () => {
    const result = await runHttp({ stage: "metric", method: method({ url: url("/queue") }), input: "{}" });
    expect(result.stdout).toBe('{"depth":12}');
  });

  test("status outside successCodes fails with code and body", async () => {
    const error = await failure(runHttp({ stage: "metric", method: method({ url: url("/fail") }), input: "{}" }));
    expect(error.message).toBe(`metric failed: GET ${url("/fail")} returned status 500, expected one of [200]: upstream exploded`);
  });

  test("configured successCodes are honoured", async () => {
    const result = await runHttp({ stage: "metric", method: method({ url: url("/created"), successCodes: [201] }), input: "{}" });
    expect(result.stdout).toBe("made");
  });

  test("error never echoes request headers", async () => {
    const error = await failure(runHttp({ stage: "metric", method: method({ url: url("/fail"), headers: { Authorization: "Bearer secret-token" } }), input: "{}" }));
    expect(error.message).not.toContain("secret-token");
  });

  test("timeout is reported as a timeout", async () => {
    const error = await failure(runHttp({ stage: "metric", method: method({ url: url("/slow") }, 100), input: "{}" }));
    expect(error.reason).toBe("timeout");
    expect(error.message).toContain("timed out after 100 ms");
  });

  test("connection refused is a request failure", async () => {
    const error = await failure(runHttp({ stage: "metric", method: method({ url: "http://127.0.0.1:1/x" }), input: "{}" }));
    expect(error.reason).toBe("http-request");
  });

  test("missing caCert file is named", async () => {
    const error = await failure(runHttp({ stage: "metric", method: method({ url: url("/queue"), caCert: "/nonexistent/ca.pem" }), input: "{}" }));
    expect(error.message).toContain("cannot read caCert /nonexistent/ca.pem");
  });
});
