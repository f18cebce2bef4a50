/** Errors both engines raise: a failing step (names the run and step, never secrets), no engine at all. */
import type { StepError } from "../engine.js";

/** Lines of output kept for the summary. */
const TAIL_LINES = 15;

/** A step that exited non-zero (or was cancelled). */
export class StepFailed extends Error implements StepError {
  override name = "StepFailed";
  readonly tail: string;
  constructor(
    readonly run: string,
    readonly step: string,
    readonly exitCode: number,
    output: string,
  ) {
    super(
      exitCode < 0
        ? `${run}: step "${step}" was cancelled`
        : `${run}: step "${step}" failed with exit code ${exitCode}`,
    );
    this.tail = output.trimEnd().split("\n").slice(-TAIL_LINES).join("\n");
  }
}

/** True for a StepError from either engine. */
export function isStepError(e: unknown): e is StepError {
  return e instanceof Error && typeof (e as Partial<StepError>).step === "string";
}

/** No engine can run: printed as is, exit 2. */
export class EngineUnavailable extends Error {
  override name = "EngineUnavailable";
}
