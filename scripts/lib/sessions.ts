/** Session store reader: classifies `cdx-*` sessions from job.log and reads job.meta.json, re-reading only what changed. */
import { readdirSync, readFileSync, type Stats, statSync } from "node:fs";
import { setImmediate as tick } from "node:timers/promises";
import { fsError, type Problems } from "./problems.js";
import { afterLastNewline, readRange } from "./readfile.js";

export type SessionState = "running" | "completed" | "failed";
export type FinishedState = Exclude<SessionState, "running">;

/** Markers found so far in a job.log. */
export interface LogMarks {
  done: boolean;
  failed: boolean;
}

/** Adds the markers found in a piece of job.log: `CONTROL: DONE`, and `Exit Code: <n>` with n non-zero. */
export function scanJobLog(text: string, marks: LogMarks): LogMarks {
  const done = marks.done || text.includes("CONTROL: DONE");
  let failed = marks.failed;
  if (!failed && text.includes("Exit Code:")) {
    for (const m of text.matchAll(/Exit Code:[ \t]*(-?\d+)/g)) {
      if (Number(m[1]) !== 0) {
        failed = true;
        break;
      }
    }
  }
  return { done, failed };
}

/** State of a session from its markers; a non-zero exit code wins over DONE, since the job did fail. */
export function sessionState(marks: LogMarks): SessionState {
  if (marks.failed) return "failed";
  return marks.done ? "completed" : "running";
}

/** The `duration` (seconds) of a job.meta.json: a number, undefined when absent, or an Error when malformed. */
export function parseMetaDuration(text: string): number | undefined | Error {
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch (e) {
    return new Error(`corrupt JSON (${(e as Error).message})`);
  }
  if (typeof meta !== "object" || meta === null || Array.isArray(meta))
    return new Error("not a JSON object");
  const d = (meta as { duration?: unknown }).duration;
  if (d === undefined || d === null) return undefined;
  const n = typeof d === "string" && d.trim() !== "" ? Number(d) : d;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0)
    return new Error(`"duration" is not a non-negative number: ${JSON.stringify(d)}`);
  return n;
}

/** What a refresh reports upward: each session's finish and duration, once. */
export interface SessionEvents {
  finished(result: FinishedState): void;
  duration(seconds: number): void;
}

/** Identity of a file version: enough to tell "unchanged" from "appended" from "replaced". */
interface FileSig {
  ino: number;
  size: number;
  mtimeMs: number;
}

/** What we remember about one session between scrapes. */
interface Session {
  log?: FileSig;
  offset: number;
  marks: LogMarks;
  /** Excluded from the gauges while its job.log cannot be read. */
  bad: boolean;
  /** Which of the RECHECK_EVERY scrapes re-checks it once it has finished. */
  slot: number;
  /** The last scrape that listed it. */
  seen: number;
  counted: boolean;
  metaSig?: FileSig;
  durationObserved: boolean;
}

/** Largest slice of one job.log scanned in a scrape; the markers are written last, so a huge log is scanned from its tail. */
export const MAX_LOG_SCAN = 16 * 1024 * 1024;
/**
 * A finished session's files are re-checked on one scrape in RECHECK_EVERY (spread evenly over sessions), running
 * ones on every scrape: finished sessions do not change in practice, and a stat per session per scrape is what
 * dominates a steady scrape of a big store.
 */
export const RECHECK_EVERY = 10;
/** job.meta.json is small; anything bigger is not metadata. */
export const MAX_META_BYTES = 1024 * 1024;

/** Reads the session store incrementally; one instance lives as long as the exporter. */
export class SessionStore {
  private sessions = new Map<string, Session>();
  private scrape = 0;
  private nextSlot = 0;
  private listing: { names: string[]; mtimeMs: number; ino: number; at: number } | undefined;

  /** @param root CODEX_SESSIONS_ROOT; @param problems where unreadable input is reported (source "sessions"). */
  constructor(
    private readonly root: string,
    private readonly problems: Problems,
  ) {}

  /** Brings the view up to date: lists sessions, re-reads changed files, reports finishes and durations. */
  async refresh(events: SessionEvents): Promise<void> {
    let names: string[];
    try {
      names = this.list();
    } catch (e) {
      this.problems.report(
        "sessions",
        `root:${fsError(e)}`,
        `${this.root}: cannot list sessions (${fsError(e)})`,
      );
      this.sessions.clear();
      this.listing = undefined;
      return;
    }
    const turn = ++this.scrape % RECHECK_EVERY;
    let i = 0;
    for (const name of names) {
      if (!name.startsWith("cdx-")) continue;
      let s = this.sessions.get(name);
      if (!s) {
        s = {
          offset: 0,
          marks: { done: false, failed: false },
          bad: false,
          slot: this.nextSlot++ % RECHECK_EVERY,
          seen: 0,
          counted: false,
          durationObserved: false,
        };
        this.sessions.set(name, s);
      } else if (s.log && !s.bad && s.durationObserved && s.slot !== turn) {
        s.seen = this.scrape;
        continue; // Finished, fully read, and not its turn.
      }
      if (this.refreshSession(`${this.root}/${name}`, s, events)) s.seen = this.scrape;
      // Let /health and other requests through during a first scrape of a big store.
      if (++i % 2000 === 0) await tick();
    }
    // Sessions not listed this time were removed.
    for (const [name, s] of this.sessions) if (s.seen !== this.scrape) this.sessions.delete(name);
  }

