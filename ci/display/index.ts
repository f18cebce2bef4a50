/**
 * How a run shows itself, in one of three modes chosen once by the entry:
 * - `tty`: a live board redrawn in place (board.ts); each row's output only in its log file, the last lines
 *   of a failure under the board when it stops;
 * - `plain`: every line as it comes, prefixed "[stage]" or "[stage cell]", no cursor codes, no colour;
 * - `github`: plain, with each row's lines in a `::group::` written when the row ends, a failing row's lines
 *   outside any group, and an `::error` annotation per failure.
 * In every mode each row's full output goes to `reports/logs/<stage>/<cell>.log` (logs.ts).
 *
 * Stages reach it only through their context: `ctx.log`, `ctx.cellLog(cell)` and `ctx.row(name, fn)`. A row's
 * work runs inside `wrap.row` and a stage's inside `wrap.stage`, where a trace span can be made active.
 */

import type { LineSink } from "../engine.js";
import { firstLine, timed } from "../lib/cells.js";
import { duration, setWriter, write } from "../lib/log.js";
import type { CellResult, RowHooks, RowOptions, RowRunner, Status, Timed } from "../progress.js";
import { LiveBoard, renderBoard } from "./board.js";
import * as gh from "./github.js";
import { LogFiles } from "./logs.js";
import { type Failure, type GroupState, pushTail, type RowState } from "./model.js";

export type ProgressMode = "tty" | "plain" | "github";

/** Where the display writes: process.stdout, or a test's capture. */
export interface Output {
  write(text: string): unknown;
  columns?: number;
  rows?: number;
}

/** What can run around a stage's or a row's work (a trace span); the row's wrapper sees its result. */
export interface Wrap {
  stage?<T>(stage: string, fn: () => Promise<T>): Promise<T>;
  row?<T>(stage: string, row: string, fn: () => Promise<Timed<T>>): Promise<Timed<T>>;
}

export interface DisplayOptions {
  mode: ProgressMode;
  /** Colour on the board (never in plain output); false under NO_COLOR. */
  color?: boolean;
  out?: Output;
  /** reports/logs: every row's log file under it; none when unset. */
  logDir?: string;
  /** The board header's first words. */
  title?: string;
  /** `--jobs`, for the header's slots in use. */
  jobs?: number;
  wrap?: Wrap;
}

/** How a group (a stage) ended, as its report says. */
export interface GroupEnd {
  status: Status;
  durationMs: number;
  detail?: string;
  cells?: CellResult[];
}

/** One group's handle: what a stage's context is made of, and its start and end. */
export interface Group {
  log: LineSink;
  cellLog(cell: string): LineSink;
  row: RowRunner;
  /** Not started yet: shows what it waits for. */
  waiting(why: string): void;
  start(): void;
  /** Runs the group's work inside `wrap.stage`. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  end(result: GroupEnd): void;
}

/** Splits text handed to a line sink into lines. */
const linesOf = (text: string) => text.split(/\r?\n/);

export class Display {
  readonly mode: ProgressMode;
  private readonly groups: GroupState[] = [];
  private readonly failures: Failure[] = [];
  private readonly logs: LogFiles;
  private readonly out: Output;
  private readonly started = Date.now();
  private board?: LiveBoard;
  /** A board was drawn: its failures' last lines print under it at the end. */
  private drawn = false;
  private restoreWriter?: (text: string) => void;

  constructor(private readonly opts: DisplayOptions) {
    this.mode = opts.mode;
    this.out = opts.out ?? process.stdout;
    this.logs = new LogFiles(opts.logDir);
  }

  /** A line of the run itself ("[pipeline] run …"): printed off the board; the board's header says it. */
  line(text: string): void {
    if (this.mode !== "tty") this.print(`${text}\n`);
  }

  /** Text printed as is, above the board while it is up. */
  print(text: string): void {
    if (this.board) this.board.print(text);
    else this.out.write(text);
  }

  /** The frame as it stands (for the board, and tests). */
  frame(now = Date.now()): string {
    return renderBoard(this.groups, {
      title: this.opts.title ?? "codex-ci",
      ...(this.opts.jobs ? { jobs: this.opts.jobs } : {}),
      started: this.started,
      now,
      columns: this.out.columns ?? 100,
      rows: this.out.rows ?? 40,
      color: this.opts.color ?? false,
      ...(this.failures.length ? { failure: this.failures.at(-1) } : {}),
    });
  }

  /** Starts the board on the first group (tty mode); anything written meanwhile goes above it. */
  private ensureBoard(): void {
    if (this.mode !== "tty" || this.board) return;
    this.board = new LiveBoard(this.out as NodeJS.WritableStream, () => this.frame());
    this.drawn = true;
    this.restoreWriter = write;
    const board = this.board;
    setWriter((t) => board.print(t));
    board.start();
  }

