import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Agent } from "../../src/agent/agent.ts";
import { bearerMatches, createTokenSource, type TokenSource } from "../../src/api/auth.ts";
import { errorResponse, handleApiRequest, parseDryRun, type ApiDeps } from "../../src/api/server.ts";
import { rootLogger } from "../../src/logging.ts";
import { makeConfig, sh } from "../helpers/config.ts";
import { FakeClock, FakeRunner, FakeTarget } from "../helpers/fakes.ts";
import { captureLogs } from "../helpers/log-capture.ts";

const NO_AUTH: TokenSource = { token: () => undefined, description: "none" };

function setup(options: { config?: Record<string, unknown>; target?: FakeTarget; tokens?: TokenSource; isLeader?: () => boolean; evaluate?: () => string | Promise<string> } = {}) {
  captureLogs(0);
  const config = makeConfig({ downscaleStabilization: 300, ...options.config });
  const target = options.target ?? new FakeTarget({ replicas: 2 });
  const runner = new FakeRunner({ metric: () => "7", evaluate: options.evaluate ?? (() => '{"targetReplicas": 4}') });
  const agent = new Agent({ config, target, runner, clock: new FakeClock(), logger: rootLogger() });
  const deps: ApiDeps = { config, agent, logger: rootLogger(), tokens: options.tokens ?? NO_AUTH, isLeader: options.isLeader };
  const call = async (method: string, path: string, headers: Record<string, string> = {}): Promise<Response> => {
    try {
      return await handleApiRequest(new Request(`http://127.0.0.1${path}`, { method, headers }), deps);
    } catch (error) {
      return errorResponse(error);
    }
  };
  return { agent, target, runner, call };
}

describe("parseDryRun", () => {
  const trueValues = ["1", "t", "T", "TRUE", "true", "True"];
  const falseValues = ["0", "f", "F", "FALSE", "false", "False"];
  for (const value of trueValues) test(`${value} is true`, () => expect(parseDryRun(value)).toBe(true));
  for (const value of falseValues) test(`${value} is false`, () => expect(parseDryRun(value)).toBe(false));
  test("absent is false", () => expect(parseDryRun(null)).toBe(false));
  for (const value of ["yes", "", "tRUE", "2"]) {
    test(`"${value}" is rejected`, () => expect(() => parseDryRun(value)).toThrow("invalid dry_run value"));
  }
});

describe("REST API routes", () => {
  const cases: { name: string; method: string; path: string; status: number; body?: unknown }[] = [
    { name: "metrics", method: "GET", path: "/api/v1/metrics", status: 200, body: [{ resource: "web", value: "7" }] },
    { name: "metrics dry run", method: "GET", path: "/api/v1/metrics?dry_run=true", status: 200, body: [{ resource: "web", value: "7" }] },
    { name: "evaluation dry run", method: "POST", path: "/api/v1/evaluation?dry_run=true", status: 200, body: { targetReplicas: 4 } },
    { name: "unknown path", method: "GET", path: "/api/v2/metrics", status: 404 },
    { name: "GET on evaluation", method: "GET", path: "/api/v1/evaluation", status: 405 },
    { name: "POST on metrics", method: "POST", path: "/api/v1/metrics", status: 405 },
    { name: "invalid dry_run", method: "POST", path: "/api/v1/evaluation?dry_run=maybe", status: 400 },
  ];
  for (const c of cases) {
    test(`${c.name} returns ${c.status}`, async () => {
      const { call } = setup();
      const response = await call(c.method, c.path);
      expect(response.status).toBe(c.status);
      expect(response.headers.get("content-type")).toBe("application/json");
      const body: unknown = await response.json();
      if (c.body !== undefined) expect(body).toEqual(c.body);
      else expect((body as { code: number }).code).toBe(c.status);
    });
  }

  test("405 names the allowed method", async () => {
    const { call } = setup();
    const response = await call("GET", "/api/v1/evaluation");
    expect(response.headers.get("allow")).toBe("POST");
  });

  test("evaluation returns the applied count", async () => {
    const { call, target } = setup({ config: { maxReplicas: 3 } });
    const response = await call("POST", "/api/v1/evaluation");
    expect(await response.json()).toEqual({ targetReplicas: 3 });
    expect(target.patches).toEqual([3]);
  });

  test("evaluation scales the target", async () => {
    const { call, target } = setup();
    const response = await call("POST", "/api/v1/evaluation");
    expect(await response.json()).toEqual({ targetReplicas: 4 });
    expect(target.patches).toEqual([4]);
  });

  test("dry run neither scales nor records stabilization", async () => {
    const { call, target, agent } = setup();
    await call("POST", "/api/v1/evaluation?dry_run=true");
    expect(target.patches).toEqual([]);
    expect(agent.window.entries()).toEqual([]);
  });

  test("dry run payloads carry runType api_dry_run", async () => {
    const { call, runner } = setup();
    await call("POST", "/api/v1/evaluation?dry_run=1");
    expect(JSON.parse(runner.inputOf("evaluate")!).runType).toBe("api_dry_run");
  });

  test("disabled target reports disabled", async () => {
    const { call } = setup({ target: new FakeTarget({ replicas: 0 }) });
    const response = await call("POST", "/api/v1/evaluation?dry_run=true");
    expect(await response.json()).toEqual({ disabled: true });
  });

  test("cycle error returns 500 with the message", async () => {
    const { call } = setup({ evaluate: () => "{}" });
    const response = await call("POST", "/api/v1/evaluation");
    expect(response.status).toBe(500);
    expect(((await response.json()) as { message: string }).message).toContain("evaluation has no integer field targetReplicas");
  });

  test("waits for a running cycle within waitTimeout", async () => {
    const { call, agent, target } = setup({ config: { apiConfig: { waitTimeout: 2000 } } });
    const lockHolder = agent.lock.tryRun(() => Bun.sleep(100));
    const response = await call("POST", "/api/v1/evaluation");
    await lockHolder;
    expect(response.status).toBe(200);
    expect(target.patches).toEqual([4]);
  });

  test("gives up after waitTimeout with 429", async () => {
    const { call, agent, target } = setup({ config: { apiConfig: { waitTimeout: 50 } } });
    const lockHolder = agent.lock.tryRun(() => Bun.sleep(300));
    const response = await call("POST", "/api/v1/evaluation");
    await lockHolder;
    expect(response.status).toBe(429);
    expect(((await response.json()) as { code: number }).code).toBe(429);
    expect(target.patches).toEqual([]);
  });
});

