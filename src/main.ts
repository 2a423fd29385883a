/**
 * Entry point of the `cpa` executable. Kept free of top-level await so it compiles to bytecode.
 * Commands are imported when chosen, so `cpa version` and `cpa validate` do not load the Kubernetes
 * client.
 */
import { errorMessage } from "./errors.ts";
import { UsageError } from "./cli/args.ts";
import { MAIN_HELP, VERSION_HELP } from "./cli/help.ts";
import { VERSION } from "./version.ts";

async function dispatch(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "-h":
    case "--help":
    case "help":
      process.stdout.write(MAIN_HELP);
      return 0;
    case "version":
    case "--version":
      if (rest.includes("--help") || rest.includes("-h")) process.stdout.write(VERSION_HELP);
      else process.stdout.write(`cpa ${VERSION}\n`);
      return 0;
    case "validate":
      return (await import("./cli/validate.ts")).validateCommand(rest, env);
    case "simulate":
      return (await import("./cli/simulate.ts")).simulateCommand(rest, env);
    case "run":
      return (await import("./cli/run.ts")).runCommand(rest, env);
    case "operator":
      return (await import("./cli/operator.ts")).operatorCommand(rest, env);
    default:
      if (command === undefined || command.startsWith("-")) return (await import("./cli/run.ts")).runCommand(argv, env);
      throw new UsageError(`unknown command "${command}"; expected run, validate, simulate, operator or version`);
  }
}

async function main(): Promise<void> {
  let code: number;
  try {
    code = await dispatch(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`cpa: ${error.message}\nRun "cpa --help" for usage.\n`);
      code = 2;
    } else {
      process.stderr.write(`cpa: ${errorMessage(error)}\n`);
      code = 1;
    }
  }
  process.exit(code);
}

void main();
