/**
 * Tests of where `loadKubeConnection` finds credentials and how it reports unusable ones. These
 * only read files, so no server is started.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { KubeConfigError, loadKubeConnection, type KubeConnectionOptions } from "../../src/kube/index.ts";
import { kubeconfigYaml, serviceAccountToken, writeKubeconfig, writeServiceAccountDir } from "../fake-kube/kubeconfig.ts";
import { fakePki } from "../fake-kube/pki.ts";
import { caughtError } from "./helpers.ts";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "kube-loading-"));
const explicitPath = path.join(root, "explicit");
const envPath = path.join(root, "from-env");
const home = path.join(root, "home");
const emptyHome = path.join(root, "empty-home");
const serviceAccountDir = path.join(root, "sa");
const otherServiceAccountDir = path.join(root, "sa-other");

const IN_CLUSTER_ENV = { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: "6443" };

beforeAll(() => {
  const caPem = fakePki().caPem;
  writeKubeconfig(explicitPath, { server: "https://127.0.0.1:1001", caPem });
  writeKubeconfig(envPath, { server: "https://127.0.0.1:1002", caPem });
  writeKubeconfig(path.join(home, ".kube", "config"), { server: "https://127.0.0.1:1003", caPem });
  fs.mkdirSync(emptyHome);
  writeServiceAccountDir(serviceAccountDir, {
    token: serviceAccountToken("apps", "autoscaler"),
    caPem,
    namespace: "apps",
  });
  writeServiceAccountDir(otherServiceAccountDir, {
    token: serviceAccountToken("tools", "other"),
    caPem,
    namespace: "tools",
  });
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe("loadKubeConnection source order", () => {
  const rows: { name: string; options: () => KubeConnectionOptions; server: string; user?: string }[] = [
    {
      name: "explicit path beats KUBECONFIG",
      options: () => ({ kubeconfigPath: explicitPath, env: { KUBECONFIG: envPath }, homeDir: home }),
      server: "https://127.0.0.1:1001",
    },
    {
      name: "KUBECONFIG beats home config",
      options: () => ({ env: { KUBECONFIG: envPath, ...IN_CLUSTER_ENV }, homeDir: home }),
      server: "https://127.0.0.1:1002",
    },
    {
      name: "KUBECONFIG skips missing files",
      options: () => ({ env: { KUBECONFIG: `${path.join(root, "missing")}${path.delimiter}${envPath}` }, homeDir: home }),
      server: "https://127.0.0.1:1002",
    },
    {
      name: "in-cluster beats home config",
      options: () => ({ env: { ...IN_CLUSTER_ENV, CPA_SERVICE_ACCOUNT_DIR: serviceAccountDir }, homeDir: home }),
      server: "https://127.0.0.1:6443",
      user: "serviceaccount apps/autoscaler",
    },
    {
      name: "home config outside a pod",
      options: () => ({ env: {}, homeDir: home }),
      server: "https://127.0.0.1:1003",
    },
    {
      name: "in-cluster from CPA_SERVICE_ACCOUNT_DIR",
      options: () => ({ env: { ...IN_CLUSTER_ENV, CPA_SERVICE_ACCOUNT_DIR: serviceAccountDir }, homeDir: emptyHome }),
      server: "https://127.0.0.1:6443",
      user: "serviceaccount apps/autoscaler",
    },
    {
      name: "serviceAccountDir option beats env",
      options: () => ({
        serviceAccountDir: otherServiceAccountDir,
        env: { ...IN_CLUSTER_ENV, CPA_SERVICE_ACCOUNT_DIR: serviceAccountDir },
        homeDir: emptyHome,
      }),
      server: "https://127.0.0.1:6443",
      user: "serviceaccount tools/other",
    },
    {
      name: "in-cluster IPv6 host is bracketed",
      options: () => ({
        env: { KUBERNETES_SERVICE_HOST: "::1", KUBERNETES_SERVICE_PORT: "6443", CPA_SERVICE_ACCOUNT_DIR: serviceAccountDir },
        homeDir: emptyHome,
      }),
      server: "https://[::1]:6443",
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const connection = loadKubeConnection(row.options());
      expect(connection.server).toBe(row.server);
      if (row.user !== undefined) expect(connection.describeUser()).toBe(row.user);
    });
  }
});

describe("loadKubeConnection errors", () => {
  const write = (name: string, text: string) => {
    const file = path.join(root, name);
    fs.writeFileSync(file, text);
    return file;
  };

  const rows: { name: string; options: () => KubeConnectionOptions; message: string }[] = [
    {
      name: "nothing found",
      options: () => ({ env: {}, homeDir: emptyHome }),
      message: "no Kubernetes credentials found: KUBECONFIG is not set",
    },
    {
      name: "explicit path missing",
      options: () => ({ kubeconfigPath: path.join(root, "absent"), env: {}, homeDir: home }),
      message: `the kubeconfig file ${path.join(root, "absent")} does not exist`,
    },
    {
      name: "KUBECONFIG files all missing",
      options: () => ({ env: { KUBECONFIG: path.join(root, "absent") }, homeDir: home }),
      message: "none of the files in KUBECONFIG exists",
    },
    {
      name: "context not defined",
      options: () => ({ kubeconfigPath: explicitPath, context: "staging", env: {} }),
      message: `kubeconfig ${explicitPath} has no context "staging" (contexts: fake)`,
    },
    {
      name: "no current-context",
      options: () => ({
        kubeconfigPath: write("no-current", kubeconfigYaml({ server: "https://127.0.0.1:1", noCurrentContext: true })),
        env: {},
      }),
      message: "sets no current-context",
    },
    {
      name: "plain HTTP without skip-verify",
      options: () => ({ kubeconfigPath: write("http", kubeconfigYaml({ server: "http://127.0.0.1:8080" })), env: {} }),
      message: "uses plain HTTP, which is accepted only with insecure-skip-tls-verify: true",
    },
    {
      name: "cluster without server",
      options: () => ({
        kubeconfigPath: write("no-server", "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {}\n"),
        env: {},
      }),
      message: "clusters[0].cluster.server is missing",
    },
    {
      name: "in-cluster without token file",
      options: () => ({
        env: { ...IN_CLUSTER_ENV, CPA_SERVICE_ACCOUNT_DIR: path.join(root, "no-sa") },
        homeDir: emptyHome,
      }),
      message: `failed to read the service-account token ${path.join(root, "no-sa", "token")}: ENOENT`,
    },
    {
      name: "in-cluster without port",
      options: () => ({ env: { KUBERNETES_SERVICE_HOST: "127.0.0.1" }, homeDir: emptyHome }),
      message: "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set",
    },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const error = caughtError(() => loadKubeConnection(row.options()));
      expect(error).toBeInstanceOf(KubeConfigError);
      expect((error as Error).message).toContain(row.message);
    });
  }
});

describe("loadKubeConnection context option", () => {
  test("context option selects another context", () => {
    const file = path.join(root, "two-contexts");
    const first = kubeconfigYaml({ server: "https://127.0.0.1:2001", contextName: "one" });
    // A second context named "two" pointing at the same cluster with another namespace.
    const text = first.replace("contexts:\n", "contexts:\n  - name: two\n    context:\n      cluster: fake\n      user: fake-admin\n      namespace: second\n");
    fs.writeFileSync(file, text);
    const connection = loadKubeConnection({ kubeconfigPath: file, context: "two", env: {} });
    expect(connection.namespace).toBe("second");
    expect(connection.source).toBe(`kubeconfig ${file}, context two`);
  });
});
