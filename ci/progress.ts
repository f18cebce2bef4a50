/**
 * How work reports its progress to the entry, which shows it (a board on a terminal, prefixed lines in a pipe,
 * groups and annotations on GitHub) and keeps each row's log. Types only: stages get a `RowRunner` in their
 * context, the doctor and the offline images one from the entry; engines call the hooks through their specs.
 */
import type { LineSink, StepSink } from "./engine.js";

/** The outcome of a stage or row. */
export type Status = "passed" | "failed" | "skipped";

/** One matrix cell or sub-step of a stage: one row of the summary table. */
export interface CellResult {
  /** e.g. "node22/unit" or "linux/arm64". */
  name: string;
  status: Status;
  durationMs: number;
  /** One line: the failing step, or why skipped. The whole message is in the row's log. */
  detail?: string;
}

/** A row's result and, when its work returned, the value. */
export interface Timed<T> {
  cell: CellResult;
  value?: T;
  error?: unknown;
}

/**
 * What a row's work reports through. Shaped to be spread into a `RunSpec` or `BuildSpec`
 * (`engine.run({ ...spec, ...row })`), so the engine drives the row's step, queue and log.
 */
export interface RowHooks {
  /** Output and progress lines of the row: its log file, and the console as the display shows it. */
  log: LineSink;
  /** Lines the console already shows elsewhere (Dagger's own progress under `dagger run`): the log file only. */
  quietLog: LineSink;
  /** Waiting for a `--jobs` slot. */
  queued: () => void;
  /** Got its slot: the row's time starts here. */
  started: () => void;
  /** Now on this step (`npm ci`, `apt-get install`); `cached` when the engine serves it from its cache. */
  step: StepSink;
}

/** How a row ends besides its work returning or throwing. */
export interface RowOptions<T> {
  /** Cancellation: a throw after it aborted reads as a skipped "cancelled" row. */
  signal?: AbortSignal;
  /** The row's outcome from its value, where work that returned can still fail the row (a scan verdict). */
  judge?: (value: T) => Pick<CellResult, "status" | "detail"> | undefined;
}

/**
 * Runs `fn` as one row: the entry shows it, times it, keeps its log, and runs it inside whatever it wraps rows
 * in (a trace span). A throw becomes a failed (or cancelled) row; the promise never rejects.
 */
export type RowRunner = <T>(
  name: string,
  fn: (row: RowHooks) => Promise<T>,
  opts?: RowOptions<T>,
) => Promise<Timed<T>>;
