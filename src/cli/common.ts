/** Steps shared by the commands: loading the configuration and reporting its problems. */
import { loadConfig, type LoadedConfig } from "../config/load.ts";
import { ConfigError, type ConfigWarning } from "../errors.ts";
import { configureLogging, rootLogger, type Verbosity } from "../logging.ts";

/** Loads the configuration, or prints every problem to stderr and returns undefined. */
export function loadOrReport(
  configPath: string | undefined,
  env: Record<string, string | undefined>,
  fallbacks?: Record<string, unknown>,
): LoadedConfig | undefined {
  try {
    return loadConfig({ configPath, env, fallbacks });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`cpa: ${error.message}\n`);
    printWarnings(error.warnings);
    return undefined;
  }
}

/** Prints unknown keys to stderr, each with the nearest known key. */
export function printWarnings(warnings: readonly ConfigWarning[]): void {
  for (const warning of warnings) {
    const hint = warning.suggestion ? ` (did you mean ${warning.suggestion}?)` : "";
    process.stderr.write(`warning: unknown key ${warning.path} is ignored by the agent${hint}\n`);
  }
}

/** Configures logging from the loaded configuration and logs each unknown key as a warning. */
export function setUpLogging(loaded: LoadedConfig): void {
  configureLogging({ format: loaded.config.logFormat, verbosity: loaded.config.logVerbosity as Verbosity });
  const logger = rootLogger();
  for (const warning of loaded.warnings) {
    logger.warn("unknown configuration key, ignored by the agent (scripts may still read it)", {
      key: warning.path,
      suggestion: warning.suggestion,
    });
  }
}
