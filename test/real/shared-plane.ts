/**
 * One real control plane (etcd, kube-apiserver, kube-controller-manager on loopback ports) shared by
 * every test file of a `bun test` run, which runs all its files in one process. The plane starts on
 * the first call to sharedControlPlane() and stops when the process ends.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlaneStartError, startControlPlane, type ControlPlane } from "../controlplane/harness.ts";
import type { AgentProcess } from "../e2e/agent-process.ts";

export type { ControlPlane } from "../controlplane/harness.ts";

/** Time allowed for the control plane to start: twice the harness default, for machines under load. */
const START_TIMEOUT_MS = 120_000;
/** Time allowed for the `default` ServiceAccount to appear in a new namespace. */
const SERVICE_ACCOUNT_TIMEOUT_MS = 60_000;

let started: Promise<ControlPlane> | undefined;
let namespaceCount = 0;

/**
 * Returns the control plane of this test process, starting it on the first call. A failed start is
 * not retried: every later call rejects with the same error, which for a process that failed names
 * the process and ends with the tail of its log.
 */
export function sharedControlPlane(): Promise<ControlPlane> {
  started ??= startShared();
  return started;
}

async function startShared(): Promise<ControlPlane> {
  let plane: ControlPlane;
  try {
    plane = await startControlPlane({ startTimeoutMs: START_TIMEOUT_MS });
  } catch (error) {
    if (error instanceof ControlPlaneStartError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`failed to start the shared control plane: ${reason}`, { cause: error });
  }
  registerStop(plane);
  console.error(`shared control plane ready at ${plane.server} in ${plane.timings.total.toFixed(0)} ms (logs in ${plane.dir})`);
  return plane;
}

/**
 * Stops the plane when the process ends. Work scheduled in a beforeExit listener keeps the process
 * alive, so stop() is awaited there. The harness itself kills the process groups from an exit
 * listener and from a watchdog shell that notices when this process is gone.
 * NOTE: bun test 1.4.5 emits neither beforeExit nor exit, so under it the harness's watchdog stops the
 * plane: SIGTERM to each process group within about 1 s after the run, SIGKILL 5 s later.
 */
function registerStop(plane: ControlPlane): void {
  process.once("beforeExit", () => {
    void plane.stop();
  });
}

/** Reports whether the running kube-apiserver has the ServiceAccount admission plugin on, read from its command line. */
function serviceAccountAdmissionEnabled(plane: ControlPlane): boolean {
  const pid = plane.pids.apiServer;
  if (pid === undefined) return true;
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    // Without the command line, waiting is the safe choice: it only costs time when nothing creates the account.
    return true;
  }
  // A later flag overrides an earlier one, as kube-apiserver parses them.
  const disabled = args.filter((arg) => arg.startsWith("--disable-admission-plugins=")).pop();
  const plugins = disabled?.slice("--disable-admission-plugins=".length).split(",") ?? [];
  return !plugins.includes("ServiceAccount");
}

/**
 * Creates a namespace named `<prefix>-<n>-<random>` and returns its name. When the apiserver runs the
 * ServiceAccount admission plugin, pods need the namespace's `default` ServiceAccount, so the call
 * also waits for it.
 */
export async function freshNamespace(plane: ControlPlane, prefix: string): Promise<string> {
  namespaceCount += 1;
  // A namespace name is a DNS label: at most 63 lowercase letters, digits and hyphens.
  const name = `${prefix.toLowerCase().slice(0, 40)}-${namespaceCount}-${randomBytes(3).toString("hex")}`;
  const created = await plane.request("POST", "/api/v1/namespaces", {
    body: { apiVersion: "v1", kind: "Namespace", metadata: { name } },
  });
  if (created.status !== 201) {
    throw new Error(`creating namespace ${name} returned HTTP ${created.status}: ${created.text.slice(0, 500)}`);
  }

  if (serviceAccountAdmissionEnabled(plane)) {
    await eventually(
      `ServiceAccount ${name}/default (created by the serviceaccount controller of kube-controller-manager)`,
      async () => ((await plane.request("GET", `/api/v1/namespaces/${name}/serviceaccounts/default`)).status === 200 ? true : undefined),
      { timeoutMs: SERVICE_ACCOUNT_TIMEOUT_MS },
    );
  }
  return name;
}

export interface EventuallyOptions {
  /** Defaults to 60 000 ms. */
  timeoutMs?: number;
  /** Describes the current state for the timeout message, such as the last log lines. */
  describe?: () => Promise<string>;
  /** Returns why waiting is pointless (for example, the agent exited), which ends the wait at once. */
  giveUpReason?: () => string | undefined;
}