describe("REST API authentication", () => {
  const TOKEN: TokenSource = { token: () => "s3cret", description: "test" };
  const cases: [string, Record<string, string>, number][] = [
    ["no header", {}, 401],
    ["wrong token", { Authorization: "Bearer nope" }, 401],
    ["basic scheme", { Authorization: "Basic czNjcmV0" }, 401],
    ["right token", { Authorization: "Bearer s3cret" }, 200],
    ["lowercase scheme", { Authorization: "bearer s3cret" }, 200],
  ];
  for (const [name, headers, status] of cases) {
    test(`${name} gives ${status}`, async () => {
      const { call, target } = setup({ tokens: TOKEN });
      const response = await call("POST", "/api/v1/evaluation", headers);
      expect(response.status).toBe(status);
      expect(target.patches).toEqual(status === 200 ? [4] : []);
    });
  }

  test("401 runs nothing", async () => {
    const { call, runner } = setup({ tokens: TOKEN });
    await call("GET", "/api/v1/metrics");
    expect(runner.requests).toEqual([]);
  });

  test("token file is re-read when it changes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cpa-token-"));
    const path = join(dir, "token");
    writeFileSync(path, "first\n");
    const source = createTokenSource(path, {});
    expect(source.token()).toBe("first");
    await Bun.sleep(20);
    writeFileSync(path, "second-token\n");
    expect(source.token()).toBe("second-token");
  });

  test("missing token file fails closed", () => {
    const source = createTokenSource("/nonexistent/token", {});
    expect(() => source.token()).toThrow("failed to read apiConfig.authTokenFile");
  });

  test("environment token is used without a file", () => {
    expect(createTokenSource("", { CPA_API_TOKEN: " abc \n" }).token()).toBe("abc");
  });

  test("no token means no authentication", () => {
    expect(createTokenSource("", {}).token()).toBeUndefined();
  });

  test("bearerMatches rejects a prefix of the token", () => {
    expect(bearerMatches("Bearer s3cre", "s3cret")).toBe(false);
  });
});

describe("REST API leader election", () => {
  test("follower answers 503 to a real run", async () => {
    const { call, target } = setup({ isLeader: () => false });
    const response = await call("POST", "/api/v1/evaluation");
    expect(response.status).toBe(503);
    expect(((await response.json()) as { message: string }).message).toContain("not the leader");
    expect(target.patches).toEqual([]);
  });

  test("follower serves dry runs", async () => {
    const { call } = setup({ isLeader: () => false });
    const response = await call("POST", "/api/v1/evaluation?dry_run=true");
    expect(response.status).toBe(200);
  });
});

describe("REST API scale hooks", () => {
  test("API run sends the scheduler's preScale shape", async () => {
    const { call, runner } = setup({ config: { preScale: sh(":") } });
    await call("POST", "/api/v1/evaluation");
    const payload = JSON.parse(runner.inputOf("preScale")!);
    expect(payload.runType).toBe("api");
    expect(payload.targetReplicas).toBe(4);
    expect(payload.currentReplicas).toBe(2);
  });
});
