/**
 * REST API authentication and HTTPS against the real API server. A request without the right
 * bearer token gets 401 and runs nothing, the token file is re-read when it changes, and TLS uses
 * a certificate the test generates.
 */
import { afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ControlPlane } from "../controlplane/harness.ts";
import { shMethod, startAgent, writeConfig, type AgentProcess } from "../e2e/agent-process.ts";
import { deploymentManifest, servedAddress } from "./api-helpers.ts";
import { freshNamespace, sharedControlPlane } from "./shared-plane.ts";

setDefaultTimeout(120_000);

let plane: ControlPlane;
let agent: AgentProcess | undefined;

beforeAll(async () => {
  plane = await sharedControlPlane();
});
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

/** Makes a CA and a server certificate for 127.0.0.1 with openssl; returns the file paths. */
function makeServingCertificate(dir: string): { ca: string; cert: string; key: string } {
  const run = (args: string[]): void => {
    const result = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "ignore", stderr: "pipe" });
    if (result.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr.toString()}`);
  };
  writeFileSync(join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=cpa-test-ca", "-keyout", "ca.key", "-out", "ca.crt"]);
  run(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=cpa-api", "-keyout", "api.key", "-out", "api.csr"]);
  run(["x509", "-req", "-in", "api.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-out", "api.crt", "-extfile", "san.ext"]);
  return { ca: join(dir, "ca.crt"), cert: join(dir, "api.crt"), key: join(dir, "api.key") };
}

async function start(namespace: string, apiConfig: Record<string, unknown>, scriptLog: string): Promise<AgentProcess> {
  const configPath = writeConfig({
    scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "web" },
    namespace,
    runMode: "per-resource",
    // Long interval: only API calls run cycles during these tests.
    interval: 3_600_000,
    logFormat: "json",
    metric: shMethod(`echo metric >> ${scriptLog}; echo 1`),
    evaluate: shMethod(`echo evaluate >> ${scriptLog}; echo '{"targetReplicas": 3}'`),
  });
  return startAgent({ configPath, env: { KUBECONFIG: plane.kubeconfigPath, apiConfig: JSON.stringify({ port: 0, host: "127.0.0.1", ...apiConfig }) } });
}

describe("REST API over HTTPS with a bearer token", () => {
  test("401 without the token, 200 with it, and the token file is re-read", async () => {
    const namespace = await freshNamespace(plane, "api-auth");
    await plane.kubectl(["apply", "-f", "-"], { input: deploymentManifest("web", namespace, 1) });
    const dir = mkdtempSync(join(tmpdir(), "cpa-api-auth-"));
    const tls = makeServingCertificate(dir);
    const tokenFile = join(dir, "token");
    const scriptLog = join(dir, "scripts.log");
    writeFileSync(tokenFile, "first-token\n");
    writeFileSync(scriptLog, "");
    agent = await start(namespace, { useHTTPS: true, certFile: tls.cert, keyFile: tls.key, authTokenFile: tokenFile }, scriptLog);
    const base = await servedAddress(agent, "serving the REST API", "https");
    const ca = readFileSync(tls.ca, "utf8");
    const call = (token?: string, path = "/api/v1/evaluation") =>
      fetch(`${base}${path}`, { method: "POST", headers: token ? { Authorization: `Bearer ${token}` } : {}, tls: { ca } } as RequestInit);

    const anonymous = await call();
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ message: "missing or invalid bearer token", code: 401 });
    expect((await call("wrong-token")).status).toBe(401);
    expect(readFileSync(scriptLog, "utf8")).toBe("");

    const authorized = await call("first-token");
    expect(authorized.status).toBe(200);
    expect(await authorized.json()).toEqual({ targetReplicas: 3 });
    expect(readFileSync(scriptLog, "utf8")).toBe("metric\nevaluate\n");

    await Bun.sleep(20);
    writeFileSync(tokenFile, "second-token\n");
    expect((await call("first-token")).status).toBe(401);
    expect((await call("second-token", "/api/v1/evaluation?dry_run=true")).status).toBe(200);
  });

  test("untrusted client sees the generated certificate rejected", async () => {
    const namespace = await freshNamespace(plane, "api-tls");
    await plane.kubectl(["apply", "-f", "-"], { input: deploymentManifest("web", namespace, 1) });
    const dir = mkdtempSync(join(tmpdir(), "cpa-api-tls-"));
    const tls = makeServingCertificate(dir);
    agent = await start(namespace, { useHTTPS: true, certFile: tls.cert, keyFile: tls.key }, join(dir, "scripts.log"));
    const base = await servedAddress(agent, "serving the REST API", "https");
    await expect(fetch(`${base}/api/v1/metrics?dry_run=true`)).rejects.toThrow();
  });

  test("API on a non-loopback address without a token logs a warning", async () => {
    const namespace = await freshNamespace(plane, "api-warn");
    await plane.kubectl(["apply", "-f", "-"], { input: deploymentManifest("web", namespace, 1) });
    const dir = mkdtempSync(join(tmpdir(), "cpa-api-warn-"));
    agent = await start(namespace, { host: "0.0.0.0" }, join(dir, "scripts.log"));
    const warning = await agent.waitForLog((l) => l.message.startsWith("the REST API accepts unauthenticated requests"));
    expect(warning.level).toBe("WARN");
  });

  test("oversized body and headers are rejected", async () => {
    const namespace = await freshNamespace(plane, "api-body");
    await plane.kubectl(["apply", "-f", "-"], { input: deploymentManifest("web", namespace, 1) });
    const dir = mkdtempSync(join(tmpdir(), "cpa-api-body-"));
    const scriptLog = join(dir, "scripts.log");
    writeFileSync(scriptLog, "");
    agent = await start(namespace, {}, scriptLog);
    const base = await servedAddress(agent, "serving the REST API");
    const response = await fetch(`${base}/api/v1/evaluation`, { method: "POST", body: "x".repeat(1024 * 1024) });
    expect(response.status).toBe(413);
    const headers = await fetch(`${base}/api/v1/evaluation`, { method: "POST", headers: { "X-Padding": "x".repeat(64 * 1024) } });
    expect(headers.status).toBe(431);
    expect(readFileSync(scriptLog, "utf8")).toBe("");
  });
});
