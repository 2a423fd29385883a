/**
 * Conversion of the Node-style HTTPS options that `KubeConfig.applyToHTTPSOptions` fills into the
 * headers and `tls` options that Bun `fetch` takes.
 */

import type https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

/** TLS settings for one request, in the shape of Bun `fetch`'s `tls` option. */
export interface KubeTlsOptions {
  /** PEM of the CA bundle that signs the API server certificate. When absent, the system trust store is used. */
  ca?: string;
  /** PEM client certificate for mutual TLS. */
  cert?: string;
  /** PEM private key of `cert`. */
  key?: string;
  /** False only for `insecure-skip-tls-verify: true`. */
  rejectUnauthorized?: boolean;
  /** Name checked against the server certificate in place of the URL host (`tls-server-name`). */
  serverName?: string;
}

/** Everything a request to the API server needs besides method, path and body. */
export interface KubeRequestOptions {
  /** Authorization and impersonation headers. */
  headers: Record<string, string>;
  tls: KubeTlsOptions;
  /** HTTP(S) proxy URL from the kubeconfig `proxy-url`. */
  proxy?: string;
}

type PemSource = string | Buffer | ReadonlyArray<string | Buffer> | undefined;

function pemText(source: PemSource): string | undefined {
  if (source === undefined) return undefined;
  if (typeof source === "string") return source;
  if (Buffer.isBuffer(source)) return source.toString("utf8");
  return source.map((part) => (typeof part === "string" ? part : part.toString("utf8"))).join("\n");
}

function headerText(value: string | number | readonly string[] | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return value.join(", ");
}

/**
 * Resolves the credentials of the current context through client-node's `KubeConfig`, which runs
 * exec plugins and auth providers and reads certificate and CA files on each call.
 * The agent that `applyToHTTPSOptions` also creates is not used.
 */
export async function resolveRequestOptions(kubeConfig: KubeConfig, proxy?: string): Promise<KubeRequestOptions> {
  const options: https.RequestOptions = { headers: {} };
  await kubeConfig.applyToHTTPSOptions(options);

  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const text = headerText(value);
    if (text !== undefined) headers[name] = text;
  }
  // A kubeconfig user with username and password arrives as `auth`. A bearer token takes precedence.
  if (options.auth && headers.Authorization === undefined) {
    headers.Authorization = `Basic ${Buffer.from(options.auth).toString("base64")}`;
  }

  const tls: KubeTlsOptions = {};
  const ca = pemText(options.ca as PemSource);
  const cert = pemText(options.cert as PemSource);
  const key = pemText(options.key as PemSource);
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if (options.rejectUnauthorized === false) tls.rejectUnauthorized = false;
  if (options.servername) tls.serverName = options.servername;

  return proxy === undefined ? { headers, tls } : { headers, tls, proxy };
}
