/**
 * Credentials tests: each kubeconfig and in-cluster variant sends a real request to the fake API
 * server, which records what it received.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import path from "node:path";
import { KubeClient, loadKubeConnection, type KubeConnection } from "../../src/kube/index.ts";
import { deployment } from "../fake-kube/fixtures.ts";
import { startFakeKube, type FakeKube } from "../fake-kube/server.ts";
import { caughtKubeError } from "./helpers.ts";

const WEB = { apiVersion: "apps/v1", kind: "Deployment", name: "web", namespace: "default" };

let kube: FakeKube;

beforeAll(async () => {
  // Accepts the test client certificate and the admin token; anonymous requests get 401.
  kube = await startFakeKube({ clientCert: true, token: true });
  kube.addObject(deployment({ name: "web", replicas: 2 }));
});

afterAll(async () => {
  await kube.stop();
});

/** Sends one getScale through `connection` and returns the request the fake recorded for it. */
async function scaleRequest(connection: KubeConnection) {
  kube.clearRequests();
  await new KubeClient(connection).getScale(WEB);
  const recorded = kube.requests.find((request) => request.pathname.endsWith("/scale"));
  if (recorded === undefined) throw new Error("the fake recorded no scale request");
  return recorded;
}

function kubeconfigConnection(fileName: string, options: Parameters<FakeKube["writeKubeconfig"]>[1]): KubeConnection {
  return loadKubeConnection({ kubeconfigPath: kube.writeKubeconfig(fileName, options) });
}

describe("kubeconfig credentials", () => {
  test("token user sends bearer token", async () => {
    const connection = kubeconfigConnection("token", { user: { token: kube.token } });
    const recorded = await scaleRequest(connection);
    expect(recorded.authorization).toBe(`Bearer ${kube.token}`);
    expect(recorded.user).toBe("fake-admin");
  });

  test("client certificate user is verified", async () => {
    const connection = kubeconfigConnection("cert", {
      user: { clientCertPem: kube.pki.clientCertPem, clientKeyPem: kube.pki.clientKeyPem },
    });
    const recorded = await scaleRequest(connection);
    expect(recorded.clientCertificate).toBe(true);
    expect(recorded.authorization).toBeUndefined();
    expect(recorded.user).toBe("fake-admin");
  });

  test("client certificate from another CA is unauthorized", async () => {
    const connection = kubeconfigConnection("other-cert", {
      user: { clientCertPem: kube.pki.otherClientCertPem, clientKeyPem: kube.pki.otherClientKeyPem },
    });
    const error = await caughtKubeError(() => new KubeClient(connection).getScale(WEB));
    expect(error.status).toBe(401);
    expect(error.message).toContain("the API server rejected the credentials of user fake-admin");
  });

  test("exec plugin token is sent", async () => {
    const script = path.join(kube.directory, "exec-plugin.sh");
    const credential = JSON.stringify({
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token: kube.token },
    });
    fs.writeFileSync(script, `#!/bin/sh\necho '${credential}'\n`, { mode: 0o755 });
    const connection = kubeconfigConnection("exec", { user: { exec: { command: script } } });
    const recorded = await scaleRequest(connection);
    expect(recorded.authorization).toBe(`Bearer ${kube.token}`);
  });

  test("exec plugin failure is a credentials error", async () => {
    const script = path.join(kube.directory, "exec-fails.sh");
    fs.writeFileSync(script, "#!/bin/sh\necho 'login required' >&2\nexit 1\n", { mode: 0o755 });
    const connection = kubeconfigConnection("exec-fails", { user: { exec: { command: script } } });
    const error = await caughtKubeError(() => new KubeClient(connection).getScale(WEB));
    expect(error.failure).toBe("credentials");
    expect(error.message).toContain("failed to load the credentials of user fake-admin");
    expect(error.message).toContain("login required");
  });

  test("token-file user sends file content", async () => {
    const tokenPath = path.join(kube.directory, "kubeconfig-token");
    fs.writeFileSync(tokenPath, kube.token ?? "");
    const connection = kubeconfigConnection("token-file", { user: { tokenFile: tokenPath } });
    const recorded = await scaleRequest(connection);
    expect(recorded.authorization).toBe(`Bearer ${kube.token}`);
  });

  test("username and password send basic auth", async () => {
    const connection = kubeconfigConnection("basic", { user: { username: "admin", password: "secret" } });
    const error = await caughtKubeError(() => new KubeClient(connection).getScale(WEB));
    expect(error.status).toBe(401);
    expect(kube.requests.at(-1)?.authorization).toBe(`Basic ${Buffer.from("admin:secret").toString("base64")}`);
  });

  test("wrong CA fails TLS verification", async () => {
    const connection = kubeconfigConnection("wrong-ca", { caPem: kube.pki.otherCaPem, user: { token: kube.token } });
    const error = await caughtKubeError(() => new KubeClient(connection).getScale(WEB));
    expect(error.failure).toBe("network");
    expect(error.status).toBeUndefined();
    expect(error.message).toStartWith(`failed to reach the Kubernetes API at ${kube.url} to discover the resources of API group version apps/v1: `);
    expect(error.message).toContain("the server certificate is not signed by the configured CA");
  });

  test("missing CA fails TLS verification", async () => {
    const connection = kubeconfigConnection("no-ca", { caPem: undefined, user: { token: kube.token } });
    const error = await caughtKubeError(() => new KubeClient(connection).getScale(WEB));
    expect(error.failure).toBe("network");
  });

  test("insecure-skip-tls-verify accepts unknown CA", async () => {
    const connection = kubeconfigConnection("insecure", {
      caPem: undefined,
      insecureSkipTlsVerify: true,
      user: { token: kube.token },
    });
    const recorded = await scaleRequest(connection);
    expect(recorded.status).toBe(200);
  });

  test("tls-server-name is checked against the certificate", async () => {
    const connection = kubeconfigConnection("wrong-name", { tlsServerName: "wrong.example", user: { token: kube.token } });
    const error = await caughtKubeError(() => new KubeClient(connection).getScale(WEB));
    expect(error.failure).toBe("network");
    expect(error.message).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
  });

  test("tls-server-name matching the certificate succeeds", async () => {
    const connection = kubeconfigConnection("right-name", { tlsServerName: "localhost", user: { token: kube.token } });
    const recorded = await scaleRequest(connection);
    expect(recorded.status).toBe(200);
  });

  test("describeUser names the kubeconfig user", () => {
    const connection = kubeconfigConnection("describe", { user: { token: kube.token }, userName: "admin" });
    expect(connection.describeUser()).toBe("user admin");
  });

  test("namespace comes from the context", () => {
    const connection = kubeconfigConnection("namespaced", { namespace: "apps", user: { token: kube.token } });
    expect(connection.namespace).toBe("apps");
  });
});

