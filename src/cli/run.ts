/** `cpa run` (the default command): the agent against the cluster, with its API, probes and metrics. */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import type { Server } from "bun";
import { Agent, type AgentObserver } from "../agent/agent.ts";
import { KubeTarget } from "../agent/kube-target.ts";
import { createTokenSource, API_TOKEN_ENV } from "../api/auth.ts";
import { Readiness, startHealthServer } from "../api/health.ts";
import { startApiServer } from "../api/server.ts";
import type { Config } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import { EventRecorder } from "../events/recorder.ts";
import { createMethodRunner } from "../execute/index.ts";
import { becomeSubreaper } from "../execute/reaper.ts";
import { createKubernetesMetricsSource } from "../k8s-metrics/index.ts";
import { KubeClient, loadKubeConnection } from "../kube/index.ts";
import { LeaderElector } from "../leader/lease.ts";
import { rootLogger, type Logger } from "../logging.ts";
import { AgentMetrics, instrumentRunner } from "../observability/metrics.ts";
import { metricsObserver } from "../observability/metrics-observer.ts";
import { systemClock } from "../pipeline/target.ts";
import { VERSION } from "../version.ts";
import { parseOptions } from "./args.ts";
import { loadOrReport, setUpLogging } from "./common.ts";
import { RUN_HELP } from "./help.ts";

/** Hard limit from a stop signal to process exit. */
const EXIT_DEADLINE_MS = 1900;
/** Time between start-up checks of the Kubernetes API until it responds. */
const READINESS_RETRY_MS = 2000;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "::1", "localhost"]);

export async function runCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const options = parseOptions(args, { config: { type: "string" }, kubeconfig: { type: "string" } });
  if (options["help"]) {
    process.stdout.write(RUN_HELP);
    return 0;
  }
  const loaded = loadOrReport(options["config"] as string | undefined, env);
  if (loaded === undefined) return 1;
  setUpLogging(loaded);
  const { config } = loaded;
  const logger = rootLogger().with({ namespace: config.namespace, name: config.scaleTargetRef.name, kind: config.scaleTargetRef.kind });
  logger.info("starting Custom Pod Autoscaler agent", { version: VERSION, configPath: loaded.path ?? "(environment)", interval: config.interval });

  let client: KubeClient;
  try {
    const connection = loadKubeConnection({ kubeconfigPath: options["kubeconfig"] as string | undefined, env });
    logger.info("using Kubernetes credentials", { address: connection.server, source: connection.source });
    client = new KubeClient(connection);
  } catch (error) {
    logger.error("failed to load Kubernetes credentials", { error: errorMessage(error) });
    return 1;
  }
  const kubernetesMetrics =
    (config.kubernetesMetricSpecs ?? []).length > 0 ? createKubernetesMetricsSource({ client, config, logger, clock: systemClock }) : undefined;

  if (!becomeSubreaper()) logger.v(1).info("cannot become a child subreaper; processes orphaned by scripts are reaped by PID 1");

  const targetRef = { ...config.scaleTargetRef, namespace: config.namespace };
  const metrics = new AgentMetrics();
  const readiness = new Readiness();
  const observers: AgentObserver[] = [metricsObserver(metrics), readiness.observer()];
  if (config.kubernetesEvents) observers.push(new EventRecorder({ client, target: targetRef, logger }).observer());
  const elector = createElector(config, client, logger, metrics);

  const agent = new Agent({
    config,
    target: new KubeTarget(client, targetRef),
    runner: instrumentRunner(createMethodRunner(), metrics),
    clock: systemClock,
    logger,
    observers,
    gate: elector,
    kubernetesMetrics,
  });

  const servers: Server<undefined>[] = [];
  try {
    if (config.healthConfig.enabled) {
      const health = startHealthServer({ config, metrics, readiness, nextTickAt: () => agent.nextTickAt });
      servers.push(health);
      logger.info("serving /healthz, /readyz and /metrics", { address: `${config.healthConfig.host}:${health.port}` });
    }
    if (config.apiConfig.enabled) servers.push(startApi(config, agent, logger, metrics, elector, env));
  } catch (error) {
    logger.error("failed to start a server; check apiConfig and healthConfig host and port", { error: errorMessage(error) });
    for (const server of servers) server.stop(true);
    return 1;
  }

  const stopReadinessProbe = probeApi(client, readiness, logger);
  elector?.start();

  const stopped = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (agent.stopping) return;
      logger.info("received signal, shutting down", { signal });
      setTimeout(() => resolve(0), EXIT_DEADLINE_MS).unref();
      stopReadinessProbe();
      for (const server of servers) server.stop(true);
      void Promise.all([agent.stop(`received ${signal}`), elector?.stop()]).then(() => {
        logger.info("agent stopped");
        resolve(0);
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });

  const firstCycle = agent.start();
  logger.info("waiting for the first cycle", { delayMs: Math.max(0, firstCycle - Date.now()) });
  return stopped;
}

