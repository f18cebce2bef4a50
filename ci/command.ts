/** The command line, parsed into one command: run stages, the doctor, offline images, or help. */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { REGISTRY, TEST_KINDS } from "./config.js";
import type { StageOptions } from "./stage.js";
import { redactRegistry } from "./stages/build/registry.js";
import { ENVIRONMENTS } from "./stages/deploy/environments.js";
import { STAGE_NAMES, STAGES, type StageName } from "./stages/index.js";

export const ENGINES = ["dagger", "docker", "auto"] as const;
export type EngineChoice = (typeof ENGINES)[number];

/** `--progress`, as Dagger's: a live board on a terminal (auto), always (tty), or plain lines (plain). */
export const PROGRESS = ["auto", "tty", "plain"] as const;
export type ProgressChoice = (typeof PROGRESS)[number];

/** Bad flags or arguments: printed with a hint, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Config values the command line replaces. */
export interface Overrides {
  node?: string[];
  platforms?: string[];
}

export type Command =
  | { kind: "help" }
  | { kind: "doctor"; config: string; fix: boolean; progress: ProgressChoice }
  | {
      kind: "images";
      config: string;
      force: boolean;
      overrides: Overrides;
      progress: ProgressChoice;
    }
  | {
      kind: "run";
      config: string;
      overrides: Overrides;
      /** Stages named on the command line (empty: all). */
      stages: StageName[];
      skip: StageName[];
      engine: EngineChoice;
      /** At most this many containers and builds at once. */
      jobs: number;
      /** Re-run every step even when the engine has its result cached. */
      noCache: boolean;
      json?: string;
      plan: boolean;
      caFile?: string;
      options: StageOptions;
      progress: ProgressChoice;
    };

/** The default `--jobs`: one more than the CPUs, from the sweep in docs/pipeline.md ("The default --jobs"). */
export const defaultJobs = (): number => availableParallelism() + 1;

const needsText = STAGES.map((s) => (s.needs.length ? `${s.name} needs ${s.needs.join(", ")}` : ""))
  .filter(Boolean)
  .join("; ");

export const HELP = `Usage: npx tsx ci/main.ts [stage ...] [options]
       npx tsx ci/main.ts images --offline [--force] [--node v,...] [--platform p,...]
       npx tsx ci/main.ts doctor [--fix]
       (or: dagger run npx tsx ci/main.ts ...)

Stages (default: all):
${STAGES.map((s) => `  ${s.name.padEnd(8)} ${s.about}`).join("\n")}
${needsText}. A stage's dependencies run too unless --skip'ped.

Options:
  --engine dagger|docker|auto  engine (default auto: Dagger if a session or the dagger CLI is there, else Docker)
  --node 22,24                 Node versions of the test matrix (overrides the config)
  --platform linux/amd64,...   image platforms (overrides the config)
  --only unit,e2e              test kinds to run
  --fail-fast                  stop everything at the first failure
  --jobs <n>, -j <n>           at most n containers and image builds at once (default: CPUs + 1, here ${defaultJobs()})
  --no-cache                   re-run steps whose results the engine has cached
  --json <file>                write a JSON report
  --progress auto|tty|plain    a live board on a terminal (auto), always (tty), or plain lines (plain)
  --plan                       print stages, order, dependencies and containers; run nothing
  --config <file>              config file (default ci/pipeline.yaml)
  --skip <stage>               leave a stage out (repeatable or comma-separated)
  --ca-file <file>             extra CA bundle for npm in steps (default: the host's NODE_EXTRA_CA_CERTS)
  --push                       build: also publish the image (a multi-platform manifest list per tag)
  --registry <host/namespace>  build --push: where to (default: build.registry in the config, else CODEX_REGISTRY)
  --env <name>                 deploy: environment (${ENVIRONMENTS.join(", ")})
  --down [--volumes]           deploy: tear the stack down (and its named volumes); needs no other stage
  --offline, --force           images: build offline stand-ins (even when present)
  --fix                        doctor: fix what it can
  --help                       this text

Exit codes: 0 all selected stages passed, 1 a stage failed, 2 usage or config error, 130 interrupted.`;

/** Every flag, and the commands it belongs to. */
const FLAGS = {
  engine: { type: "string", for: ["run"] },
  node: { type: "string", multiple: true, for: ["run", "images"] },
  platform: { type: "string", multiple: true, for: ["run", "images"] },
  only: { type: "string", multiple: true, for: ["run"] },
  "fail-fast": { type: "boolean", for: ["run"] },
  jobs: { type: "string", short: "j", for: ["run"] },
  "no-cache": { type: "boolean", for: ["run"] },
  json: { type: "string", for: ["run"] },
  plan: { type: "boolean", for: ["run"] },
  config: { type: "string", for: ["run", "images", "doctor"] },
  skip: { type: "string", multiple: true, for: ["run"] },
  "ca-file": { type: "string", for: ["run"] },
  offline: { type: "boolean", for: ["images"] },
  force: { type: "boolean", for: ["images"] },
  fix: { type: "boolean", for: ["doctor"] },
  push: { type: "boolean", for: ["run"] },
  registry: { type: "string", for: ["run"] },
  env: { type: "string", for: ["run"] },
  down: { type: "boolean", for: ["run"] },
  volumes: { type: "boolean", for: ["run"] },
  progress: { type: "string", for: ["run", "images", "doctor"] },
  help: { type: "boolean", short: "h", for: ["run", "images", "doctor"] },
} as const;

