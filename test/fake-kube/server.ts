/**
 * A fake Kubernetes API server for tests: HTTPS on 127.0.0.1 with a test CA, optional client
 * certificate and bearer token checks, in-memory objects, and injectable faults.
 *
 * It uses `node:https` rather than `Bun.serve`, because a fault test has to close a connection
 * without a response, which needs the socket, and because `node:https` reports whether the client
 * certificate verified against the CA (`socket.authorized`).
 *
 * @example
 * const kube = await startFakeKube({ token: true });
 * kube.addObject(deployment({ name: "web", replicas: 2, labels: { app: "web" } }));
 * // Run the agent with KUBECONFIG=kube.kubeconfigPath, then:
 * expect(kube.replicasOf({ apiVersion: "apps/v1", kind: "Deployment", name: "web" })).toBe(3);
 * await kube.stop();
 */

import fs from "node:fs";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import os from "node:os";
import path from "node:path";
import { FaultList } from "./faults.ts";
import { getPath, KindRegistry, setPath, type KindInfo } from "./kinds.ts";
import { serviceAccountToken, writeKubeconfig, writeServiceAccountDir, type KubeconfigOptions } from "./kubeconfig.ts";
import { fakePki } from "./pki.ts";
import { route, type RouterContext } from "./router.ts";
import { statusResponse, type FakeResponse } from "./status.ts";
import { ObjectStore, type StoredObject } from "./store.ts";
import type { FakeKube, FakeKubeOptions, FakeObjectRef, FakeUser, RecordedRequest } from "./types.ts";

export type { FaultHandle, FaultRule } from "./faults.ts";
export type { CustomKindOptions } from "./kinds.ts";
export type { RequestAttributes } from "./status.ts";
export type { FakeKube, FakeKubeOptions, FakeObjectRef, FakeUser, RecordedRequest } from "./types.ts";

const ADMIN = "fake-admin";

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function writeResponse(response: ServerResponse, result: FakeResponse): void {
  const contentType = result.text === undefined ? "application/json" : "text/plain; charset=utf-8";
  const text = result.text ?? JSON.stringify(result.body);
  response.writeHead(result.status, { "Content-Type": contentType, "Content-Length": Buffer.byteLength(text) });
  response.end(text);
}

