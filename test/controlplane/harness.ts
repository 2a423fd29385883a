// Starts and stops a real Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager)
// on loopback ports for end-to-end tests, with kubectl and an admin client certificate to drive it.
//
// The binaries come from scripts/build-control-plane.sh, or from the directory named by the
// CPA_CONTROL_PLANE_BIN environment variable. Every process runs in its own process group and logs to
// a file in a fresh temporary directory. stop() ends the processes. So do the exit and signal handlers
// registered here, and a watchdog shell when the test runner is killed with SIGKILL.

import { existsSync, mkdtempSync, rmSync, writeFileSync, accessSync, constants as fsConstants } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";

import {
  type FakeKubelet,
  type FakeKubeletOptions,
  type MakePodsReadyOptions,
  deleteTerminatingPods,
  makePodsReady,
  startFakeKubelet,
} from "./fake-kubelet.ts";
import { type ApiRequestOptions, type ApiResponse, KubeApiClient } from "./kube-api.ts";
import { createPki } from "./pki.ts";
import {
  type CommandResult,
  type Daemon,
  describeExit,
  pickFreePorts,
  residentSetBytes,
  runCommand,
  signalGroup,
  sleep,
  startDaemon,
  startWatchdog,
  stopDaemon,
  tailLog,
} from "./processes.ts";

export { DEFAULT_FAKE_NODE } from "./fake-kubelet.ts";
export type { FakeKubelet, FakeKubeletOptions, MakePodsReadyOptions } from "./fake-kubelet.ts";
export type { ApiRequestOptions, ApiResponse } from "./kube-api.ts";
export { KubeApiError } from "./kube-api.ts";
export type { CommandResult } from "./processes.ts";

/**
 * Controllers that kube-controller-manager runs by default. The workload controllers act on what an
 * autoscaler scales, the garbage collector does cascading deletes, and the namespace controller
 * removes deleted namespaces. The ClusterRole aggregation controller fills in the rules of the
 * built-in admin, edit and view ClusterRoles. Names as listed by `kube-controller-manager --help` (v1.36).
 */
export const DEFAULT_CONTROLLERS: readonly string[] = [
  "deployment-controller",
  "replicaset-controller",
  "statefulset-controller",
  "replicationcontroller-controller",
  "garbage-collector-controller",
  "namespace-controller",
  "clusterrole-aggregation-controller",
];

export interface ControlPlaneOptions {
  /** Directory with etcd, kube-apiserver, kube-controller-manager and kubectl. Defaults to
   * $CPA_CONTROL_PLANE_BIN, else the output of scripts/build-control-plane.sh. */
  binDir?: string;
  /** Time allowed from the first process start until everything is ready. Defaults to 60 000 ms. */
  startTimeoutMs?: number;
  /** Time each process gets between SIGTERM and SIGKILL in stop(). Defaults to 10 000 ms. */
  stopGraceMs?: number;
  /** Parent of the temporary directory. Defaults to /dev/shm when it exists, else the OS temp dir. */
  baseDir?: string;
  /** Keeps the temporary directory (logs, certificates, etcd data) after stop() or a failed start.
   * Defaults to true when CPA_CONTROL_PLANE_KEEP_DIR=1. */
  keepDir?: boolean;
  /** kube-controller-manager --controllers list. Defaults to {@link DEFAULT_CONTROLLERS}. */
  controllers?: readonly string[];
  /** Starts no kube-controller-manager when false. Defaults to true. */
  startControllerManager?: boolean;
  /** klog verbosity (--v) of kube-apiserver and kube-controller-manager. Defaults to 1. */
  verbosity?: number;
  /** Extra flags appended to each command line; a later flag overrides an earlier one. */
  etcdArgs?: readonly string[];
  apiServerArgs?: readonly string[];
  controllerManagerArgs?: readonly string[];
}

export interface KubectlOptions {
  /** Text for kubectl's stdin, for example a manifest with `apply -f -`. */
  input?: string;
  /** Resolves with the result instead of throwing when kubectl exits non-zero. */
  allowFailure?: boolean;
  /** Defaults to 60 000 ms. */
  timeoutMs?: number;
}

export interface ServiceAccountTokenOptions {
  /** Token lifetime in seconds; the apiserver enforces a minimum of 600. Defaults to 3600. */
  expirationSeconds?: number;
  /** Defaults to the apiserver's audiences, which here is the issuer URL. */
  audiences?: string[];
}

