/** Argument parsing for the command line, on top of node:util parseArgs. */
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {}

export type ParsedOptions = Record<string, string | boolean | undefined>;

/** Parses `args` against `options`, turning parser errors into UsageError. */
export function parseOptions(args: string[], options: NonNullable<ParseArgsConfig["options"]>): ParsedOptions {
  try {
    const { values, positionals } = parseArgs({ args, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    return values as ParsedOptions;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError((error as Error).message);
  }
}

/** Parses a positive integer option, naming the option in the error. */
export function positiveInteger(name: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (!/^\d+$/.test(text) || Number(text) <= 0) throw new UsageError(`--${name} must be a positive integer, received "${text}"`);
  return Number(text);
}
