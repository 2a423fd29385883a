/** The agent's version, stamped at build time by scripts/build.ts through `--define`. */
declare const CPA_VERSION: string | undefined;

export const VERSION: string = typeof CPA_VERSION === "string" ? CPA_VERSION : "0.1.0-dev";