/** Milliseconds spent in each start-up phase. */
export interface StartupTimings {
  readonly pki: number;
  readonly etcd: number;
  readonly apiServer: number;
  readonly controllerManager: number;
  readonly total: number;
}

export interface ControlPlane {
  /** The apiserver URL, https://127.0.0.1:<port>. */
  readonly server: string;
  /** etcd's client URL, http://127.0.0.1:<port>. */
  readonly etcdUrl: string;
  /** Admin kubeconfig with the CA and client key pair embedded. */
  readonly kubeconfigPath: string;
  readonly caPem: string;
  /** Client certificate of user cpa-test-admin in group system:masters. */
  readonly adminCertPem: string;
  readonly adminKeyPem: string;
  /** The temporary directory with logs, certificates and etcd data. */
  readonly dir: string;
  readonly binDir: string;
  /** The ServiceAccount token issuer (--service-account-issuer), also the default token audience. */
  readonly serviceAccountIssuer: string;
  readonly logPaths: { readonly etcd: string; readonly apiServer: string; readonly controllerManager: string };
  readonly timings: StartupTimings;

  /** Runs the built kubectl with the admin kubeconfig. Throws on a non-zero exit unless allowFailure. */
  kubectl(args: string[], options?: KubectlOptions): Promise<CommandResult>;
  /** Sends one request to the apiserver as the admin user (or anonymously, see the options). */
  request(method: string, path: string, options?: ApiRequestOptions): Promise<ApiResponse>;
  /** Creates the ServiceAccount if it does not exist and returns a new token for it (TokenRequest API). */
  createServiceAccountToken(namespace: string, name: string, options?: ServiceAccountTokenOptions): Promise<string>;
  /** Binds pending pods to a fake Node and marks them Running and Ready. Returns "namespace/name" of each pod changed. */
  makePodsReady(namespace?: string, options?: MakePodsReadyOptions): Promise<string[]>;
  /** Finishes graceful deletions that a kubelet would finish. Returns "namespace/name" of each pod deleted. */
  deleteTerminatingPods(namespace?: string, labelSelector?: string): Promise<string[]>;
  /** Runs makePodsReady and deleteTerminatingPods in a loop until stopped or until stop() of the plane. */
  startFakeKubelet(options?: FakeKubeletOptions): FakeKubelet;
  /** Process ids, which are also process group ids; undefined for a process that was not started. */
  readonly pids: { readonly etcd?: number; readonly apiServer?: number; readonly controllerManager?: number };
  /** Resident set size in bytes of each running process, read from /proc. */
  residentSetBytes(): { etcd?: number; apiServer?: number; controllerManager?: number };
  /** Stops kube-controller-manager, kube-apiserver and etcd in that order and removes the directory.
   * Idempotent: later calls return the first call's promise. */
  stop(): Promise<void>;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const buildScript = join(repoRoot, "scripts/build-control-plane.sh");
const REQUIRED_BINARIES = ["etcd", "kube-apiserver", "kube-controller-manager", "kubectl"] as const;
const POLL_INTERVAL_MS = 100;

let binDirFromScript: Promise<string> | undefined;

/**
 * Returns the directory with the control-plane binaries: $CPA_CONTROL_PLANE_BIN when set, else the
 * last stdout line of scripts/build-control-plane.sh, run once per process. A cold build takes tens
 * of minutes, so test runs should call the script before the tests.
 */
export function resolveBinDir(): Promise<string> {
  const fromEnv = process.env.CPA_CONTROL_PLANE_BIN;
  if (fromEnv !== undefined && fromEnv !== "") {
    return Promise.resolve(fromEnv);
  }
  binDirFromScript ??= runBuildScript();
  return binDirFromScript;
}

function runBuildScript(): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    // The script's progress messages go to the runner's stderr; stdout carries the bin dir.
    const child = spawn("bash", [buildScript], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.once("error", (error) => reject(new Error(`failed to run ${buildScript}: ${error.message}`, { cause: error })));
    child.once("close", (code) => {
      const lastLine = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0 || lastLine === "") {
        binDirFromScript = undefined;
        reject(new Error(`${buildScript} exited with code ${code}; see its messages above, or set CPA_CONTROL_PLANE_BIN`));
        return;
      }
      resolvePromise(lastLine);
    });
  });
}

