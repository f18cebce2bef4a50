/** What the display knows of a run: groups (a stage, the offline images, the setup fixes) and their rows. */
import type { Status } from "../progress.js";
import type { LogFile } from "./logs.js";

/** Where a row or group stands: not started, waiting for a slot, at work, or done. */
export type State = "waiting" | "queued" | "running" | "cached" | Status;

/** Lines of a row kept in memory for a failure's summary; the whole output is in its log file. */
export const TAIL_LINES = 15;

/** One row: a cell, platform, check or image. */
export interface RowState {
  name: string;
  state: State;
  /** When it started (or got its slot); its time runs from here until `ms` is set. */
  t0: number;
  ms?: number;
  /** The step it is on while running. */
  step?: string;
  /** One line, once done. */
  detail?: string;
  /** Holds a `--jobs` slot (started through the engine's queue and not done). */
  slot: boolean;
  steps: number;
  cachedSteps: number;
  /** Its work is running: lines still belong to it (GitHub groups buffer them). */
  open: boolean;
  buffer: string[];
  tail: string[];
  file: LogFile;
  /** An `::error` annotation was written for it. */
  annotated: boolean;
  /** On the board: run through `ctx.row` (a sink from `cellLog` alone makes a row that only logs). */
  shown: boolean;
}

/** A group of rows: a stage, or one command's work. */
export interface GroupState {
  name: string;
  state: State;
  t0?: number;
  ms?: number;
  /** While running: its latest line. Once done: its detail's first line. Waiting: what it waits for. */
  step?: string;
  detail?: string;
  rows: RowState[];
  tail: string[];
  file: LogFile;
  annotated: boolean;
}

/** A failure worth its last lines under the board. */
export interface Failure {
  title: string;
  detail: string;
  tail: string[];
  log?: string;
}

/** Keeps the last TAIL_LINES of `lines`. */
export function pushTail(tail: string[], line: string): void {
  tail.push(line);
  if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
}

/** A row's time so far, or in all. */
export const elapsed = (r: { t0?: number; ms?: number }, now: number): number | undefined =>
  r.ms ?? (r.t0 === undefined ? undefined : now - r.t0);
