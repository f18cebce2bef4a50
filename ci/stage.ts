/**
 * The contract between the entry (`ci/main.ts`, `ci/pipeline.ts`) and each stage in `ci/stages/<name>/`.
 * Types only. The stage list itself is `ci/stages/index.ts`.
 */
import type { PipelineConfig, TestKind } from "./config.js";
import type { BuildSpec, Engine, LineSink, RunSpec } from "./engine.js";
import type { CellResult, RowRunner, Status } from "./progress.js";

export type { CellResult, Status };

/** What a stage gives back; a stage reports failure here rather than throwing when it can. */
export interface StageResult<Out = unknown> {
  status: Status;
  /** One line: why it failed or was skipped, or a short summary (e.g. counts by severity). */
  detail?: string;
  cells?: CellResult[];
  /** Extra Markdown for GITHUB_STEP_SUMMARY (e.g. a scan table). */
  markdown?: string;
  /** Skipped because the config says so (scan.enabled: false): it does not hold back the stages after it. */
  intended?: boolean;
  /** Handed in memory to the stages that need this one. */
  output?: Out;
}

/** What the command line tells the stages (after the config file; the CLI wins). */
export interface StageOptions {
  /** Test kinds selected with `--only` (default all of config.test.kinds). */
  only: TestKind[];
  failFast: boolean;
  /** `build --push`: also publish the image. */
  push: boolean;
  /** `--registry`: where `--push` publishes (wins over the config's build.registry and CODEX_REGISTRY). */
  registry?: string;
  /** `deploy --env <name>`. */
  env?: string;
  /** `deploy --down` tears the stack down; `--volumes` also removes named volumes. */
  down: boolean;
  volumes: boolean;
}

/** The environment, read once by the entry (`ci/settings.ts`); no stage reads `process.env`. */
export interface Settings {
  /** Extra CA bundle for npm in steps and builds: `--ca-file`, else `NODE_EXTRA_CA_CERTS`. */
  caFile?: string;
  /** Facts CI systems give about the commit (image labels and tags). */
  ci: {
    sha?: string;
    headRef?: string;
    refType?: string;
    refName?: string;
    repository?: string;
    serverUrl?: string;
    sourceDateEpoch?: string;
  };
  /** `build --push` target and credentials from `CODEX_REGISTRY*`. */
  registry: {
    repository?: string;
    username?: string;
    password?: string;
    passwordFile?: string;
  };
  /** `COMPOSE_PROJECT_NAME`. */
  composeProject?: string;
  /** Secrets the compose stack receives from the caller's environment (GITHUB_TOKEN), when set. */
  stackSecrets: Record<string, string>;
  /** Plain variables the compose stack reads (ports, bind address, images), as set in the caller's environment. */
  stackEnv?: Record<string, string>;
  /** `DOCKER_CONTEXT` (when DOCKER_HOST is unset): docker-compose v1 honours only its `--context` flag. */
  dockerContext?: string;
}

/** Everything a stage gets. `config` already has the CLI's overrides (--node, --platform) applied. */
export interface StageContext {
  engine: Engine;
  config: PipelineConfig;
  options: StageOptions;
  settings: Settings;
  /** Absolute repo root; host paths in specs are relative to it. */
  root: string;
  /** Unique per pipeline run; engines label resources with it. */
  runId: string;
  /** Progress line, prefixed "[stage]". */
  log: LineSink;
  /** Progress sink for one cell, prefixed "[stage cell]"; a row's own lines go through its `RowHooks`. */
  cellLog(cell: string): LineSink;
  /**
   * Runs a cell's work as one row of the summary: `ctx.row(name, (row) => ctx.engine.run({ ...spec, ...row }))`.
   * The entry shows, times and logs it and may wrap it (a trace span); every row of a stage goes through here.
   */
  row: RowRunner;
  /** Aborted on Ctrl-C, or on the first failure with --fail-fast. */
  signal: AbortSignal;
}

/** What describing a stage needs: the same as running it, without an engine. */
export type PlanContext = Pick<StageContext, "config" | "options" | "settings" | "root">;

/** One piece of a stage's work, as `--plan` shows it and `run` does it. */
export type Job =
  /** A container and its steps. */
  | { kind: "run"; spec: RunSpec }
  /** One platform of a Dockerfile. */
  | { kind: "build"; name: string; spec: BuildSpec }
  /** Work that is not a container of its own (exports, publishing, compose), in words. */
  | { kind: "action"; name: string; lines: string[] };

/**
 * A stage. `describe` and `run` share one description of the work, so `--plan` shows what `run` does.
 * `In` is what it receives from the stages it needs; `Out` what it hands on.
 */
export interface Stage<Out = unknown, In extends object = object> {
  readonly name: string;
  /** One line for `--help` and the README. */
  readonly about: string;
  /** Stages that must pass first when they are selected (a stage skipped on purpose does not hold it back). */
  readonly needs: readonly string[];
  /** True when, with these options, the stage needs nothing before it (`deploy --down`). */
  standalone?(options: StageOptions): boolean;
  describe(ctx: PlanContext): Promise<Job[]>;
  run(ctx: StageContext, inputs: Partial<In>): Promise<StageResult<Out>>;
}
