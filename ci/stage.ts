/**
 * The contract between `ci/main.ts` and each `ci/stages/<name>.ts`.
 *
 * A stage module exports:
 * ```ts
 * export const run: StageFn;            // does the work on ctx.engine
 * export const plan: PlanFn;            // the containers it would run, for `--plan` (no side effects)
 * ```
 * main.ts imports stage modules dynamically, so a missing file is a clear error for that stage only.
 * Types only. Stable: add, don't rename.
 */
import type { PipelineConfig, TestKind } from "./config.js";
import type { Engine, LineSink, Secret } from "./engine.js";

/** Stage names, in the order the summary lists them. */
export type StageName = "lint" | "test" | "build" | "scan" | "deploy";

/** The outcome of a stage or cell. */
export type Status = "passed" | "failed" | "skipped";

/** One matrix cell or sub-step of a stage, one row of the summary table. */
export interface CellResult {
  /** e.g. "node22/unit" or "linux/arm64". */
  name: string;
  status: Status;
  durationMs: number;
  /** One line: the failing step, or why skipped. */
  detail?: string;
}

/** What a stage gives back; a stage reports failure here rather than throwing when it can. */
export interface StageResult {
  status: Status;
  /** One line: why it failed or was skipped, or a short summary (e.g. counts by severity). */
  detail?: string;
  cells?: CellResult[];
  /** Extra Markdown for GITHUB_STEP_SUMMARY (e.g. a scan table). */
  markdown?: string;
}

/** Options from the CLI that stages read (after the config file, CLI wins). */
export interface StageOptions {
  /** Test kinds selected with `--only` (default all of config.test.kinds). */
  only: TestKind[];
  failFast: boolean;
  /** `build --push`: publish instead of exporting tarballs. */
  push: boolean;
  /** `deploy --env <name>`. */
  env?: string;
  /** `deploy --down` tears the stack down; `--volumes` also removes named volumes. */
  down: boolean;
  volumes: boolean;
}

/** Everything a stage gets. `config` already has CLI overrides (--node, --platform) applied. */
export interface StageContext {
  engine: Engine;
  config: PipelineConfig;
  options: StageOptions;
  /** Absolute repo root; host paths in specs are relative to it. */
  root: string;
  /** Unique per pipeline run; engines label resources with it. */
  runId: string;
  /** Progress line, prefixed "[stage]". */
  log: LineSink;
  /** Progress sink for one cell, prefixed "[stage cell]". */
  cellLog(cell: string): LineSink;
  /** Extra CA bundle (from --ca-file or the host's NODE_EXTRA_CA_CERTS), to mount as a secret file. */
  ca?: Secret;
  /** Aborted on Ctrl-C, or on the first failure with --fail-fast. */
  signal: AbortSignal;
}

/** A stage's entry point. */
export type StageFn = (ctx: StageContext) => Promise<StageResult>;

/** A container a stage would run, for `--plan`. */
export interface PlannedRun {
  /** e.g. "node22/unit". */
  name: string;
  image: string;
  platform?: string;
  /** Each step's argv, joined for display. */
  steps: string[];
}

/** What `--plan` gets: the same config and options, no engine. */
export type PlanContext = Omit<StageContext, "engine" | "signal" | "log" | "cellLog" | "runId">;

/** A stage's plan: the containers it would run, without side effects. */
export type PlanFn = (ctx: PlanContext) => PlannedRun[] | Promise<PlannedRun[]>;

/** The shape of a `ci/stages/<name>.ts` module. */
export interface StageModule {
  run: StageFn;
  plan?: PlanFn;
}