describe("in-cluster credentials", () => {
  function inCluster(namespace: string, name: string) {
    const token = kube.addServiceAccount(namespace, name);
    const { directory, env } = kube.writeServiceAccountDir({ namespace, token });
    const connection = loadKubeConnection({ env, homeDir: path.join(kube.directory, "no-home") });
    return { token, directory, connection };
  }

  test("service account sends token and trusts ca.crt", async () => {
    const { token, connection } = inCluster("apps", "autoscaler");
    const recorded = await scaleRequest(connection);
    expect(recorded.authorization).toBe(`Bearer ${token}`);
    expect(recorded.user).toBe("system:serviceaccount:apps:autoscaler");
  });

  test("service account namespace comes from the namespace file", () => {
    const { connection } = inCluster("apps", "ns-reader");
    expect(connection.namespace).toBe("apps");
  });

  test("describeUser names the service account", () => {
    const { connection } = inCluster("apps", "described");
    expect(connection.describeUser()).toBe("serviceaccount apps/described");
  });

  const rotations = [
    {
      name: "replaced by rename",
      write: (file: string, token: string) => {
        fs.writeFileSync(`${file}.new`, token);
        fs.renameSync(`${file}.new`, file);
      },
    },
    { name: "overwritten in place", write: (file: string, token: string) => fs.writeFileSync(file, token) },
  ];
  for (const rotation of rotations) {
    test(`token rotation ${rotation.name}`, async () => {
      const { token, directory, connection } = inCluster("apps", `rotating-${rotations.indexOf(rotation)}`);
      expect((await scaleRequest(connection)).authorization).toBe(`Bearer ${token}`);

      const next = kube.addServiceAccount("apps", `rotating-${rotations.indexOf(rotation)}`);
      rotation.write(path.join(directory, "token"), `${next}\n`);
      kube.removeUser(token);

      expect((await scaleRequest(connection)).authorization).toBe(`Bearer ${next}`);
    });
  }
});

describe("token secrecy", () => {
  test("describeUser never contains the token", () => {
    const kubeconfig = kubeconfigConnection("secret-describe", { user: { token: kube.token } });
    const token = kube.addServiceAccount("apps", "secretive");
    const { env } = kube.writeServiceAccountDir({ namespace: "apps", token });
    const inCluster = loadKubeConnection({ env, homeDir: path.join(kube.directory, "no-home") });
    expect(kubeconfig.describeUser()).not.toContain(kube.token ?? "");
    expect(inCluster.describeUser()).not.toContain(token);
    expect(inCluster.describeUser()).not.toContain(token.split(".")[2] ?? "");
  });

  test("errors never contain the token", async () => {
    const token = kube.addServiceAccount("apps", "forbidden", () => false);
    const { env } = kube.writeServiceAccountDir({ namespace: "apps", token });
    const connection = loadKubeConnection({ env, homeDir: path.join(kube.directory, "no-home") });
    const forbidden = await caughtKubeError(() => new KubeClient(connection).getScale(WEB));
    kube.removeUser(token);
    const unauthorized = await caughtKubeError(() => new KubeClient(connection).getScale(WEB));
    expect(forbidden.status).toBe(403);
    expect(unauthorized.status).toBe(401);
    expect(forbidden.message).not.toContain(token);
    expect(unauthorized.message).not.toContain(token);
    expect(JSON.stringify(forbidden)).not.toContain(token);
  });
});
