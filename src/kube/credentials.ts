/**
 * Finds the Kubernetes API server and the credentials to use with it: a kubeconfig file outside a
 * cluster, the pod's service account inside one.
 */

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeConfigError } from "./errors.ts";
import { resolveRequestOptions, type KubeRequestOptions } from "./request-options.ts";
import { DEFAULT_SERVICE_ACCOUNT_DIR, loadServiceAccountConnection } from "./service-account.ts";

export type { KubeRequestOptions, KubeTlsOptions } from "./request-options.ts";
export { DEFAULT_SERVICE_ACCOUNT_DIR } from "./service-account.ts";

/** An API server address plus a way to authenticate each request to it. */
export interface KubeConnection {
  /** Base URL of the API server, without a trailing slash, such as `https://10.0.0.1:443`. */
  readonly server: string;
  /** Namespace of the kubeconfig context or of the pod's service account, when one is set. */
  readonly namespace: string | undefined;
  /** Origin of the credentials for a start-up log line, such as `kubeconfig /root/.kube/config, context kind`. */
  readonly source: string;
  /**
   * Resolves headers and TLS settings for one request. Call it per request: exec plugins, token
   * files and certificate files may change while the agent runs.
   */
  requestOptions(): Promise<KubeRequestOptions>;
  /** Names the identity for error messages, such as `serviceaccount apps/autoscaler` or `user admin`, and never a token. */
  describeUser(): string;
}

/** Places to look for credentials. Every field is optional. */
export interface KubeConnectionOptions {
  /** Kubeconfig file to use. It takes precedence over `KUBECONFIG` and `~/.kube/config`. */
  kubeconfigPath?: string;
  /** Kubeconfig context to use in place of `current-context`. */
  context?: string;
  /** Service-account directory. Defaults to env `CPA_SERVICE_ACCOUNT_DIR`, then the kubelet's mount path. */
  serviceAccountDir?: string;
  /** Environment to read. Defaults to `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Home directory that contains `.kube/config`. Defaults to env `HOME`, then `os.homedir()`. */
  homeDir?: string;
}

/**
 * Loads the first credentials found, in this order: `kubeconfigPath`, the files in `KUBECONFIG`,
 * the in-cluster service account when `KUBERNETES_SERVICE_HOST` is set, then `~/.kube/config`.
 * In a pod the service account wins over a kubeconfig file that the image happens to contain.
 * Throws `KubeConfigError` when none is found or the chosen one is unusable.
 */
export function loadKubeConnection(options: KubeConnectionOptions = {}): KubeConnection {
  const env = options.env ?? process.env;

  if (options.kubeconfigPath !== undefined) {
    if (!fs.existsSync(options.kubeconfigPath)) {
      throw new KubeConfigError(`the kubeconfig file ${options.kubeconfigPath} does not exist`);
    }
    return loadKubeconfigConnection([options.kubeconfigPath], options.context);
  }

  const kubeconfigEnv = env.KUBECONFIG;
  if (kubeconfigEnv) {
    const listed = kubeconfigEnv.split(path.delimiter).filter((file) => file !== "");
    // Missing files in the list are skipped, as kubectl does.
    const existing = listed.filter((file) => fs.existsSync(file));
    if (existing.length === 0) {
      throw new KubeConfigError(`none of the files in KUBECONFIG exists: ${listed.join(", ")}`);
    }
    return loadKubeconfigConnection(existing, options.context);
  }

  if (env.KUBERNETES_SERVICE_HOST) {
    const directory = options.serviceAccountDir ?? (env.CPA_SERVICE_ACCOUNT_DIR || DEFAULT_SERVICE_ACCOUNT_DIR);
    return loadServiceAccountConnection(directory, env);
  }

  const home = options.homeDir ?? (env.HOME || os.homedir());
  const homeConfig = path.join(home, ".kube", "config");
  if (fs.existsSync(homeConfig)) {
    return loadKubeconfigConnection([homeConfig], options.context);
  }

  throw new KubeConfigError(
    `no Kubernetes credentials found: KUBECONFIG is not set, ${homeConfig} does not exist and ` +
      "KUBERNETES_SERVICE_HOST is not set (the agent is not running in a pod); " +
      "pass a kubeconfig file or run the agent in a pod with a service account",
  );
}