function startApi(config: Config, agent: Agent, logger: Logger, metrics: AgentMetrics, elector: LeaderElector | undefined, env: Record<string, string | undefined>): Server<undefined> {
  const { apiConfig } = config;
  const tokens = createTokenSource(apiConfig.authTokenFile, env);
  const server = startApiServer({ config, agent, logger, tokens, metrics, isLeader: elector ? () => elector.isLeader() : undefined });
  const address = `${apiConfig.host}:${server.port}`;
  logger.info("serving the REST API", { address, scheme: apiConfig.useHTTPS ? "https" : "http", auth: tokens.description });
  if (tokens.description === "none" && !LOOPBACK_HOSTS.has(apiConfig.host)) {
    logger.warn(
      `the REST API accepts unauthenticated requests on a non-loopback address, so anyone who can reach it can scale the target; set apiConfig.authTokenFile or ${API_TOKEN_ENV}, or apiConfig.host: 127.0.0.1`,
      { address },
    );
  }
  return server;
}

function createElector(config: Config, client: KubeClient, logger: Logger, metrics: AgentMetrics): LeaderElector | undefined {
  const election = config.leaderElection;
  if (!election.enabled) return undefined;
  const settings = {
    name: election.leaseName || `cpa-${config.scaleTargetRef.name}`,
    namespace: election.leaseNamespace || config.namespace,
    identity: `${hostname()}_${randomBytes(4).toString("hex")}`,
    leaseDurationSeconds: election.leaseDuration,
    renewDeadlineSeconds: election.renewDeadline,
    retryPeriodSeconds: election.retryPeriod,
  };
  const elector = new LeaderElector(client, settings, logger);
  metrics.leader.set(0);
  elector.onChange((leader) => metrics.leader.set(leader ? 1 : 0));
  logger.info("leader election on", { lease: `${settings.namespace}/${settings.name}`, identity: settings.identity });
  return elector;
}

/**
 * Checks that the Kubernetes API responds, every READINESS_RETRY_MS until it does, so `/readyz`
 * turns ready before the first cycle. Returns a function that stops the checks.
 */
function probeApi(client: KubeClient, readiness: Readiness, logger: Logger): () => void {
  let timer: Timer | undefined;
  let stopped = false;
  const check = async (): Promise<void> => {
    try {
      await client.request({ method: "GET", path: "/version", purpose: { operation: "get the API server version", verb: "get", resource: "", group: "", nonResourceUrl: "/version" } });
      readiness.markReached();
      return;
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status !== undefined) {
        readiness.markReached();
        return;
      }
      readiness.markUnreachable(errorMessage(error));
      logger.v(1).info("Kubernetes API not reachable yet", { error: errorMessage(error) });
    }
    if (!stopped) timer = setTimeout(() => void check(), READINESS_RETRY_MS);
  };
  void check();
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}