function checkBinaries(binDir: string): void {
  const missing = REQUIRED_BINARIES.filter((name) => {
    try {
      accessSync(join(binDir, name), fsConstants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(
      `control-plane bin dir ${binDir} lacks executable ${missing.join(", ")}; run scripts/build-control-plane.sh ` +
        "or point CPA_CONTROL_PLANE_BIN at a directory with all four",
    );
  }
}

function defaultBaseDir(): string {
  return existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
}

/** A start-up failure. The message includes the tail of the failing process's log. */
export class ControlPlaneStartError extends Error {
  constructor(message: string, readonly processName: string, readonly logTail: string) {
    super(`${message}\nlast lines of the ${processName} log:\n${logTail}`);
    this.name = "ControlPlaneStartError";
  }
}

// Planes that have not been stopped yet, cleaned up by the exit and signal handlers.
const runningPlanes = new Set<RunningControlPlane>();
const HANDLED_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

function killAllNow(): void {
  for (const plane of runningPlanes) {
    plane.killNow();
  }
}

function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  removeExitHandlers();
  // Re-raises the signal so that the runner ends as it would have without these handlers, unless
  // another listener is still registered for it.
  if (process.listenerCount(signal) === 0) {
    process.kill(process.pid, signal);
  }
}

function installExitHandlers(): void {
  if (process.listeners("exit").includes(killAllNow)) {
    return;
  }
  process.on("exit", killAllNow);
  for (const signal of HANDLED_SIGNALS) {
    process.on(signal, onSignal);
  }
}

function removeExitHandlers(): void {
  process.off("exit", killAllNow);
  for (const signal of HANDLED_SIGNALS) {
    process.off(signal, onSignal);
  }
}

class RunningControlPlane implements ControlPlane {
  server = "";
  etcdUrl = "";
  kubeconfigPath = "";
  caPem = "";
  adminCertPem = "";
  adminKeyPem = "";
  serviceAccountIssuer = "";
  timings: StartupTimings = { pki: 0, etcd: 0, apiServer: 0, controllerManager: 0, total: 0 };
  readonly logPaths: ControlPlane["logPaths"];

  private readonly daemons: { etcd?: Daemon; apiServer?: Daemon; controllerManager?: Daemon } = {};
  private watchdog: Daemon | undefined;
  private api: KubeApiClient | undefined;
  private readonly fakeKubelets = new Set<FakeKubelet>();
  private stopping: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    readonly binDir: string,
    private readonly keepDir: boolean,
    private readonly stopGraceMs: number,
  ) {
    this.logPaths = {
      etcd: join(dir, "etcd.log"),
      apiServer: join(dir, "kube-apiserver.log"),
      controllerManager: join(dir, "kube-controller-manager.log"),
    };
  }

  private get pidFile(): string {
    return join(this.dir, "pids");
  }

  private recordPids(): void {
    const pids = [this.daemons.etcd, this.daemons.apiServer, this.daemons.controllerManager]
      .filter((daemon) => daemon !== undefined)
      .map((daemon) => String(daemon.pid));
    writeFileSync(this.pidFile, `${pids.join("\n")}\n`);
  }

  private startDaemon(key: keyof RunningControlPlane["daemons"], binary: string, args: string[], logPath: string): Daemon {
    const daemon = startDaemon(binary, join(this.binDir, binary), args, logPath);
    this.daemons[key] = daemon;
    this.recordPids();
    this.watchdog ??= startWatchdog(this.pidFile, this.dir, this.keepDir);
    return daemon;
  }

  /** Polls `check` until it returns true, failing early when `daemon` exits or the deadline passes. */
  private async waitUntil(daemon: Daemon, what: string, deadline: number, check: () => Promise<boolean>): Promise<void> {
    let lastError = "";
    for (;;) {
      const status = daemon.exitStatus();
      if (status !== undefined) {
        throw new ControlPlaneStartError(`${daemon.name} ${describeExit(status)} while waiting for ${what}`, daemon.name, tailLog(daemon.logPath));
      }
      try {
        if (await check()) {
          return;
        }
        lastError = "";
      } catch (error) {
        lastError = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) {
        const detail = lastError === "" ? "" : ` (last error: ${lastError})`;
        throw new ControlPlaneStartError(`timed out waiting for ${what}${detail}`, daemon.name, tailLog(daemon.logPath));
      }
      await sleep(POLL_INTERVAL_MS);
    }
  }

  async start(options: ControlPlaneOptions): Promise<void> {
    const startedAt = performance.now();
    const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
    const verbosity = String(options.verbosity ?? 1);

    const pki = await createPki(join(this.dir, "pki"));
    this.caPem = pki.caPem;
    this.adminCertPem = pki.adminCertPem;
    this.adminKeyPem = pki.adminKeyPem;
    const pkiDone = performance.now();

    const [etcdClientPort, etcdPeerPort, apiServerPort] = await pickFreePorts(3);
    this.etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    this.server = `https://127.0.0.1:${apiServerPort}`;
    this.serviceAccountIssuer = this.server;
    this.api = new KubeApiClient(this.server, pki.caPem, pki.adminCertPem, pki.adminKeyPem);

    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = this.startDaemon("etcd", "etcd", [
      "--name=controlplane",
      `--data-dir=${join(this.dir, "etcd-data")}`,
      `--listen-client-urls=${this.etcdUrl}`,
      `--advertise-client-urls=${this.etcdUrl}`,
      `--listen-peer-urls=${etcdPeerUrl}`,
      `--initial-advertise-peer-urls=${etcdPeerUrl}`,
      `--initial-cluster=controlplane=${etcdPeerUrl}`,
      // The data dir is thrown away after the run, so durability is not needed.
      "--unsafe-no-fsync=true",
      // The single member becomes leader only after an election timeout. 100 ms instead of the
      // default 1000 ms cut etcd's start from 0.2-1.0 s to 0.1 s here.
      "--heartbeat-interval=10",
      "--election-timeout=100",
      "--log-level=warn",
      ...(options.etcdArgs ?? []),
    ], this.logPaths.etcd);
    await this.waitUntil(etcd, `etcd health at ${this.etcdUrl}/health`, deadline, async () => {
      const response = await fetch(`${this.etcdUrl}/health`);
      const body = (await response.json()) as { health?: string };
      return response.ok && body.health === "true";
    });
    const etcdDone = performance.now();

    const apiServer = this.startDaemon("apiServer", "kube-apiserver", [
      `--etcd-servers=${this.etcdUrl}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiServerPort}`,
      // The default lease reconciler would publish the loopback address as the kubernetes Service
      // endpoint, which validation rejects.
      "--endpoint-reconciler-type=none",
      `--cert-dir=${pki.dir}`,
      `--tls-cert-file=${pki.servingCertPath}`,
      `--tls-private-key-file=${pki.servingKeyPath}`,
      `--client-ca-file=${pki.caCertPath}`,
      `--service-account-issuer=${this.serviceAccountIssuer}`,
      `--service-account-key-file=${pki.serviceAccountPublicKeyPath}`,
      `--service-account-signing-key-file=${pki.serviceAccountKeyPath}`,
      // The aggregator presents this client certificate to extension apiservers (APIService backends).
      `--proxy-client-cert-file=${pki.frontProxyCertPath}`,
      `--proxy-client-key-file=${pki.frontProxyKeyPath}`,
      `--requestheader-client-ca-file=${pki.caCertPath}`,
      "--requestheader-allowed-names=front-proxy-client",
      "--requestheader-username-headers=X-Remote-User",
      "--requestheader-group-headers=X-Remote-Group",
      "--requestheader-extra-headers-prefix=X-Remote-Extra-",
      // Cluster IPs are only allocated as data; nothing routes to them.
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--authorization-mode=RBAC",
      // Without the ServiceAccount admission plugin, pods need no ServiceAccount to exist in their
      // namespace, so no serviceaccount-controller is needed.
      "--disable-admission-plugins=ServiceAccount",
      `--v=${verbosity}`,
      ...(options.apiServerArgs ?? []),
    ], this.logPaths.apiServer);
    await this.waitUntil(apiServer, `${this.server}/readyz`, deadline, async () => {
      const response = await this.requireApi().request("GET", "/readyz", { withoutClientCertificate: true });
      if (response.status !== 200) {
        throw new Error(`/readyz returned HTTP ${response.status}: ${response.text.slice(0, 500)}`);
      }
      return true;
    });
    // The apiserver creates the system namespaces shortly after /readyz first succeeds.
    await this.waitUntil(apiServer, "namespace default", deadline, async () => {
      const response = await this.requireApi().request("GET", "/api/v1/namespaces/default");
      return response.status === 200;
    });
    this.writeKubeconfig(pki.caPem, pki.adminCertPem, pki.adminKeyPem);
    const apiServerDone = performance.now();

    if (options.startControllerManager ?? true) {
      const controllers = options.controllers ?? DEFAULT_CONTROLLERS;
      const controllerManager = this.startDaemon("controllerManager", "kube-controller-manager", [
        `--kubeconfig=${this.kubeconfigPath}`,
        `--controllers=${controllers.join(",")}`,
        "--leader-elect=false",
        // Every controller uses the admin kubeconfig, so no token controller or signing key is needed.
        "--use-service-account-credentials=false",
        // Serves no health or metrics endpoint, so it needs no port or serving certificate.
        "--secure-port=0",
        "--kube-api-qps=100",
        "--kube-api-burst=200",
        `--v=${verbosity}`,
        ...(options.controllerManagerArgs ?? []),
      ], this.logPaths.controllerManager);
      if (controllers.includes("deployment-controller")) {
        await this.waitForDeploymentController(controllerManager, deadline);
      }
    }
    const controllerManagerDone = performance.now();

    this.timings = {
      pki: pkiDone - startedAt,
      etcd: etcdDone - pkiDone,
      apiServer: apiServerDone - etcdDone,
      controllerManager: controllerManagerDone - apiServerDone,
      total: controllerManagerDone - startedAt,
    };
  }

  /**
   * Waits until the deployment controller acts: creates a Deployment with zero replicas in
   * kube-system, waits for its ReplicaSet, then deletes it. No pods are created.
   */
  private async waitForDeploymentController(controllerManager: Daemon, deadline: number): Promise<void> {
    const api = this.requireApi();
    const name = "cpa-controlplane-readiness-probe";
    const labels = { "app.kubernetes.io/name": name };
    await api.requestJson("POST", "/apis/apps/v1/namespaces/kube-system/deployments", {
      body: {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, labels },
        spec: {
          replicas: 0,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            // The image is never pulled: no kubelet runs.
            spec: { containers: [{ name: "probe", image: "registry.invalid/probe:0" }] },
          },
        },
      },
    });
    const selector = encodeURIComponent(`app.kubernetes.io/name=${name}`);
    await this.waitUntil(controllerManager, "the deployment controller to create a ReplicaSet", deadline, async () => {
      const response = await api.requestJson("GET", `/apis/apps/v1/namespaces/kube-system/replicasets?labelSelector=${selector}`);
      return ((response.body as { items?: unknown[] }).items ?? []).length > 0;
    });
    await api.requestJson("DELETE", `/apis/apps/v1/namespaces/kube-system/deployments/${name}`, {
      body: { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: "Background" },
    });
  }

  private writeKubeconfig(caPem: string, certPem: string, keyPem: string): void {
    const base64 = (text: string) => Buffer.from(text).toString("base64");
    const kubeconfig = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "cpa-test", cluster: { server: this.server, "certificate-authority-data": base64(caPem) } }],
      users: [{ name: "cpa-test-admin", user: { "client-certificate-data": base64(certPem), "client-key-data": base64(keyPem) } }],
      contexts: [{ name: "cpa-test", context: { cluster: "cpa-test", user: "cpa-test-admin", namespace: "default" } }],
      "current-context": "cpa-test",
    };
    this.kubeconfigPath = join(this.dir, "admin.kubeconfig");
    // JSON is valid YAML, and kubectl and client libraries read it as a kubeconfig.
    writeFileSync(this.kubeconfigPath, `${JSON.stringify(kubeconfig, null, 2)}\n`, { mode: 0o600 });
  }

  private requireApi(): KubeApiClient {
    if (this.api === undefined) {
      throw new Error("the control plane has not been started");
    }
    return this.api;
  }

  async kubectl(args: string[], options: KubectlOptions = {}): Promise<CommandResult> {
    const fullArgs = [`--kubeconfig=${this.kubeconfigPath}`, `--cache-dir=${join(this.dir, "kubectl-cache")}`, ...args];
    const result = await runCommand(join(this.binDir, "kubectl"), fullArgs, {
      input: options.input,
      timeoutMs: options.timeoutMs ?? 60_000,
    });
    if (result.exitCode !== 0 && !options.allowFailure) {
      throw new Error(`kubectl ${args.join(" ")} failed with exit code ${result.exitCode}: ${result.stderr.trim()}`);
    }
    return result;
  }

  request(method: string, path: string, options?: ApiRequestOptions): Promise<ApiResponse> {
    return this.requireApi().request(method, path, options);
  }

  async createServiceAccountToken(namespace: string, name: string, options: ServiceAccountTokenOptions = {}): Promise<string> {
    const api = this.requireApi();
    const accountsPath = `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts`;
    await api.requestJson("POST", accountsPath, {
      body: { apiVersion: "v1", kind: "ServiceAccount", metadata: { name } },
      allowedStatuses: [409],
    });
    const spec: { expirationSeconds: number; audiences?: string[] } = { expirationSeconds: options.expirationSeconds ?? 3600 };
    if (options.audiences !== undefined) {
      spec.audiences = options.audiences;
    }
    const response = await api.requestJson("POST", `${accountsPath}/${encodeURIComponent(name)}/token`, {
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec },
    });
    const token = (response.body as { status?: { token?: string } }).status?.token;
    if (token === undefined || token === "") {
      throw new Error(`TokenRequest for ${namespace}/${name} returned no token: ${response.text}`);
    }
    return token;
  }

  makePodsReady(namespace?: string, options?: MakePodsReadyOptions): Promise<string[]> {
    return makePodsReady(this.requireApi(), namespace, options);
  }

  deleteTerminatingPods(namespace?: string, labelSelector?: string): Promise<string[]> {
    return deleteTerminatingPods(this.requireApi(), namespace, labelSelector);
  }

  startFakeKubelet(options?: FakeKubeletOptions): FakeKubelet {
    const kubelet = startFakeKubelet(this.requireApi(), options);
    this.fakeKubelets.add(kubelet);
    return kubelet;
  }

  get pids(): ControlPlane["pids"] {
    return {
      etcd: this.daemons.etcd?.pid,
      apiServer: this.daemons.apiServer?.pid,
      controllerManager: this.daemons.controllerManager?.pid,
    };
  }

  residentSetBytes(): { etcd?: number; apiServer?: number; controllerManager?: number } {
    const read = (daemon: Daemon | undefined) =>
      daemon === undefined || daemon.exitStatus() !== undefined ? undefined : residentSetBytes(daemon.pid);
    return {
      etcd: read(this.daemons.etcd),
      apiServer: read(this.daemons.apiServer),
      controllerManager: read(this.daemons.controllerManager),
    };
  }

  stop(): Promise<void> {
    this.stopping ??= this.stopGracefully();
    return this.stopping;
  }

  private async stopGracefully(): Promise<void> {
    await Promise.all([...this.fakeKubelets].map((kubelet) => kubelet.stop()));
    for (const daemon of [this.daemons.controllerManager, this.daemons.apiServer, this.daemons.etcd]) {
      if (daemon !== undefined) {
        await stopDaemon(daemon, this.stopGraceMs);
      }
    }
    if (this.watchdog !== undefined) {
      await stopDaemon(this.watchdog, 1000);
    }
    this.removeDir();
    runningPlanes.delete(this);
    if (runningPlanes.size === 0) {
      removeExitHandlers();
    }
  }

  /** Kills every process group at once and removes the directory. Synchronous, for exit handlers. */
  killNow(): void {
    for (const daemon of [this.daemons.controllerManager, this.daemons.apiServer, this.daemons.etcd, this.watchdog]) {
      if (daemon !== undefined) {
        signalGroup(daemon, "SIGKILL");
      }
    }
    this.removeDir();
    runningPlanes.delete(this);
  }

  private removeDir(): void {
    if (!this.keepDir) {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/**
 * Starts etcd, kube-apiserver and (unless disabled) kube-controller-manager on free 127.0.0.1 ports
 * and resolves once the apiserver is ready, namespace default exists and the deployment controller
 * has acted. On failure everything started so far is stopped and a {@link ControlPlaneStartError}
 * with the tail of the failing process's log is thrown.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = options.binDir ?? (await resolveBinDir());
  checkBinaries(binDir);
  const keepDir = options.keepDir ?? process.env.CPA_CONTROL_PLANE_KEEP_DIR === "1";
  const dir = mkdtempSync(join(options.baseDir ?? defaultBaseDir(), "cpa-control-plane-"));

  const plane = new RunningControlPlane(dir, binDir, keepDir, options.stopGraceMs ?? 10_000);
  runningPlanes.add(plane);
  installExitHandlers();
  try {
    await plane.start(options);
  } catch (error) {
    await plane.stop();
    throw error;
  }
  return plane;
}
