/** The rows of a stage's summary: one timer for every cell, and one rule for what the rows add up to. */
import type { LineSink, StepError } from "../engine.js";
import type { CellResult, RowHooks, RowOptions, RowRunner, Timed } from "../progress.js";
import type { StageResult } from "../stage.js";

export type { Timed };

/**
 * Runs `fn` as one row. Its time starts when `fn` calls `started` (when it gets a `--jobs` slot), else at
 * once. A throw becomes a failed row with the error's first line, or a skipped "cancelled" row when `signal`
 * was aborted meanwhile, unless a step really failed (it has an exit code): the row that caused a
 * --fail-fast abort stays failed. `judge` may fail a row whose work returned.
 */
export async function timed<T>(
  name: string,
  fn: (started: () => void) => Promise<T>,
  signal?: AbortSignal,
  judge?: RowOptions<T>["judge"],
): Promise<Timed<T>> {
  let t0 = Date.now();
  const started = () => {
    t0 = Date.now();
  };
  try {
    const value = await fn(started);
    const cell: CellResult = { name, status: "passed", durationMs: Date.now() - t0 };
    const judged = judge?.(value);
    if (judged) {
      cell.status = judged.status;
      if (judged.detail !== undefined) cell.detail = firstLine(judged.detail);
    }
    return { cell, value };
  } catch (error) {
    const exit = (error as Partial<StepError>).exitCode;
    const cancelled = signal?.aborted === true && !(typeof exit === "number" && exit >= 0);
    return {
      cell: {
        name,
        status: cancelled ? "skipped" : "failed",
        durationMs: Date.now() - t0,
        detail: cancelled ? "cancelled" : firstLine((error as Error).message),
      },
      error,
    };
  }
}

/** What marks a row's span failed: the row failed (a cancelled row is not a failure). */
export const rowFailure = ({ cell }: Timed<unknown>): string | undefined =>
  cell.status === "failed" ? cell.detail || "failed" : undefined;

/** The first line of a message: a row holds one line; the rest is in the log. */
export const firstLine = (text: string): string => text.split("\n", 1)[0] ?? "";

/**
 * Rows with no display behind them (tests, a stage run on its own): each row's lines go to `cellLog(name)`,
 * its queue and step events nowhere.
 */
export function localRows(cellLog: (cell: string) => LineSink): RowRunner {
  return async (name, fn, opts = {}) => {
    const log = cellLog(name);
    const result = await timed(
      name,
      (started) => {
        const hooks: RowHooks = {
          log,
          quietLog: () => {},
          queued: () => {},
          started,
          step: () => {},
        };
        return fn(hooks);
      },
      opts.signal,
      opts.judge,
    );
    // The row holds the first line; the rest of the message goes to the log.
    const message = result.error instanceof Error ? result.error.message : "";
    if (result.cell.status === "failed" && message.includes("\n"))
      for (const line of message.split("\n")) log(line);
    return result;
  };
}

/**
 * What the rows add up to: failed when any failed (naming them), skipped when any was cancelled, else passed
 * with `passed` as the detail.
 */
export function summarize(cells: CellResult[], passed: string): StageResult {
  const failed = cells.filter((c) => c.status === "failed");
  if (failed.length)
    return {
      status: "failed",
      detail: `${failed.length} of ${cells.length} failed: ${failed.map((c) => c.name).join(", ")}`,
      cells,
    };
  if (cells.some((c) => c.status === "skipped" && c.detail === "cancelled"))
    return { status: "skipped", detail: "cancelled", cells };
  return { status: "passed", detail: passed, cells };
}
