/**
 * In-cluster credentials: the API server address from the environment that the kubelet sets, and
 * the service-account token, CA and namespace files mounted into the pod.
 */

import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeConfigError } from "./errors.ts";
import { resolveRequestOptions, type KubeRequestOptions } from "./request-options.ts";
import type { KubeConnection } from "./credentials.ts";

/** Directory where the kubelet mounts the service-account token, CA and namespace. */
export const DEFAULT_SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * The token file, read again whenever its modification time, inode or size changes. The kubelet
 * rotates the token by swapping a symlink, so every rotation shows up in `stat`.
 *
 * client-node 2.0.1 keeps a token file's content for 60 s (`FileAuth`) and does not trim the
 * trailing newline, so this reader is used in its place.
 */
export class TokenFile {
  readonly path: string;
  private token = "";
  private version = "";

  constructor(filePath: string) {
    this.path = filePath;
  }

  /** Returns the current token. Throws `KubeConfigError` when the file is missing, unreadable or empty. */
  read(): string {
    let version: string;
    try {
      const stat = fs.statSync(this.path, { bigint: true });
      version = `${stat.mtimeNs}:${stat.ino}:${stat.size}`;
      if (version === this.version) return this.token;
      const token = fs.readFileSync(this.path, "utf8").trim();
      if (token === "") throw new Error("the file is empty");
      this.token = token;
      this.version = version;
      return token;
    } catch (error) {
      throw new KubeConfigError(`failed to read the service-account token ${this.path}: ${describeFsError(error)}`, {
        cause: error,
      });
    }
  }
}

function describeFsError(error: unknown): string {
  if (error instanceof Error && "code" in error && typeof error.code === "string") return error.code;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Names the service account a token belongs to, from the `sub` claim
 * (`system:serviceaccount:NAMESPACE:NAME`) of its JWT payload. The signature is not checked,
 * because the name is only used in error messages. Returns undefined when the token is no such JWT.
 */
export function serviceAccountOfToken(token: string): string | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    if (typeof claims !== "object" || claims === null || !("sub" in claims) || typeof claims.sub !== "string") {
      return undefined;
    }
    const match = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub);
    return match ? `serviceaccount ${match[1]}/${match[2]}` : undefined;
  } catch {
    return undefined;
  }
}

/** Builds the API server URL from `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`. */
function serverFromEnv(host: string, port: string): string {
  const hostPart = net.isIPv6(host) ? `[${host}]` : host;
  return `https://${hostPart}:${port}`;
}

/**
 * Loads in-cluster credentials. The CA file is read on every request through `KubeConfig`, and the
 * token through `TokenFile`, so both may rotate while the agent runs.
 */
export function loadServiceAccountConnection(
  directory: string,
  env: Readonly<Record<string, string | undefined>>,
): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new KubeConfigError(
      "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set to use the in-cluster service account",
    );
  }
  const server = serverFromEnv(host, port);
  const tokenFile = new TokenFile(path.join(directory, "token"));
  tokenFile.read();
  const caPath = path.join(directory, "ca.crt");
  if (!fs.existsSync(caPath)) {
    throw new KubeConfigError(`the service-account CA file ${caPath} does not exist`);
  }
  const namespacePath = path.join(directory, "namespace");
  const namespace = fs.existsSync(namespacePath) ? fs.readFileSync(namespacePath, "utf8").trim() || undefined : undefined;

  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromClusterAndUser(
    { name: "in-cluster", server, caFile: caPath, skipTLSVerify: false },
    { name: "in-cluster" },
  );

  return {
    server,
    namespace,
    source: `in-cluster service account in ${directory}`,
    async requestOptions(): Promise<KubeRequestOptions> {
      const options = await resolveRequestOptions(kubeConfig);
      options.headers.Authorization = `Bearer ${tokenFile.read()}`;
      return options;
    },
    describeUser(): string {
      let token: string;
      try {
        token = tokenFile.read();
      } catch {
        return `the service account whose token is ${tokenFile.path}`;
      }
      return serviceAccountOfToken(token) ?? `the service account whose token is ${tokenFile.path}`;
    },
  };
}
