/** `cpa run` (the default command): the agent against the cluster. */
import { Agent } from "../agent/agent.ts";
import { KubeTarget } from "../agent/kube-target.ts";
import { errorMessage } from "../errors.ts";
import { createMethodRunner } from "../execute/index.ts";
import { KubeClient, loadKubeConnection } from "../kube/index.ts";
import { rootLogger } from "../logging.ts";
import { systemClock } from "../pipeline/target.ts";
import { VERSION } from "../version.ts";
import { parseOptions } from "./args.ts";
import { loadOrReport, setUpLogging } from "./common.ts";
import { RUN_HELP } from "./help.ts";

/** Hard limit from a stop signal to process exit. */
const EXIT_DEADLINE_MS = 1900;

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
    logger.info("using Kubernetes credentials", { address: connection.server, path: connection.source });
    client = new KubeClient(connection);
  } catch (error) {
    logger.error("failed to load Kubernetes credentials", { error: errorMessage(error) });
    return 1;
  }
  if (config.kubernetesMetricSpecs !== undefined) {
    // TODO: gather kubernetesMetricSpecs; until then the metric stage receives no kubernetesMetrics key.
    logger.warn("kubernetesMetricSpecs is not supported by this version and is ignored");
  }

  const target = new KubeTarget(client, { ...config.scaleTargetRef, namespace: config.namespace });
  const agent = new Agent({ config, target, runner: createMethodRunner(), clock: systemClock, logger });

  const stopped = new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (agent.stopping) return;
      logger.info("received signal, shutting down", { signal });
      setTimeout(() => resolve(0), EXIT_DEADLINE_MS).unref();
      void agent.stop(`received ${signal}`).then(() => {
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