/** Splits comma-separated, repeatable values. */
function listOf(values: string[] | undefined): string[] | undefined {
  return values
    ?.flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
}

/** Checks each value is one of `allowed`. */
function oneOf<T extends string>(flag: string, values: string[], allowed: readonly T[]): T[] {
  for (const v of values)
    if (!allowed.includes(v as T))
      throw new UsageError(`${flag}: unknown value "${v}"; expected one of ${allowed.join(", ")}`);
  return values as T[];
}

/** --node and --platform. */
function overridesOf(v: { node?: string[]; platform?: string[] }): Overrides {
  const node = listOf(v.node);
  for (const n of node ?? [])
    if (!/^\d+(\.\d+){0,2}$/.test(n))
      throw new UsageError(`--node: "${n}" is not a Node version such as 22`);
  const platforms = listOf(v.platform);
  for (const p of platforms ?? [])
    if (!/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/.test(p))
      throw new UsageError(`--platform: "${p}" is not a platform such as linux/arm64`);
  if (node?.length === 0) throw new UsageError("--node: expected at least one version");
  if (platforms?.length === 0) throw new UsageError("--platform: expected at least one platform");
  return { ...(node ? { node } : {}), ...(platforms ? { platforms } : {}) };
}

/** `--jobs`: a plain positive whole number (no 1e3, 0x10 or 1.5). */
function jobsOf(value: string | undefined): number {
  if (value === undefined) return defaultJobs();
  if (!/^[1-9]\d{0,3}$/.test(value))
    throw new UsageError(`--jobs: "${value}" is not a whole number from 1 to 9999`);
  return Number(value);
}

/** `--registry`: host[:port]/namespace, as the config's build.registry. */
function registryOf(value: string): string {
  if (!REGISTRY.test(value))
    throw new UsageError(
      `--registry: "${redactRegistry(value)}" is not host[:port]/namespace, e.g. ghcr.io/acme`,
    );
  return value;
}

/** Parses argv (without node and script) into a command. */
export function parseCommand(argv: string[]): Command {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return { kind: "help" };
  const first = positionals[0];
  const kind = first === "images" || first === "doctor" ? first : "run";
  for (const [flag, value] of Object.entries(v))
    if (
      value !== undefined &&
      !(FLAGS[flag as keyof typeof FLAGS].for as readonly string[]).includes(kind)
    )
      throw new UsageError(
        `--${flag} is not an option of ${kind === "run" ? "a pipeline run" : kind}`,
      );
  const config = v.config ?? "ci/pipeline.yaml";
  const progress = oneOf("--progress", [v.progress ?? "auto"], PROGRESS)[0] ?? "auto";
  if (kind !== "run" && positionals.length > 1)
    throw new UsageError(`${kind} takes no stage names; got ${positionals.slice(1).join(" ")}`);
  if (kind === "doctor") return { kind, config, progress, fix: v.fix ?? false };
  if (kind === "images") {
    if (!v.offline)
      throw new UsageError(
        "images: only `images --offline` is supported (builds stand-ins for the refs in the config)",
      );
    return { kind, config, progress, force: v.force ?? false, overrides: overridesOf(v) };
  }
  return {
    kind,
    config,
    progress,
    overrides: overridesOf(v),
    stages: oneOf("stage", positionals, STAGE_NAMES),
    skip: oneOf("--skip", listOf(v.skip) ?? [], STAGE_NAMES),
    engine: oneOf("--engine", [v.engine ?? "auto"], ENGINES)[0] ?? "auto",
    jobs: jobsOf(v.jobs),
    noCache: v["no-cache"] ?? false,
    ...(v.json !== undefined ? { json: v.json } : {}),
    plan: v.plan ?? false,
    ...(v["ca-file"] !== undefined ? { caFile: v["ca-file"] } : {}),
    options: {
      only: oneOf("--only", listOf(v.only) ?? [], TEST_KINDS),
      failFast: v["fail-fast"] ?? false,
      push: v.push ?? false,
      ...(v.registry !== undefined ? { registry: registryOf(v.registry) } : {}),
      ...(v.env !== undefined ? { env: oneOf("--env", [v.env], ENVIRONMENTS)[0] } : {}),
      down: v.down ?? false,
      volumes: v.volumes ?? false,
    },
  };
}

/** node:util parseArgs with every flag; strict, so unknown flags are usage errors. */
function parse(argv: string[]) {
  const options = Object.fromEntries(
    Object.entries(FLAGS).map(([k, { for: _, ...o }]) => [k, o]),
  ) as { [K in keyof typeof FLAGS]: Omit<(typeof FLAGS)[K], "for"> };
  return parseArgs({ args: argv, allowPositionals: true, strict: true, options });
}