  /** Stops the board: its last frame stays, the cursor shows again. Safe to call more than once. */
  stop(): void {
    if (!this.board) return;
    this.board.stop();
    this.board = undefined;
    if (this.restoreWriter) setWriter(this.restoreWriter);
  }

  /** Stops the board, prints the failures' last lines under it (tty), and closes the log files. */
  async close(): Promise<void> {
    this.stop();
    if (this.drawn)
      for (const f of this.failures.splice(0)) {
        const lines = [`\n✘ ${f.title}: ${f.detail}`];
        if (f.tail.length) lines.push(...f.tail.map((t) => `  │ ${t}`));
        if (f.log) lines.push(`  full log: ${f.log}`);
        this.out.write(`${lines.join("\n")}\n`);
      }
    await this.logs.close();
  }

  /** A new group of rows, shown in the order groups are made. */
  group(name: string): Group {
    this.logs.clear(name);
    const g: GroupState = {
      name,
      state: "waiting",
      rows: [],
      tail: [],
      file: this.logs.open(name),
      annotated: false,
    };
    this.groups.push(g);
    this.ensureBoard();
    const log: LineSink = (text) => {
      for (const l of linesOf(text)) {
        g.file.write(l);
        pushTail(g.tail, l);
        g.step = l;
        if (this.mode !== "tty") this.print(`[${name}] ${l}\n`);
      }
    };
    return {
      log,
      cellLog: (cell) => (text) => this.rowLines(g, this.rowOf(g, cell, false), text, true),
      row: <T>(rowName: string, fn: (row: RowHooks) => Promise<T>, opts?: RowOptions<T>) =>
        this.runRow(g, rowName, fn, opts),
      waiting: (why) => {
        g.step = why;
      },
      start: () => {
        g.state = "running";
        g.t0 = Date.now();
        log("started");
        g.step = undefined;
      },
      run: (fn) => (this.opts.wrap?.stage ? this.opts.wrap.stage(name, fn) : fn()),
      end: (r) => this.endGroup(g, r, log),
    };
  }

  /** The row named `name` in `g`, made (as running, from now; on the board when `shown`) when new. */
  private rowOf(g: GroupState, name: string, shown: boolean): RowState {
    let r = g.rows.find((x) => x.name === name);
    if (!r) {
      r = {
        name,
        state: "running",
        t0: Date.now(),
        slot: false,
        steps: 0,
        cachedSteps: 0,
        open: false,
        buffer: [],
        tail: [],
        file: this.logs.open(g.name, name),
        annotated: false,
        shown,
      };
      g.rows.push(r);
    }
    r.shown ||= shown;
    return r;
  }

  /** Lines of a row: its file and tail always; the console as the mode says (`echo` false: file only). */
  private rowLines(g: GroupState, r: RowState, text: string, echo: boolean): void {
    for (const l of linesOf(text)) {
      r.file.write(l);
      pushTail(r.tail, l);
      if (!echo || this.mode === "tty") continue;
      const shown = `[${g.name} ${r.name}] ${l}`;
      if (this.mode === "github" && r.open) r.buffer.push(shown);
      else this.print(`${shown}\n`);
    }
  }

  /** One row's work: shown, timed, logged, wrapped; see `RowRunner`. */
  private async runRow<T>(
    g: GroupState,
    name: string,
    fn: (row: RowHooks) => Promise<T>,
    opts: RowOptions<T> = {},
  ): Promise<Timed<T>> {
    const r = this.rowOf(g, name, true);
    Object.assign(r, { state: "running", t0: Date.now(), open: true, buffer: [], slot: false });
    r.ms = undefined;
    const hooks = (started: () => void): RowHooks => ({
      log: (l) => this.rowLines(g, r, l, true),
      quietLog: (l) => this.rowLines(g, r, l, false),
      queued: () => {
        r.state = "queued";
      },
      started: () => {
        started();
        Object.assign(r, { state: "running", t0: Date.now(), slot: true });
        if (this.mode === "github") this.print(`[${g.name} ${name}] started\n`);
      },
      step: (step, cached) => {
        r.step = step;
        r.steps += 1;
        if (cached) r.cachedSteps += 1;
      },
    });
    const work = () => timed(name, (started) => fn(hooks(started)), opts.signal, opts.judge);
    const result = await (this.opts.wrap?.row ? this.opts.wrap.row(g.name, name, work) : work());
    // The row holds one line; the whole message goes to its log.
    const message = result.error instanceof Error ? result.error.message : undefined;
    if (result.cell.status === "failed" && message && message.includes("\n"))
      this.rowLines(g, r, message, true);
    this.endRow(g, r, result.cell);
    return result;
  }