/** Starts a fake API server on 127.0.0.1 on a free port. */
export async function startFakeKube(options: FakeKubeOptions = {}): Promise<FakeKube> {
  const pki = fakePki();
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), "fake-kube-"));
  const kinds = new KindRegistry();
  const store = new ObjectStore(kinds);
  const faults = new FaultList();
  const requests: RecordedRequest[] = [];
  const users = new Map<string, FakeUser>();
  const hanging = new Set<ServerResponse>();

  const token = options.token === true ? `fake-token-${crypto.randomUUID()}` : options.token || undefined;
  if (token !== undefined) users.set(token, { name: ADMIN, token });
  const clientCert = options.clientCert ?? false;
  const anonymous = options.anonymous ?? (!clientCert && token === undefined);

  const authenticate = (request: IncomingMessage): string | undefined => {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer (.+)$/.exec(header);
      return match ? users.get(match[1] ?? "")?.name : undefined;
    }
    if (clientCert && (request.socket as { authorized?: boolean }).authorized === true) return ADMIN;
    return anonymous ? "system:anonymous" : undefined;
  };

  const routerContext: RouterContext = {
    kinds,
    store,
    authorize: (attributes) => {
      const user = [...users.values()].find((candidate) => candidate.name === attributes.user);
      return user?.allow === undefined || user.allow(attributes);
    },
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? "/", "https://127.0.0.1");
    const body = await readBody(request);
    const record: RecordedRequest = {
      method: request.method ?? "GET",
      path: `${url.pathname}${url.search}`,
      pathname: url.pathname,
      query: Object.fromEntries(url.searchParams),
      contentType: request.headers["content-type"],
      body,
      authorization: request.headers.authorization,
      clientCertificate: (request.socket as { authorized?: boolean }).authorized === true,
      user: authenticate(request),
      status: undefined,
    };
    requests.push(record);

    const answer = (result: FakeResponse) => {
      record.status = result.status;
      if (!response.destroyed) writeResponse(response, result);
    };

    const fault = faults.match(record.method, record.pathname, url.search.replace(/^\?/, ""));
    if (fault?.drop) {
      request.socket.destroy();
      return;
    }
    if (fault?.hang) {
      hanging.add(response);
      return;
    }
    if (fault?.stallBody) {
      record.status = 200;
      response.writeHead(200, { "Content-Type": "application/json" });
      response.write('{"kind":');
      hanging.add(response);
      return;
    }
    if (fault?.delayMs !== undefined) await Bun.sleep(fault.delayMs);
    if (fault?.status !== undefined) {
      if (fault.body !== undefined) {
        record.status = fault.status;
        response.writeHead(fault.status, { "Content-Type": fault.contentType ?? "text/plain" });
        response.end(fault.body);
      } else {
        answer(statusResponse(fault.status, fault.message ?? `injected fault with status ${fault.status}`, fault.reason));
      }
      return;
    }

    if (record.user === undefined) {
      answer(statusResponse(401, "Unauthorized", "Unauthorized"));
      return;
    }
    const contentType = (record.contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    answer(route(routerContext, { method: record.method, url, contentType, body, user: record.user }));
  };

  const server = https.createServer(
    { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem, requestCert: true, rejectUnauthorized: false },
    (request, response) => {
      handle(request, response).catch((error: unknown) => {
        if (!response.headersSent && !response.destroyed) {
          writeResponse(response, statusResponse(500, `fake API server error: ${String(error)}`));
        }
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the fake API server has no TCP address");
  const port = address.port;
  const url = `https://127.0.0.1:${port}`;

  const kubeconfigUser = options.kubeconfigUser ?? (clientCert ? "cert" : "token");
  const defaultUser =
    kubeconfigUser === "cert" && clientCert
      ? { clientCertPem: pki.clientCertPem, clientKeyPem: pki.clientKeyPem }
      : token !== undefined
        ? { token }
        : {};
  const kubeconfigFor = (fileName: string, overrides: Partial<KubeconfigOptions> = {}) => {
    const config: KubeconfigOptions = { server: url, caPem: pki.caPem, user: defaultUser, ...overrides };
    if (options.namespace !== undefined && overrides.namespace === undefined) config.namespace = options.namespace;
    return writeKubeconfig(path.join(directory, fileName), config);
  };
  const kubeconfigPath = kubeconfigFor("kubeconfig");

  const lookup = (ref: FakeObjectRef): { kind: KindInfo; object: StoredObject } => {
    const kind = kinds.byKind(ref.apiVersion, ref.kind);
    if (kind === undefined) throw new Error(`the fake API server has no kind ${ref.kind} in ${ref.apiVersion}`);
    const object = store.find(kind, ref.namespace ?? "default", ref.name);
    if (object === undefined) throw new Error(`the fake API server has no ${ref.kind} ${ref.namespace ?? "default"}/${ref.name}`);
    return { kind, object };
  };
  const scaleMapping = (kind: KindInfo) => {
    if (kind.scale === undefined) throw new Error(`${kind.kind} has no scale subresource in the fake API server`);
    return kind.scale;
  };

  let stopped = false;
  return {
    url,
    port,
    caPem: pki.caPem,
    clientCertPem: clientCert ? pki.clientCertPem : undefined,
    clientKeyPem: clientCert ? pki.clientKeyPem : undefined,
    token,
    kubeconfigPath,
    directory,
    pki,
    requests,
    registerKind: (kindOptions) => void kinds.register(kindOptions),
    addObject: (object) => {
      const kind = store.put(object);
      const metadata = object.metadata as { name: string; namespace?: string };
      return structuredClone(store.find(kind, metadata.namespace ?? "default", metadata.name) ?? {});
    },
    getObject: (ref) => {
      const kind = kinds.byKind(ref.apiVersion, ref.kind);
      const object = kind && store.find(kind, ref.namespace ?? "default", ref.name);
      return object === undefined ? undefined : structuredClone(object);
    },
    deleteObject: (ref) => {
      const kind = kinds.byKind(ref.apiVersion, ref.kind);
      return kind !== undefined && store.delete(kind, ref.namespace ?? "default", ref.name);
    },
    setReplicas: (ref, replicas) => {
      const { kind, object } = lookup(ref);
      setPath(object, scaleMapping(kind).replicasPath, replicas);
      store.touch(object, true);
    },
    replicasOf: (ref) => {
      const { kind, object } = lookup(ref);
      const value = getPath(object, scaleMapping(kind).replicasPath);
      return typeof value === "number" ? value : undefined;
    },
    setField: (ref, dottedPath, value) => {
      const { object } = lookup(ref);
      setPath(object, dottedPath, value);
      store.touch(object, dottedPath.startsWith(".spec"));
    },
    setLabel: (ref, key, value) => {
      const { object } = lookup(ref);
      const labels = (getPath(object, ".metadata.labels") ?? {}) as Record<string, string>;
      if (value === undefined) delete labels[key];
      else labels[key] = value;
      setPath(object, ".metadata.labels", labels);
      store.touch(object, false);
    },
    addUser: (user) => void users.set(user.token, user),
    removeUser: (userToken) => void users.delete(userToken),
    addServiceAccount: (namespace, name, allow) => {
      const saToken = serviceAccountToken(namespace, name);
      const user: FakeUser = { name: `system:serviceaccount:${namespace}:${name}`, token: saToken };
      if (allow !== undefined) user.allow = allow;
      users.set(saToken, user);
      return saToken;
    },
    writeServiceAccountDir: ({ namespace, token: saToken, directory: target }) => {
      const saDirectory = writeServiceAccountDir(target ?? path.join(directory, `serviceaccount-${crypto.randomUUID()}`), {
        token: saToken,
        caPem: pki.caPem,
        namespace,
      });
      return {
        directory: saDirectory,
        env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(port), CPA_SERVICE_ACCOUNT_DIR: saDirectory },
      };
    },
    writeKubeconfig: kubeconfigFor,
    fail: (rule) => faults.add(rule),
    clearFaults: () => faults.clear(),
    clearRequests: () => void requests.splice(0),
    waitForRequest: async (predicate, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // A request is recorded before its response is sent, so a match may still be in progress.
        const found = requests.find(predicate);
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`no matching request reached the fake API server within ${timeoutMs} ms`);
        await Bun.sleep(20);
      }
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      faults.clear();
      for (const response of hanging) response.socket?.destroy();
      hanging.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
