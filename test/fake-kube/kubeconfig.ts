/**
 * Writers for the files through which a client finds an API server: kubeconfig files and
 * service-account directories.
 */

import fs from "node:fs";
import path from "node:path";
import { stringify } from "yaml";

/** Credentials of the kubeconfig user; an empty object means an anonymous user. */
export interface KubeconfigUser {
  token?: string;
  /** Path of a file holding the token (`tokenFile`). */
  tokenFile?: string;
  clientCertPem?: string;
  clientKeyPem?: string;
  /** An exec credential plugin: the command prints an ExecCredential JSON document. */
  exec?: { command: string; args?: string[]; env?: { name: string; value: string }[] };
  username?: string;
  password?: string;
}

export interface KubeconfigOptions {
  server: string;
  /** PEM of the CA; omitted means the system trust store. */
  caPem?: string;
  /** Path of a CA file, written as `certificate-authority`. */
  caFile?: string;
  user?: KubeconfigUser;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  namespace?: string;
  /** Default `fake`. */
  contextName?: string;
  /** Default `fake-admin`. */
  userName?: string;
  /** Leave `current-context` unset. */
  noCurrentContext?: boolean;
}

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** Returns the YAML of a kubeconfig with one cluster, one user and one context. */
export function kubeconfigYaml(options: KubeconfigOptions): string {
  const contextName = options.contextName ?? "fake";
  const userName = options.userName ?? "fake-admin";

  const cluster: Record<string, unknown> = { server: options.server };
  if (options.caPem !== undefined) cluster["certificate-authority-data"] = base64(options.caPem);
  if (options.caFile !== undefined) cluster["certificate-authority"] = options.caFile;
  if (options.insecureSkipTlsVerify) cluster["insecure-skip-tls-verify"] = true;
  if (options.tlsServerName !== undefined) cluster["tls-server-name"] = options.tlsServerName;

  const credentials = options.user ?? {};
  const user: Record<string, unknown> = {};
  if (credentials.token !== undefined) user.token = credentials.token;
  if (credentials.tokenFile !== undefined) user["token-file"] = credentials.tokenFile;
  if (credentials.clientCertPem !== undefined) user["client-certificate-data"] = base64(credentials.clientCertPem);
  if (credentials.clientKeyPem !== undefined) user["client-key-data"] = base64(credentials.clientKeyPem);
  if (credentials.username !== undefined) user.username = credentials.username;
  if (credentials.password !== undefined) user.password = credentials.password;
  if (credentials.exec !== undefined) {
    user.exec = { apiVersion: "client.authentication.k8s.io/v1", interactiveMode: "Never", ...credentials.exec };
  }

  const context: Record<string, unknown> = { cluster: "fake", user: userName };
  if (options.namespace !== undefined) context.namespace = options.namespace;

  const document: Record<string, unknown> = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "fake", cluster }],
    users: [{ name: userName, user }],
    contexts: [{ name: contextName, context }],
  };
  if (!options.noCurrentContext) document["current-context"] = contextName;
  return stringify(document);
}

/** Writes a kubeconfig file (mode 0600) and returns its path. */
export function writeKubeconfig(filePath: string, options: KubeconfigOptions): string {
  fs.mkdirSync(path.dirname(filePath), { recursive: true });
  fs.writeFileSync(filePath, kubeconfigYaml(options), { mode: 0o600 });
  return filePath;
}

/**
 * Returns a token shaped like a service-account JWT, with `sub` set to
 * `system:serviceaccount:NAMESPACE:NAME`. Its signature is random bytes; only the fake accepts it.
 */
export function serviceAccountToken(namespace: string, name: string): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = encode({ alg: "RS256", kid: "fake" });
  const payload = encode({
    iss: "https://kubernetes.default.svc",
    sub: `system:serviceaccount:${namespace}:${name}`,
    "kubernetes.io": { namespace, serviceaccount: { name } },
  });
  return `${header}.${payload}.${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url")}`;
}

/** Writes `token`, `ca.crt` and `namespace` into `directory`, as the kubelet mounts them. */
export function writeServiceAccountDir(directory: string, files: { token: string; caPem: string; namespace: string }): string {
  fs.mkdirSync(directory, { recursive: true });
  fs.writeFileSync(path.join(directory, "token"), files.token, { mode: 0o600 });
  fs.writeFileSync(path.join(directory, "ca.crt"), files.caPem);
  fs.writeFileSync(path.join(directory, "namespace"), files.namespace);
  return directory;
}
