/**
 * The live board on a terminal: a header, one line per group and one per row under it, redrawn in place.
 * The terminal work (redrawing, clipping, hiding and showing the cursor) is `log-update`'s; this file only
 * lays out the frame.
 */
import { styleText } from "node:util";
import { createLogUpdate } from "log-update";
import { duration } from "../lib/log.js";
import { elapsed, type Failure, type GroupState, type RowState, type State } from "./model.js";

/** A spinner frame per redraw while running (on a terminal only; never in plain output). */
const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

const MARK: Record<Exclude<State, "running">, string> = {
  waiting: "·",
  queued: "○",
  cached: "↺",
  passed: "✔",
  failed: "✘",
  skipped: "–",
};

const COLOR: Record<State, Parameters<typeof styleText>[0]> = {
  waiting: "dim",
  queued: "dim",
  running: "yellow",
  cached: "cyan",
  passed: "green",
  failed: "red",
  skipped: "dim",
};

export interface FrameOptions {
  /** The header's first words, e.g. "codex-ci run lz3k · engine docker". */
  title: string;
  /** `--jobs`: the header shows slots in use out of it. */
  jobs?: number;
  started: number;
  now: number;
  columns: number;
  rows: number;
  color: boolean;
  /** The latest failure's last lines are shown under the rows while there is room. */
  failure?: Failure;
}

/** A group's or row's status: mark and word, e.g. "✔ passed". */
function statusText(state: State, now: number): string {
  const mark = state === "running" ? SPINNER[Math.floor(now / 120) % SPINNER.length] : MARK[state];
  return `${mark} ${state}`;
}

/** What a line says after the time: the step while running, the detail once done. */
function note(x: { state: State; step?: string; detail?: string }): string {
  if (x.state === "queued") return "waiting for a --jobs slot";
  if (x.state === "running" || x.state === "waiting") return x.step ?? "";
  // "↺ cached" says it already.
  return x.state === "cached" && x.detail === "cached" ? "" : (x.detail ?? "");
}

/** One board line: name, status, time, note; cut to the terminal's width, the status coloured. */
function line(
  name: string,
  x: { state: State; step?: string; detail?: string; t0?: number; ms?: number },
  width: number,
  o: FrameOptions,
): string {
  const ms = x.state === "waiting" ? undefined : elapsed(x, o.now);
  const status = statusText(x.state, o.now);
  const head = `${name.padEnd(width)}  `;
  const rest = `  ${(ms === undefined ? "" : duration(ms)).padStart(7)}  ${note(x)}`.trimEnd();
  const max = Math.max(0, o.columns - 1);
  const plain = `${head}${status.padEnd(9)}${rest}`;
  if (plain.length > max) return plain.slice(0, max);
  const coloured = o.color ? styleText(COLOR[x.state], status) : status;
  return `${head}${coloured}${" ".repeat(9 - status.length)}${rest}`;
}

/** True when a group is done and all right: its rows may fold away when the terminal is short. */
const settled = (g: GroupState) =>
  g.state === "passed" || g.state === "skipped" || g.state === "cached";

/** The whole frame: header, groups and rows (folding finished groups when short of lines), latest failure. */
export function renderBoard(all: GroupState[], o: FrameOptions): string {
  const groups = all.map((g) => ({ ...g, rows: g.rows.filter((r) => r.shown) }));
  const running = groups.flatMap((g) => g.rows).filter((r) => r.slot && r.ms === undefined).length;
  const header = [
    o.title,
    ...(o.jobs ? [`slots ${running}/${o.jobs}`] : []),
    duration(o.now - o.started),
  ].join(" · ");
  const names = groups.flatMap((g) => [g.name, ...g.rows.map((r) => `  ${r.name}`)]);
  const width = Math.min(40, Math.max(12, ...names.map((n) => n.length)));
  const budget = Math.max(3, o.rows - 1);
  let fold = new Set<(typeof groups)[number]>();
  const count = () => 1 + groups.reduce((n, g) => n + 1 + (fold.has(g) ? 0 : g.rows.length), 0);
  if (count() > budget) fold = new Set(groups.filter(settled));
  if (count() > budget) fold = new Set(groups.filter((g) => g.state !== "running"));
  const lines = [o.color ? styleText("bold", header) : header];
  for (const g of groups) {
    lines.push(line(g.name, g, width, o));
    if (fold.has(g)) continue;
    for (const r of g.rows) lines.push(line(`  ${r.name}`, r as RowState, width, o));
  }
  const room = budget - lines.length - 1;
  if (o.failure && room >= 3) {
    const tail = o.failure.tail.slice(-Math.min(10, room - 1));
    lines.push(`✘ ${o.failure.title}: last lines${o.failure.log ? ` (${o.failure.log})` : ""}`);
    for (const t of tail) lines.push(`  │ ${t}`.slice(0, Math.max(0, o.columns - 1)));
  }
  return lines.slice(0, budget).join("\n");
}

/** The frame written to a terminal stream, redrawn on a timer; `print` puts text above it. */
export class LiveBoard {
  private readonly update: ReturnType<typeof createLogUpdate>;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly frame: () => string,
    private readonly intervalMs = 150,
  ) {
    this.update = createLogUpdate(out);
  }

  start(): void {
    this.draw();
    this.timer = setInterval(() => this.draw(), this.intervalMs);
    this.timer.unref();
  }

  draw(): void {
    if (!this.stopped) this.update(this.frame());
  }

  /** Text that must not be lost (a warning, a signal's message): above the board, which is drawn again. */
  print(text: string): void {
    if (this.stopped) {
      this.out.write(text);
      return;
    }
    this.update.clear();
    this.out.write(text);
    this.draw();
  }

  /** Leaves the last frame on the screen and shows the cursor again. */
  stop(): void {
    if (this.stopped) return;
    if (this.timer) clearInterval(this.timer);
    this.draw();
    this.stopped = true;
    this.update.done();
  }
}
