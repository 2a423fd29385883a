/** The http method over HTTPS with a test CA: caCert, and mutual TLS with clientCert and clientKey. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { validateConfigValues } from "../../src/config/load.ts";
import type { MethodConfig } from "../../src/config/schema.ts";
import { MethodError } from "../../src/errors.ts";
import { runHttp } from "../../src/execute/http.ts";

const dir = mkdtempSync(join(tmpdir(), "cpa-http-tls-"));
let server: Server<undefined>;

/** Makes a CA, a server certificate for 127.0.0.1 and a client certificate with openssl. */
function makeCertificates(): void {
  const run = (args: string[]): void => {
    const result = Bun.spawnSync(["openssl", ...args], { cwd: dir, stdout: "ignore", stderr: "pipe" });
    if (result.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr.toString()}`);
  };
  writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.crt"]);
  for (const name of ["server", "client"]) {
    run(["req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${name}`, "-keyout", `${name}.key`, "-out", `${name}.csr`]);
    run(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-out", `${name}.crt`, "-extfile", `${name}.ext`]);
  }
}

beforeAll(() => {
  makeCertificates();
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: readFileSync(join(dir, "server.crt"), "utf8"), key: readFileSync(join(dir, "server.key"), "utf8"), ca: readFileSync(join(dir, "ca.crt"), "utf8"), requestCert: true, rejectUnauthorized: true },
    fetch: () => Response.json({ depth: 3 }),
  });
});
afterAll(() => server.stop(true));

function method(http: Record<string, unknown>): MethodConfig {
  const metric = { type: "http", timeout: 3000, http: { method: "GET", parameterMode: "query", url: `https://127.0.0.1:${server.port}/queue`, ...http } };
  return validateConfigValues({ scaleTargetRef: { apiVersion: "v1", kind: "K", name: "n" }, metric, evaluate: metric }, {}).config.metric;
}

async function failure(promise: Promise<unknown>): Promise<MethodError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof MethodError) return error;
    throw error;
  }
  throw new Error("expected the request to fail");
}

describe("runHttp over TLS", () => {
  test("client certificate and caCert succeed", async () => {
    const result = await runHttp({
      stage: "metric",
      method: method({ caCert: join(dir, "ca.crt"), clientCert: join(dir, "client.crt"), clientKey: join(dir, "client.key") }),
      input: "{}",
    });
    expect(result.stdout).toBe('{"depth":3}');
  });

  test("missing client certificate fails", async () => {
    const error = await failure(runHttp({ stage: "metric", method: method({ caCert: join(dir, "ca.crt") }), input: "{}" }));
    expect(error.reason).toBe("http-request");
  });

  test("missing caCert rejects the server", async () => {
    const error = await failure(runHttp({ stage: "metric", method: method({ clientCert: join(dir, "client.crt"), clientKey: join(dir, "client.key") }), input: "{}" }));
    expect(error.reason).toBe("http-request");
  });
});