/**
 * Polls `check` every 200 ms until it returns a value other than undefined and returns that value.
 * Throws with `what` after the timeout or when `giveUpReason` returns a reason.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, options: EventuallyOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
      lastError = "";
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    const giveUp = options.giveUpReason?.();
    if (giveUp !== undefined || Date.now() > deadline) {
      const state = options.describe === undefined ? "" : `; last state: ${await options.describe().catch((error: unknown) => String(error))}`;
      const failure = lastError === "" ? "" : `; last error: ${lastError}`;
      const cause = giveUp === undefined ? `timed out after ${timeoutMs} ms` : `stopped (${giveUp})`;
      throw new Error(`${cause} waiting for ${what}${state}${failure}`);
    }
    await Bun.sleep(200);
  }
}

/** Sends a request as the admin user and returns the JSON body, throwing unless the status is 2xx. */
export async function getJson<T>(plane: ControlPlane, path: string): Promise<T> {
  const response = await plane.request("GET", path);
  if (response.status < 200 || response.status > 299) {
    throw new Error(`GET ${path} returned HTTP ${response.status}: ${response.text.slice(0, 500)}`);
  }
  return response.body as T;
}

export interface PodSummary {
  readonly name: string;
  readonly uid: string;
  readonly phase: string;
  readonly terminating: boolean;
}

/** Lists the pods of `namespace` that match `labelSelector`. */
export async function listPods(plane: ControlPlane, namespace: string, labelSelector: string): Promise<PodSummary[]> {
  const list = await getJson<{
    items: { metadata: { name: string; uid: string; deletionTimestamp?: string }; status?: { phase?: string } }[];
  }>(plane, `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(labelSelector)}`);
  return list.items.map((pod) => ({
    name: pod.metadata.name,
    uid: pod.metadata.uid,
    phase: pod.status?.phase ?? "",
    terminating: pod.metadata.deletionTimestamp !== undefined,
  }));
}

/** Reads `spec.replicas` of an object through its /scale subresource, for example `apis/apps/v1/namespaces/ns/deployments/web`. */
export async function scaleReplicas(plane: ControlPlane, objectPath: string): Promise<number> {
  const scale = await getJson<{ spec?: { replicas?: number } }>(plane, `/${objectPath}/scale`);
  return scale.spec?.replicas ?? 0;
}

/**
 * Returns wait options that end the wait when the agent process has exited, and that put the agent's
 * last log lines into the timeout message.
 */
export function watchAgent(agent: AgentProcess, lineCount = 8): Pick<EventuallyOptions, "describe" | "giveUpReason"> {
  return {
    describe: async () => {
      const lines = [...agent.logs.slice(-lineCount).map((line) => JSON.stringify(line)), ...agent.otherOutput.slice(-3)];
      return `agent log:\n${lines.join("\n")}`;
    },
    giveUpReason: () => (agent.process.exitCode === null ? undefined : `the agent exited with code ${agent.process.exitCode}`),
  };
}

/** Joins the state descriptions of a wait and of its caller's options. */
function describeBoth(own: () => Promise<string>, other: EventuallyOptions["describe"]): () => Promise<string> {
  return async () => (other === undefined ? own() : `${await own()}; ${await other()}`);
}

/** Waits until the /scale `spec.replicas` of `objectPath` equals `replicas`. */
export async function waitForReplicas(plane: ControlPlane, objectPath: string, replicas: number, options: EventuallyOptions = {}): Promise<void> {
  await eventually(
    `${objectPath} to have ${replicas} replicas`,
    async () => ((await scaleReplicas(plane, objectPath)) === replicas ? true : undefined),
    { ...options, describe: describeBoth(async () => `spec.replicas ${await scaleReplicas(plane, objectPath)}`, options.describe) },
  );
}

/** Waits until exactly `count` pods that are not terminating match `labelSelector` in `namespace`. */
export async function waitForPodCount(
  plane: ControlPlane,
  namespace: string,
  labelSelector: string,
  count: number,
  options: EventuallyOptions = {},
): Promise<PodSummary[]> {
  const live = async () => (await listPods(plane, namespace, labelSelector)).filter((pod) => !pod.terminating);
  return eventually(
    `${count} pods with ${labelSelector} in namespace ${namespace}`,
    async () => {
      const pods = await live();
      return pods.length === count ? pods : undefined;
    },
    { ...options, describe: describeBoth(async () => `pods ${(await live()).map((pod) => pod.name).join(", ") || "(none)"}`, options.describe) },
  );
}

/** One rule of an RBAC Role. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/**
 * Rules of the Role that the Custom Pod Autoscaler operator creates for each CustomPodAutoscaler by
 * default: every verb on pods and on the built-in scalable workloads with their /scale subresources.
 */
