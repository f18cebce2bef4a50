/** The pipeline's command line: parsed into typed options, or a UsageError (exit 2). */

import { parseArgs } from "node:util";
import { TEST_KINDS, type TestKind } from "./config.js";
import { ENVIRONMENTS } from "./deploy/environments.js";
import { defaultJobs } from "./engines/jobs.js";
import type { StageName } from "./stage.js";

export const STAGES: readonly StageName[] = ["lint", "test", "build", "scan", "deploy"];
export const ENGINES = ["dagger", "docker", "auto"] as const;
export type EngineChoice = (typeof ENGINES)[number];

/** Bad flags or arguments: printed with a hint, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** What the command line asks for. */
export interface CliOptions {
  /** "run" runs stages; "images" and "doctor" are the other commands. */
  command: "run" | "images" | "doctor" | "help";
  /** Stages named on the command line (empty: all). */
  stages: StageName[];
  skip: StageName[];
  engine: EngineChoice;
  node?: string[];
  platforms?: string[];
  only: TestKind[];
  failFast: boolean;
  /** At most this many containers and builds at once (default: one per CPU). */
  jobs: number;
  /** Re-run every step even when the engine has its result cached. */
  noCache: boolean;
  json?: string;
  plan: boolean;
  config: string;
  caFile?: string;
  /** images --offline / --force; doctor --fix. */
  offline: boolean;
  force: boolean;
  fix: boolean;
  /** build --push; deploy --env/--down/--volumes. */
  push: boolean;
  env?: string;
  down: boolean;
  volumes: boolean;
}

export const HELP = `Usage: npx tsx ci/main.ts [stage ...] [options]
       npx tsx ci/main.ts images --offline [--force]
       npx tsx ci/main.ts doctor [--fix]
       (or: dagger run npx tsx ci/main.ts ...)

Stages: ${STAGES.join(", ")} (default: all). scan needs build; deploy needs build, test and a passing scan.
A stage's dependencies run too unless --skip'ped.

Options:
  --engine dagger|docker|auto  engine (default auto: Dagger if a session or the dagger CLI is there, else Docker)
  --node 20,22                 Node versions of the test matrix (overrides the config)
  --platform linux/amd64,...   image platforms (overrides the config)
  --only unit,e2e              test kinds to run
  --fail-fast                  stop everything at the first failure
  --jobs <n>                   at most n containers and image builds at once (default: one per CPU, here ${defaultJobs()})
  --no-cache                   re-run steps whose results the engine has cached
  --json <file>                write a JSON report
  --plan                       print stages, order, dependencies and containers; run nothing
  --config <file>              config file (default ci/pipeline.yaml)
  --skip <stage>               leave a stage out (repeatable or comma-separated)
  --ca-file <file>             extra CA bundle for npm in steps (default: the host's NODE_EXTRA_CA_CERTS)
  --push                       build: publish the image instead of writing tarballs
  --env <name>                 deploy: environment (development, testing, staging, production)
  --down [--volumes]           deploy: tear the stack down (and its named volumes)
  --offline, --force           images: build offline stand-ins (even when present)
  --fix                        doctor: fix what it can
  --help                       this text

Exit codes: 0 all selected stages passed, 1 a stage failed, 2 usage or config error.`;

/** Splits comma-separated, repeatable values. */
function listOf(values: string[] | undefined): string[] | undefined {
  return values
    ?.flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
}

/** Checks each value is one of `allowed`. */
function check<T extends string>(flag: string, values: string[], allowed: readonly T[]): T[] {
  for (const v of values)
    if (!allowed.includes(v as T))
      throw new UsageError(`${flag}: unknown value "${v}"; expected one of ${allowed.join(", ")}`);
  return values as T[];
}

/** Parses argv (without node and script) into options. */
export function parseCli(argv: string[]): CliOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  const first = positionals[0];
  const command = v.help ? "help" : first === "images" || first === "doctor" ? first : "run";
  const stages = command === "run" ? check("stage", positionals, STAGES) : [];
  if (command !== "run" && command !== "help" && positionals.length > 1)
    throw new UsageError(`${command} takes no stage names; got ${positionals.slice(1).join(" ")}`);
  const node = listOf(v.node);
  for (const n of node ?? [])
    if (!/^\d+(\.\d+){0,2}$/.test(n))
      throw new UsageError(`--node: "${n}" is not a Node version such as 22`);
  const platforms = listOf(v.platform);
  for (const p of platforms ?? [])
    if (!/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/.test(p))
      throw new UsageError(`--platform: "${p}" is not a platform such as linux/arm64`);
  const jobs = v.jobs === undefined ? defaultJobs() : Number(v.jobs);
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new UsageError(`--jobs: "${v.jobs}" is not a positive whole number`);
  if (node?.length === 0) throw new UsageError("--node: expected at least one version");
  if (platforms?.length === 0) throw new UsageError("--platform: expected at least one platform");
  return {
    command,
    stages,
    skip: check("--skip", listOf(v.skip) ?? [], STAGES),
    engine: check("--engine", [v.engine ?? "auto"], ENGINES)[0] ?? "auto",
    node,
    platforms,
    only: check("--only", listOf(v.only) ?? [], TEST_KINDS),
    failFast: v["fail-fast"] ?? false,
    jobs,
    noCache: v["no-cache"] ?? false,
    json: v.json,
    plan: v.plan ?? false,
    config: v.config ?? "ci/pipeline.yaml",
    caFile: v["ca-file"],
    offline: v.offline ?? false,
    force: v.force ?? false,
    fix: v.fix ?? false,
    push: v.push ?? false,
    env: v.env === undefined ? undefined : check("--env", [v.env], ENVIRONMENTS)[0],
    down: v.down ?? false,
    volumes: v.volumes ?? false,
  };
}

/** node:util parseArgs with the pipeline's flags; strict, so unknown flags are usage errors. */
function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      engine: { type: "string" },
      node: { type: "string", multiple: true },
      platform: { type: "string", multiple: true },
      only: { type: "string", multiple: true },
      "fail-fast": { type: "boolean" },
      jobs: { type: "string", short: "j" },
      "no-cache": { type: "boolean" },
      json: { type: "string" },
      plan: { type: "boolean" },
      config: { type: "string" },
      skip: { type: "string", multiple: true },
      "ca-file": { type: "string" },
      offline: { type: "boolean" },
      force: { type: "boolean" },
      fix: { type: "boolean" },
      push: { type: "boolean" },
      env: { type: "string" },
      down: { type: "boolean" },
      volumes: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}
