/**
 * Build the agent as one standalone executable with `bun build --compile`.
 *
 * Usage: bun scripts/build.ts [--target TARGET | --target all] [--outfile FILE] [--entry FILE]
 *                             [--executable-path FILE]
 *
 * Without --target the executable is for Linux on the CPU architecture of this machine (arm64 on
 * arm64, else x64), with musl on a musl-based Linux and glibc everywhere else, and goes to dist/cpa.
 * With --target each executable goes to dist/cpa-<target without "bun-">, e.g. dist/cpa-linux-x64-musl.
 *
 * The executable embeds its source map, so stack traces name the TypeScript files and lines. Bun
 * also writes a copy next to it (`<outfile>.map`), which does not need to ship.
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

const REPO_ROOT = path.resolve(import.meta.dir, "..");
const DEFAULT_ENTRY = path.join(REPO_ROOT, "src", "main.ts");
const DIST_DIR = path.join(REPO_ROOT, "dist");

/** Supported targets, each with the npm package that contains its Bun runtime. */
const LINUX_TARGETS = {
  "bun-linux-x64": "@oven/bun-linux-x64",
  "bun-linux-x64-musl": "@oven/bun-linux-x64-musl",
  "bun-linux-arm64": "@oven/bun-linux-aarch64",
  "bun-linux-arm64-musl": "@oven/bun-linux-aarch64-musl",
} as const satisfies Record<string, string>;

type LinuxTarget = keyof typeof LINUX_TARGETS;

const TARGET_NAMES = Object.keys(LINUX_TARGETS) as LinuxTarget[];

const USAGE = `Usage: bun scripts/build.ts [options]

Build the agent into a standalone executable.

Options:
  --target TARGET         Platform of the executable: ${TARGET_NAMES.slice(0, 2).join(", ")},
                          ${TARGET_NAMES.slice(2).join(", ")}, or "all" for these four.
                          Repeat the option for several.
                          Default: Linux on this machine's CPU architecture, written to
                          dist/cpa.
                          A named target is written to dist/cpa-<target without "bun-">.
  --outfile FILE          Write the executable to FILE. Only with a single target.
  --entry FILE            Entry point to compile. Default: src/main.ts.
  --executable-path FILE  Bun runtime to embed, in place of the one Bun downloads for a
                          target of another platform. Only with a single target.
  -h, --help              Print this help.`;

interface BuildJob {
  target: LinuxTarget;
  outfile: string;
}

/** Print `message` and the usage hint to stderr, then exit with status 2. */
function failUsage(message: string): never {
  console.error(`error: ${message}`);
  console.error('Run "bun scripts/build.ts --help" for the options.');
  process.exit(2);
}

function isLinuxTarget(name: string): name is LinuxTarget {
  return Object.hasOwn(LINUX_TARGETS, name);
}

/**
 * Return the Linux target for the CPU architecture of this machine, because containers on a
 * development machine run on its architecture, also under Docker Desktop on macOS.
 */
function hostTarget(): LinuxTarget {
  const arm = process.arch === "arm64";
  // musl-based systems such as Alpine have this dynamic loader; glibc-based systems do not.
  const musl = process.platform === "linux" && existsSync(`/lib/ld-musl-${arm ? "aarch64" : "x86_64"}.so.1`);
  if (arm) {
    return musl ? "bun-linux-arm64-musl" : "bun-linux-arm64";
  }
  return musl ? "bun-linux-x64-musl" : "bun-linux-x64";
}

/** Turn the --target and --outfile options into one build job per target. */
function planJobs(targetOptions: string[], outfileOption: string | undefined): BuildJob[] {
  if (targetOptions.length === 0) {
    const outfile = outfileOption ?? path.join(DIST_DIR, "cpa");
    return [{ target: hostTarget(), outfile: path.resolve(outfile) }];
  }

  const targets = new Set<LinuxTarget>();
  for (const name of targetOptions) {
    if (name === "all") {
      TARGET_NAMES.forEach((target) => targets.add(target));
    } else if (isLinuxTarget(name)) {
      targets.add(name);
    } else {
      failUsage(`invalid --target "${name}": expected one of ${TARGET_NAMES.join(", ")}, or all`);
    }
  }

  if (outfileOption !== undefined && targets.size > 1) {
    failUsage(`--outfile takes a single target, but ${targets.size} targets were requested`);
  }
  return [...targets].map((target) => ({
    target,
    outfile: path.resolve(outfileOption ?? path.join(DIST_DIR, `cpa-${target.replace(/^bun-/, "")}`)),
  }));
}

/** Return `file` relative to the working directory when it lies below it, else absolute. */
function displayPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
}