export const OPERATOR_ROLE_RULES: readonly PolicyRule[] = [
  { apiGroups: [""], resources: ["pods", "replicationcontrollers", "replicationcontrollers/scale"], verbs: ["*"] },
  {
    apiGroups: ["apps"],
    resources: ["deployments", "deployments/scale", "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"],
    verbs: ["*"],
  },
];

/** Applies Role `name` with `rules` in `namespace`, replacing the rules of an existing Role. */
export async function applyRole(
  plane: ControlPlane,
  namespace: string,
  name: string,
  rules: readonly PolicyRule[],
): Promise<void> {
  const role = { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name, namespace }, rules };
  await plane.kubectl(["apply", "-f", "-"], { input: JSON.stringify(role) });
}

/** Applies RoleBinding `name` in `namespace` that binds Role `name` to the listed ServiceAccounts of that namespace. */
export async function bindRole(plane: ControlPlane, namespace: string, name: string, serviceAccounts: readonly string[]): Promise<void> {
  const binding = {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name, namespace },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
    subjects: serviceAccounts.map((account) => ({ kind: "ServiceAccount", name: account, namespace })),
  };
  await plane.kubectl(["apply", "-f", "-"], { input: JSON.stringify(binding) });
}

/**
 * Writes the files that the kubelet mounts into a pod for its ServiceAccount (token, ca.crt and
 * namespace) into a new temporary directory, and returns the directory and the environment that
 * makes the agent use them. HOME points at an empty directory so that no ~/.kube/config is found first.
 *
 * The layout is that of the kubelet's projected volumes: the files live in a timestamped directory,
 * `..data` is a symlink to it, and `token`, `ca.crt` and `namespace` are symlinks into `..data`.
 */
export function inClusterFiles(plane: ControlPlane, namespace: string, token: string): { directory: string; env: Record<string, string> } {
  const root = mkdtempSync(join(tmpdir(), "cpa-real-in-cluster-"));
  const directory = join(root, "serviceaccount");
  mkdirSync(directory);
  writeVolumeVersion(directory, { token, "ca.crt": plane.caPem, namespace });
  for (const name of ["token", "ca.crt", "namespace"]) symlinkSync(join("..data", name), join(directory, name));
  const home = join(root, "home");
  mkdirSync(home);
  const server = new URL(plane.server);
  return {
    directory,
    env: {
      KUBERNETES_SERVICE_HOST: server.hostname,
      KUBERNETES_SERVICE_PORT: server.port,
      CPA_SERVICE_ACCOUNT_DIR: directory,
      HOME: home,
    },
  };
}

let volumeVersion = 0;

/**
 * Writes `files` into a new timestamped directory in `directory` and points `..data` at it with one
 * rename, as the kubelet updates a projected volume, then removes the directory it replaced.
 */
function writeVolumeVersion(directory: string, files: Record<string, string>): void {
  volumeVersion += 1;
  const version = `..${new Date().toISOString().replace(/[-:.]/g, "_")}_${volumeVersion}`;
  mkdirSync(join(directory, version));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(directory, version, name), content, { mode: 0o600 });

  const dataLink = join(directory, "..data");
  const previous = existsSync(dataLink) ? readlinkSync(dataLink) : undefined;
  const staged = join(directory, "..data_tmp");
  symlinkSync(version, staged);
  renameSync(staged, dataLink);
  if (previous !== undefined) rmSync(join(directory, previous), { recursive: true, force: true });
}

/** Replaces the token in a directory written by inClusterFiles, keeping its CA and namespace, as the kubelet rotates a token. */
export function replaceToken(directory: string, token: string): void {
  const current = (name: string) => readFileSync(join(directory, name), "utf8");
  writeVolumeVersion(directory, { token, "ca.crt": current("ca.crt"), namespace: current("namespace") });
}

/**
 * Waits until the RBAC authorizer allows ServiceAccount `account` to `verb` on `resource` in
 * `namespace`, as `kubectl auth can-i` reports it. New Roles and RoleBindings reach the authorizer
 * through a watch, so a request right after creating them may still be forbidden.
 */
export async function waitUntilAllowed(
  plane: ControlPlane,
  namespace: string,
  account: string,
  verb: string,
  resource: string,
  subresource?: string,
): Promise<void> {
  const args = ["auth", "can-i", verb, resource, "-n", namespace, `--as=system:serviceaccount:${namespace}:${account}`];
  if (subresource !== undefined) args.push(`--subresource=${subresource}`);
  await eventually(`serviceaccount ${namespace}/${account} to be allowed to ${verb} ${resource}${subresource === undefined ? "" : `/${subresource}`}`, async () => {
    const result = await plane.kubectl(args, { allowFailure: true });
    return result.stdout.trim() === "yes" ? true : undefined;
  });
}
