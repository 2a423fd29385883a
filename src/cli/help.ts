/** Help texts of the command line. */

export const MAIN_HELP = `cpa: Custom Pod Autoscaler agent

Usage:
  cpa [run] [--config FILE]        run the autoscaler against the cluster
  cpa validate [--config FILE]     check a configuration without contacting a cluster
  cpa simulate [--config FILE] --manifest FILE [options]
                                   run the pipeline on a manifest file and print the decision
  cpa version                      print the version
  cpa operator [--namespace NS]    run an agent pod for each CustomPodAutoscaler resource

Run "cpa COMMAND --help" for the options of a command.

The configuration file is found through --config, then CONFIG_PATH, then configPath,
then /config.yaml. Every environment variable named after a top-level configuration
key overrides that key.
`;

export const RUN_HELP = `Usage: cpa [run] [--config FILE] [--kubeconfig FILE]

Runs the autoscaler: one cycle every "interval" milliseconds against the scale target.

Options:
  --config FILE       configuration file (YAML or JSON); default: CONFIG_PATH, configPath, /config.yaml
  --kubeconfig FILE   kubeconfig to use outside a cluster; default: KUBECONFIG, ~/.kube/config,
                      then the in-cluster service account
  -h, --help          show this help

Stops on SIGTERM or SIGINT without sending another patch, and exits 0.
`;

export const VALIDATE_HELP = `Usage: cpa validate [--config FILE]

Loads the configuration and the environment overrides, prints every problem found,
and exits 1 if there is any. Contacts no cluster and runs no script.

Options:
  --config FILE   configuration file; default: CONFIG_PATH, configPath, /config.yaml
  -h, --help      show this help
`;

export const SIMULATE_HELP = `Usage: cpa simulate [--config FILE] --manifest FILE [--root DIR] [--interval MS] [--count N]

Runs the same pipeline as the agent without a cluster. The scale target, and in per-pod
mode its pods (kind Pod documents whose labels match the target's spec.selector), are read
from the manifest file. The decision is printed to stdout; nothing is sent anywhere.

Options:
  --config FILE     configuration file; default: CONFIG_PATH, configPath, /config.yaml
  --manifest FILE   YAML file with the target object and, for per-pod mode, its pods
  --root DIR        treat DIR as the image's root directory: absolute paths in shell methods
                    (for example /metric.py) that exist under DIR are run from there
  --interval MS     repeat every MS milliseconds, re-reading the manifest each time, until
                    interrupted; the simulated replica count carries over between runs
  --count N         with --interval, stop after N runs
  --json            print each decision as one JSON object per line
  -h, --help        show this help
`;

export const VERSION_HELP = `Usage: cpa version

Prints the version of the agent.
`;