  /**
   * Names in the sessions root. Reuses the last listing while the directory's mtime is unchanged and was already
   * over a second old when we listed it (file times are coarse: an entry added in the same tick would be missed).
   */
  private list(): string[] {
    const st = statSync(this.root);
    const l = this.listing;
    if (l && l.mtimeMs === st.mtimeMs && l.ino === st.ino && l.at - st.mtimeMs > 1000)
      return l.names;
    // Names only: Dirent objects for 10,000 entries per scrape are garbage we do not need.
    const names = readdirSync(this.root);
    this.listing = { names, mtimeMs: st.mtimeMs, ino: st.ino, at: Date.now() };
    return names;
  }

  /** Sessions per state now. */
  counts(): Record<SessionState, number> {
    const c = { running: 0, completed: 0, failed: 0 };
    for (const s of this.sessions.values()) if (!s.bad) c[sessionState(s.marks)]++;
    return c;
  }

  /** Updates one session from its job.log and, once finished, its job.meta.json; false when `dir` is not a session directory. */
  private refreshSession(dir: string, s: Session, events: SessionEvents): boolean {
    const logPath = `${dir}/job.log`;
    try {
      const st = statSync(logPath, { throwIfNoEntry: false });
      if (!st && !isDir(dir)) return false; // A stray file named cdx-*, or the session was just removed.
      if (!st) {
        // A session that has not written its log yet is running.
        s.log = undefined;
        s.offset = 0;
        s.marks = { done: false, failed: false };
      } else if (!st.isFile()) {
        throw Object.assign(new Error("not a regular file"), { code: "EISDIR" });
      } else if (!sameFile(s.log, st)) {
        this.scanLog(logPath, s, st);
      }
      s.bad = false;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOTDIR") return false; // A stray file named cdx-*.
      s.bad = true;
      this.problems.report(
        "sessions",
        `${logPath}:${fsError(e)}`,
        `${logPath}: unreadable (${fsError(e)}), session skipped`,
      );
      return true;
    }
    const state = sessionState(s.marks);
    if (state === "running") return true;
    if (!s.counted) {
      s.counted = true;
      events.finished(state);
    }
    if (!s.durationObserved) this.readMeta(`${dir}/job.meta.json`, s, events);
    return true;
  }

  /** Scans the new part of a job.log, or all of it (up to MAX_LOG_SCAN from the end) when it was replaced or truncated. */
  private scanLog(path: string, s: Session, st: Stats): void {
    const prev = s.log;
    const appended = prev && prev.ino === st.ino && st.size >= prev.size && st.size > s.offset;
    if (!appended) {
      s.offset = 0;
      s.marks = { done: false, failed: false };
    }
    let from = s.offset;
    if (st.size - from > MAX_LOG_SCAN) {
      from = st.size - MAX_LOG_SCAN;
      this.problems.report(
        "sessions",
        `${path}:huge:${st.ino}`,
        `${path}: ${st.size} bytes; only the last ${MAX_LOG_SCAN} are scanned for markers`,
      );
    }
    const buf = readRange(path, from, st.size);
    s.marks = scanJobLog(buf.toString("latin1"), s.marks);
    // Resume at the last complete line, so a marker cut in half by a concurrent write is seen whole next time.
    s.offset = from + afterLastNewline(buf);
    s.log = sig(st);
  }

  /** Reads job.meta.json when it changed and reports the duration once. */
  private readMeta(path: string, s: Session, events: SessionEvents): void {
    let st: Stats | undefined;
    try {
      st = statSync(path, { throwIfNoEntry: false });
      if (!st || sameFile(s.metaSig, st)) return;
      s.metaSig = sig(st);
      if (!st.isFile() || st.size > MAX_META_BYTES)
        throw Object.assign(new Error("not a small regular file"), { code: "EFBIG" });
      const d = parseMetaDuration(readFileSync(path, "utf8"));
      if (d instanceof Error) {
        this.problems.report(
          "sessions",
          `${path}:${st.ino}:${st.size}:${st.mtimeMs}`,
          `${path}: ${d.message}`,
        );
        return;
      }
      if (d === undefined) return;
      s.durationObserved = true;
      events.duration(d);
    } catch (e) {
      this.problems.report(
        "sessions",
        `${path}:${fsError(e)}`,
        `${path}: unreadable (${fsError(e)})`,
      );
    }
  }
}

/** True when the path is a directory (following symlinks). */
function isDir(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

/** Signature of a file version. */
function sig(st: Stats): FileSig {
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
}

/** True when the file is the version we already read. */
function sameFile(a: FileSig | undefined, st: Stats): boolean {
  return !!a && a.ino === st.ino && a.size === st.size && a.mtimeMs === st.mtimeMs;
}