  /** A row is done: its state and time; its group (GitHub), a failure's tail and annotation. */
  private endRow(g: GroupState, r: RowState, cell: CellResult): void {
    const cached = cell.status === "passed" && r.steps > 0 && r.cachedSteps === r.steps;
    Object.assign(r, {
      state: cached ? "cached" : cell.status,
      ms: cell.durationMs,
      detail: cell.detail,
      slot: false,
      open: false,
    });
    const title = `${g.name} ${r.name}`;
    const summary = `${cell.status} in ${duration(cell.durationMs)}${cell.detail ? `: ${cell.detail}` : ""}`;
    if (cell.status === "failed")
      this.failures.push({
        title,
        detail: cell.detail ?? "failed",
        tail: [...r.tail],
        ...(r.file.path ? { log: r.file.path } : {}),
      });
    if (this.mode === "plain") {
      this.print(`[${title}] ${summary}\n`);
      if (cell.status === "failed" && r.file.path) this.print(`[${title}] log: ${r.file.path}\n`);
    }
    if (this.mode !== "github") return;
    // A failing row is left outside any group, whole: Actions shows a failed step's log with its groups
    // folded, and the assertion that failed is often far above the last lines (a TAP or uvu summary).
    const out =
      cell.status === "failed"
        ? [...r.buffer, `[${title}] ${summary}`]
        : [gh.group(title), ...r.buffer, gh.endGroup, `[${title}] ${summary}`];
    r.buffer = [];
    if (cell.status === "failed") {
      if (r.file.path) out.push(`[${title}] log: ${r.file.path}`);
      out.push(gh.error(title, cell.detail ?? "failed"));
      r.annotated = true;
    }
    this.print(`${out.join("\n")}\n`);
  }

  /**
   * A group ends: its line and, on the board, its rows become the summary's rows. On GitHub a failure not yet
   * annotated through a row is annotated from the summary (a failed check) or the stage itself.
   */
  private endGroup(g: GroupState, r: GroupEnd, log: LineSink): void {
    const rowAnnotated = g.rows.some((x) => x.annotated);
    Object.assign(g, {
      state: r.status,
      ms: r.durationMs,
      detail: firstLine(r.detail ?? ""),
      step: undefined,
    });
    if (g.t0 !== undefined)
      log(`${r.status} in ${duration(r.durationMs)}${r.detail ? `: ${r.detail}` : ""}`);
    else if (this.mode !== "tty")
      this.print(`[${g.name}] ${r.status}${r.detail ? `: ${r.detail}` : ""}\n`);
    if (r.cells)
      g.rows = r.cells.map((c) => {
        const row = this.rowOf(g, c.name, true);
        const cached = c.status === "passed" && (c.detail === "cached" || row.state === "cached");
        return Object.assign(row, {
          state: cached ? "cached" : c.status,
          ms: c.durationMs,
          detail: c.detail,
          slot: false,
        });
      });
    if (r.status !== "failed") return;
    // A stage whose rows failed has their tails already; one that failed by itself (deploy) gets its own.
    if (!this.failures.some((f) => f.title.startsWith(`${g.name} `)))
      this.failures.push({
        title: g.name,
        detail: firstLine(r.detail ?? "failed"),
        tail: [...g.tail],
        ...(g.file.path ? { log: g.file.path } : {}),
      });
    if (this.mode !== "github" || g.annotated) return;
    g.annotated = true;
    if (rowAnnotated) return;
    const failed = (r.cells ?? []).filter((c) => c.status === "failed");
    const notes = failed.length
      ? failed.map((c) => gh.error(`${g.name} ${c.name}`, firstLine(c.detail ?? "failed")))
      : [gh.error(g.name, firstLine(r.detail ?? "failed"))];
    this.print(`${notes.join("\n")}\n`);
  }
}

/** What decides the mode besides `--progress`. */
export interface ModeFacts {
  /** stdout is a terminal. */
  isTTY: boolean;
  github: boolean;
  dumbTerminal: boolean;
  /** `--json` was asked for: a script is reading. */
  json: boolean;
}

/**
 * `--progress`: `tty` draws the board wherever it is told to; `plain` prints lines (GitHub's flavour under
 * Actions); `auto` draws the board only on a terminal that can move its cursor, outside Actions and --json.
 */
export function chooseMode(choice: "auto" | "tty" | "plain", f: ModeFacts): ProgressMode {
  if (choice === "tty") return "tty";
  if (f.github) return "github";
  if (choice === "plain" || f.json || !f.isTTY || f.dumbTerminal) return "plain";
  return "tty";
}