/**
 * Reads kubeconfig files and merges them. A cluster, user or context name defined in two files
 * raises an error (client-node 2.0.1 `mergeConfig`), where kubectl keeps the first definition.
 */
function readKubeconfigFiles(files: readonly string[]): KubeConfig {
  const merged = new KubeConfig();
  files.forEach((file, index) => {
    try {
      if (index === 0) {
        merged.loadFromFile(file);
        return;
      }
      const next = new KubeConfig();
      next.loadFromFile(file);
      // The first file that sets current-context wins, as in kubectl.
      merged.mergeConfig(next, Boolean(merged.getCurrentContext()));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new KubeConfigError(`invalid kubeconfig ${file}: ${reason}`, { cause: error });
    }
  });
  return merged;
}

function loadKubeconfigConnection(files: readonly string[], contextOverride: string | undefined): KubeConnection {
  const kubeConfig = readKubeconfigFiles(files);
  const label = `kubeconfig ${files.join(path.delimiter)}`;

  const contextName = contextOverride ?? kubeConfig.getCurrentContext();
  if (!contextName) {
    throw new KubeConfigError(`${label} sets no current-context; choose one with "kubectl config use-context NAME"`);
  }
  const context = kubeConfig.getContextObject(contextName);
  if (!context) {
    const known = kubeConfig.getContexts().map((entry) => entry.name);
    throw new KubeConfigError(`${label} has no context "${contextName}" (contexts: ${known.join(", ") || "none"})`);
  }
  kubeConfig.setCurrentContext(contextName);

  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) {
    throw new KubeConfigError(`${label}: context "${contextName}" names cluster "${context.cluster}", which is not defined`);
  }
  const server = validateServer(cluster.server, cluster.skipTLSVerify, label);
  const proxy = validateProxy(cluster.proxyUrl, label);

  // NOTE: client-node 2.0.1 reads a kubeconfig user's `token-file` once, here at load time, so a
  // rotated file takes effect only after a restart. The in-cluster token is re-read (TokenFile).
  const user = kubeConfig.getCurrentUser();
  const userDescription = user ? `user ${user.name}` : `anonymous user (context ${contextName} names no defined user)`;

  return {
    server,
    namespace: context.namespace || undefined,
    source: `${label}, context ${contextName}`,
    async requestOptions(): Promise<KubeRequestOptions> {
      try {
        return await resolveRequestOptions(kubeConfig, proxy);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new KubeConfigError(`failed to load the credentials of ${userDescription} from ${label}: ${reason}`, {
          cause: error,
        });
      }
    },
    describeUser: () => userDescription,
  };
}

function validateServer(server: string, skipTLSVerify: boolean, label: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new KubeConfigError(`${label}: cluster server "${server}" is not a valid URL`);
  }
  if (url.protocol === "http:" && !skipTLSVerify) {
    // client-node 2.0.1 rejects plain HTTP unless TLS verification is switched off, and its
    // `applyToHTTPSOptions` raises at request time, so the same rule is checked here at load time.
    throw new KubeConfigError(
      `${label}: cluster server ${server} uses plain HTTP, which is accepted only with insecure-skip-tls-verify: true`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new KubeConfigError(`${label}: cluster server ${server} must start with https://`);
  }
  return server.replace(/\/+$/, "");
}

function validateProxy(proxyUrl: string | undefined, label: string): string | undefined {
  if (!proxyUrl) return undefined;
  if (!/^https?:\/\//.test(proxyUrl)) {
    throw new KubeConfigError(`${label}: proxy-url ${proxyUrl} is not supported; only http:// and https:// proxies are`);
  }
  return proxyUrl;
}
