/**
 * Public surface of the Kubernetes client: credentials, the typed client and its errors.
 */

export {
  DEFAULT_SERVICE_ACCOUNT_DIR,
  loadKubeConnection,
  type KubeConnection,
  type KubeConnectionOptions,
  type KubeRequestOptions,
  type KubeTlsOptions,
} from "./credentials.ts";
export {
  DEFAULT_FIELD_MANAGER,
  DEFAULT_TIMEOUT_MS,
  KubeClient,
  type CallOptions,
  type KubeClientOptions,
  type KubeObject,
  type ObjectRef,
  type Scale,
} from "./client.ts";
export type { ResourceInfo } from "./discovery.ts";
export {
  KubeApiError,
  KubeConfigError,
  isConflict,
  isForbidden,
  isNotFound,
  isTimeout,
  type KubeFailure,
} from "./errors.ts";
export type { KubeRequest, RequestPurpose } from "./http.ts";
