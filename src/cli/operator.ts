/** `cpa operator`: runs an agent pod for every CustomPodAutoscaler resource in the cluster. */
import { errorMessage } from "../errors.ts";
import { KubeClient, loadKubeConnection } from "../kube/index.ts";
import { configureLogging, rootLogger, type LogFormat, type Verbosity } from "../logging.ts";
import { Operator } from "../operator/controller.ts";
import { VERSION } from "../version.ts";
import { UsageError, parseOptions, positiveInteger } from "./args.ts";

export const OPERATOR_HELP = `Usage: cpa operator [--namespace NS[,NS...]] [--kubeconfig FILE] [options]

Runs the Custom Pod Autoscaler operator: for every CustomPodAutoscaler resource
(custompodautoscaler.com/v1) it keeps a ServiceAccount, a Role, a RoleBinding and one agent pod,
and holds paused autoscalers' targets at their paused replica count.

Options:
  --namespace NS           namespaces to watch, comma-separated; default: WATCH_NAMESPACE,
                           and every namespace when that is unset or empty
  --kubeconfig FILE        kubeconfig to use outside a cluster; default: KUBECONFIG, ~/.kube/config,
                           then the in-cluster service account
  --resync-interval MS     milliseconds between two reconciliations of every CustomPodAutoscaler
                           (default 300000); changes are acted on at once regardless
  --log-format FORMAT      text (logfmt, the default) or json
  --verbosity N            0 to 3; 1 logs each reconciliation, 2 each Kubernetes API request
  -h, --help               show this help

Stops on SIGTERM or SIGINT and exits 0.
`;

const DEFAULT_RESYNC_INTERVAL_MS = 300_000;
/** Hard limit from a stop signal to process exit. */
const EXIT_DEADLINE_MS = 1900;

/** Options of the operator command after parsing flags and environment. */
export interface OperatorSettings {
  /** Namespaces to watch; undefined means all. */
  namespaces: string[] | undefined;
  kubeconfig: string | undefined;
  resyncIntervalMs: number;
  logFormat: LogFormat;
  verbosity: Verbosity;
}

/** Reads the operator's flags and `WATCH_NAMESPACE`. Throws `UsageError` for invalid values. */
export function parseOperatorSettings(args: string[], env: Record<string, string | undefined>): OperatorSettings | "help" {
  const options = parseOptions(args, {
    namespace: { type: "string" },
    kubeconfig: { type: "string" },
    "resync-interval": { type: "string" },
    "log-format": { type: "string" },
    verbosity: { type: "string" },
  });
  if (options["help"]) return "help";

  const namespaceText = (options["namespace"] as string | undefined) ?? env["WATCH_NAMESPACE"] ?? "";
  const namespaces = namespaceText
    .split(",")
    .map((namespace) => namespace.trim())
    .filter((namespace) => namespace !== "");

  const logFormat = (options["log-format"] as string | undefined) ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new UsageError(`--log-format must be text or json, received "${logFormat}"`);
  }
  const verbosityText = (options["verbosity"] as string | undefined) ?? "0";
  if (!/^[0-3]$/.test(verbosityText)) {
    throw new UsageError(`--verbosity must be an integer from 0 to 3, received "${verbosityText}"`);
  }

  return {
    namespaces: namespaces.length === 0 ? undefined : [...new Set(namespaces)],
    kubeconfig: options["kubeconfig"] as string | undefined,
    resyncIntervalMs: positiveInteger("resync-interval", options["resync-interval"]) ?? DEFAULT_RESYNC_INTERVAL_MS,
    logFormat,
    verbosity: Number(verbosityText) as Verbosity,
  };
}

export async function operatorCommand(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const settings = parseOperatorSettings(args, env);
  if (settings === "help") {
    process.stdout.write(OPERATOR_HELP);
    return 0;
  }
  configureLogging({ format: settings.logFormat, verbosity: settings.verbosity });
  const logger = rootLogger();
  logger.info("starting Custom Pod Autoscaler operator", {
    version: VERSION,
    namespace: settings.namespaces?.join(",") ?? "(all namespaces)",
    interval: settings.resyncIntervalMs,
  });

  let client: KubeClient;
  try {
    const connection = loadKubeConnection({ kubeconfigPath: settings.kubeconfig, env });
    logger.info("using Kubernetes credentials", { address: connection.server, path: connection.source });
    client = new KubeClient(connection, { userAgent: "cpa-operator", fieldManager: "cpa-operator" });
  } catch (error) {
    logger.error("failed to load Kubernetes credentials", { error: errorMessage(error) });
    return 1;
  }

  const operator = new Operator({
    client,
    namespaces: settings.namespaces,
    resyncIntervalMs: settings.resyncIntervalMs,
    logger,
  });
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      logger.info("received signal, shutting down", { signal });
      setTimeout(() => resolve(0), EXIT_DEADLINE_MS).unref();
      void operator.stop().then(() => {
        logger.info("operator stopped");
        resolve(0);
      });
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });

  operator.start();
  return stopped;
}