/** Return the `version` field of the repository's package.json. */
async function readPackageVersion(): Promise<string> {
  const packageFile = path.join(REPO_ROOT, "package.json");
  const manifest: unknown = await Bun.file(packageFile).json();
  const version = typeof manifest === "object" && manifest !== null ? (manifest as { version?: unknown }).version : undefined;
  if (typeof version !== "string" || version === "") {
    console.error(`error: ${packageFile} has no "version" string, which the build stamps into the executable`);
    process.exit(1);
  }
  return version;
}

function formatSize(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB, ${bytes} bytes`;
}

/** Explain a failed download of the Bun runtime that a target of another platform needs. */
function printDownloadHelp(target: LinuxTarget): void {
  const npmPackage = `${LINUX_TARGETS[target]}@${Bun.version}`;
  console.error(
    [
      `Bun could not download its runtime for ${target}.`,
      "An executable for another platform embeds the Bun runtime of that platform, which Bun",
      `downloads from the npm registry (package ${npmPackage}) and caches in`,
      "~/.bun/install/cache (BUN_INSTALL_CACHE_DIR moves the cache).",
      "Check the network access and proxy settings of this machine, or build only for this",
      `machine with "bun scripts/build.ts", or extract bin/bun from ${npmPackage}`,
      `and pass it with --target ${target} --executable-path FILE.`,
    ].join("\n"),
  );
}

/** Build one executable and report its path and size. Returns whether the build succeeded. */
async function buildOne(job: BuildJob, entry: string, version: string, executablePath: string | undefined): Promise<boolean> {
  console.log(`building ${displayPath(job.outfile)} for ${job.target}, version ${version}`);

  let result: Awaited<ReturnType<typeof Bun.build>>;
  try {
    result = await Bun.build({
      entrypoints: [entry],
      target: "bun",
      // ESM bytecode, unlike CommonJS bytecode, supports top-level await in the entry.
      format: "esm",
      bytecode: true,
      // Identifiers stay unminified because error classes set `this.name = new.target.name`.
      // NOTE: Bun 1.4.5 accepts `keepNames` but still renames classes and functions.
      minify: { whitespace: true, syntax: true, identifiers: false },
      sourcemap: "linked",
      // src/version.ts reads the version from this global.
      define: { CPA_VERSION: JSON.stringify(version) },
      compile: {
        target: job.target,
        outfile: job.outfile,
        ...(executablePath === undefined ? {} : { executablePath }),
        // The agent takes its configuration from the config file and the environment, so a
        // .env or bunfig.toml in the working directory of the user's image must not change it.
        autoloadDotenv: false,
        autoloadBunfig: false,
      },
      throw: false,
    });
  } catch (error) {
    console.error(`error: build for ${job.target} failed: ${String(error)}`);
    return false;
  }

  if (!result.success) {
    console.error(`error: build for ${job.target} failed:`);
    for (const log of result.logs) {
      console.error(String(log));
    }
    if (result.logs.some((log) => String(log).includes("Failed to download"))) {
      printDownloadHelp(job.target);
    }
    return false;
  }

  const size = statSync(job.outfile).size;
  console.log(`wrote ${displayPath(job.outfile)} (${job.target}, ${formatSize(size)})`);
  return true;
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions();
  } catch (error) {
    failUsage(error instanceof Error ? error.message : String(error));
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }

  const jobs = planJobs(values.target ?? [], values.outfile);
  const executablePathOption = values["executable-path"];
  let executablePath: string | undefined;
  if (executablePathOption !== undefined) {
    if (jobs.length > 1) {
      failUsage(`--executable-path takes a single target, but ${jobs.length} targets were requested`);
    }
    executablePath = path.resolve(executablePathOption);
    if (!existsSync(executablePath)) {
      failUsage(`--executable-path file not found: ${executablePath}`);
    }
  }

  const entry = path.resolve(values.entry ?? DEFAULT_ENTRY);
  if (!existsSync(entry)) {
    failUsage(`entry file not found: ${entry}. Pass another entry with --entry FILE.`);
  }

  const version = await readPackageVersion();
  const failed: LinuxTarget[] = [];
  for (const job of jobs) {
    if (!(await buildOne(job, entry, version, executablePath))) {
      failed.push(job.target);
    }
  }

  if (failed.length > 0) {
    console.error(`error: ${failed.length} of ${jobs.length} builds failed: ${failed.join(", ")}`);
    return 1;
  }
  return 0;
}

function parseOptions() {
  return parseArgs({
    args: Bun.argv.slice(2),
    options: {
      target: { type: "string", multiple: true },
      outfile: { type: "string" },
      entry: { type: "string" },
      "executable-path": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
}

process.exit(await main());
