/**
 * Public types of the fake Kubernetes API server.
 */

import type { FaultHandle, FaultRule } from "./faults.ts";
import type { CustomKindOptions } from "./kinds.ts";
import type { KubeconfigOptions } from "./kubeconfig.ts";
import type { FakePki } from "./pki.ts";
import type { RequestAttributes } from "./status.ts";
import type { StoredObject } from "./store.ts";

/** Options of `startFakeKube`. With neither `clientCert` nor `token`, every request is served as `system:anonymous`. */
export interface FakeKubeOptions {
  /** Accept the test client certificate (CN `fake-admin`) as user `fake-admin`. */
  clientCert?: boolean;
  /** Accept this bearer token as user `fake-admin`; `true` makes a random one. */
  token?: string | boolean;
  /** Serve unauthenticated requests as `system:anonymous`. Default: true only without `clientCert` and `token`. */
  anonymous?: boolean;
  /** Credential the written kubeconfig uses. Default: `cert` when `clientCert` is set, else `token`. */
  kubeconfigUser?: "cert" | "token";
  /** Namespace of the kubeconfig context. */
  namespace?: string;
}

/** One request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** Path with query string. */
  path: string;
  pathname: string;
  query: Record<string, string>;
  /** The Content-Type header as sent, with parameters. */
  contentType: string | undefined;
  body: string;
  /** The Authorization header as sent; test credentials only. */
  authorization: string | undefined;
  /** Whether a client certificate signed by the test CA was presented. */
  clientCertificate: boolean;
  /** Authenticated user, undefined when authentication failed. */
  user: string | undefined;
  /** Response status, undefined for dropped, hanging and still running requests. */
  status: number | undefined;
}

/** Names an object in the fake; `namespace` defaults to `default`. */
export interface FakeObjectRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** A user that authenticates with a bearer token. */
export interface FakeUser {
  name: string;
  token: string;
  /** RBAC stand-in; every request is allowed when omitted. */
  allow?: (attributes: RequestAttributes) => boolean;
}

export interface FakeKube {
  /** `https://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  readonly caPem: string;
  readonly clientCertPem: string | undefined;
  readonly clientKeyPem: string | undefined;
  readonly token: string | undefined;
  /** A kubeconfig for this server in the fake's temporary directory; give it to a child process as `KUBECONFIG`. */
  readonly kubeconfigPath: string;
  /** Temporary directory removed by `stop()`. */
  readonly directory: string;
  readonly pki: FakePki;
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[];

  registerKind(options: CustomKindOptions): void;
  /** Stores a copy of an object; see `ObjectStore.put` for the fields filled in. */
  addObject(object: StoredObject): StoredObject;
  /** Returns a copy of a stored object, or undefined. */
  getObject(ref: FakeObjectRef): StoredObject | undefined;
  deleteObject(ref: FakeObjectRef): boolean;
  /** Sets the replica field that the kind's `/scale` maps to. */
  setReplicas(ref: FakeObjectRef, replicas: number): void;
  /** Reads the replica field that the kind's `/scale` maps to. */
  replicasOf(ref: FakeObjectRef): number | undefined;
  /** Sets a field by dotted path, such as `.status.replicas`. */
  setField(ref: FakeObjectRef, dottedPath: string, value: unknown): void;
  /** Sets a label, or removes it when `value` is undefined. */
  setLabel(ref: FakeObjectRef, key: string, value: string | undefined): void;
  addUser(user: FakeUser): void;
  removeUser(token: string): void;
  /** Makes a service-account token for `system:serviceaccount:NAMESPACE:NAME` and registers it. */
  addServiceAccount(namespace: string, name: string, allow?: FakeUser["allow"]): string;
  /**
   * Writes a service-account directory (token, ca.crt, namespace) and returns it with the
   * environment that makes the agent use it.
   */
  writeServiceAccountDir(options: { namespace: string; token: string; directory?: string }): {
    directory: string;
    env: Record<string, string>;
  };
  /** Writes a kubeconfig for this server; options default to the server URL and the test CA. */
  writeKubeconfig(fileName: string, options?: Partial<KubeconfigOptions>): string;
  /** Adds a fault for matching requests; see `FaultRule`. */
  fail(rule: FaultRule): FaultHandle;
  clearFaults(): void;
  clearRequests(): void;
  /**
   * Resolves with the first recorded request, past or future, that matches `predicate`; rejects
   * after `timeoutMs` (default 10000). Meant for tests that drive the agent as a child process.
   */
  waitForRequest(predicate: (request: RecordedRequest) => boolean, timeoutMs?: number): Promise<RecordedRequest>;
  /** Closes every connection, sends no more responses, and removes the temporary directory. */
  stop(): Promise<void>;
}
