/** Session store reader: classifies `cdx-*` sessions from job.log and reads job.meta.json, re-reading only what changed. */
import { accessSync, constants, readdirSync, readFileSync, type Stats, statSync } from "node:fs";
import { setImmediate as tick } from "node:timers/promises";
import { DirChanges } from "./dirchange.js";
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
  /** Left out of the gauges: not read yet, or its job.log cannot be read. */
  unknown: boolean;
  counted: boolean;
  /** When it was first seen finished (undefined while running). */
  finishedAt?: number;
  metaSig?: FileSig;
  durationObserved: boolean;
  /** The listing that last showed it. */
  seen: number;
}

/** Largest slice of one job.log scanned in a scrape; the markers are written last, so a huge log is scanned from its tail. */
export const MAX_LOG_SCAN = 16 * 1024 * 1024;
/** job.meta.json is small; anything bigger is not metadata. */
export const MAX_META_BYTES = 1024 * 1024;
/**
 * A finished session is read on every scrape until its job.meta.json gave a duration, or for this long after it
 * was seen to finish; then it is settled and never read again (a finished session does not change).
 */
export const SETTLE_MS = 10 * 60_000;

/** Errors of the process rather than of one session: they stop the scrape's reading, and the last state is kept. */
const PROCESS_ERRORS = new Set(["EMFILE", "ENFILE", "ENOMEM"]);

/**
 * Reads the session store incrementally; one instance lives as long as the exporter. A steady scrape costs what
 * changed: the root is listed again only when its mtime says entries came or went (DirChanges), and only the
 * sessions that can still change (running, unreadable, or finished but not settled) are read.
 */
export class SessionStore {
  private sessions = new Map<string, Session>();
  /** Names of the sessions read on every scrape; every other session is settled. */
  private active = new Set<string>();
  /** Settled sessions by state, kept as they settle and leave, so the gauges cost the active sessions only. */
  private settled = { completed: 0, failed: 0 };
  private readonly dir: DirChanges;
  private listings = 0;
  /** The root is missing: the gauges show no sessions (the memory of what was counted stays). */
  private gone = false;

  /**
   * @param root CODEX_SESSIONS_ROOT; @param problems where unreadable input is reported (source "sessions");
   * @param now the clock (injectable for tests).
   */
  constructor(
    private readonly root: string,
    private readonly problems: Problems,
    private readonly now: () => number = Date.now,
  ) {
    this.dir = new DirChanges(root, now);
  }

  /** Lists the root again at the next refresh, whatever its mtime says (SIGHUP). */
  rescan(): void {
    this.dir.forget();
  }

  /** Brings the view up to date: lists sessions if needed, reads those that can change, reports finishes and durations. */
  async refresh(events: SessionEvents): Promise<void> {
    try {
      const changed = this.dir.changed();
      // A root we may no longer read (chmod) keeps its mtime: ask, one cheap call, rather than fail per session.
      accessSync(this.root, constants.R_OK | constants.X_OK);
      if (changed) await this.relist();
      this.gone = false;
      let i = 0;
      for (const name of this.active) {
        const s = this.sessions.get(name);
        if (s) this.refreshSession(name, s, events);
        // Let /health and other requests through during a first scrape of a big store.
        if (++i % 2000 === 0) await tick();
      }
    } catch (e) {
      // Not a filesystem error: a bug, for the collector to report.
      if (!(e as NodeJS.ErrnoException)?.code) throw e;
      // The root, or the process (EMFILE), failed us: nothing is cleared, so nothing is counted twice later.
      const code = fsError(e);
      this.dir.forget();
      this.gone = code === "ENOENT";
      this.problems.report(
        "sessions",
        `root:${code}`,
        this.gone
          ? `${this.root}: cannot list sessions (ENOENT)`
          : `${this.root}: cannot list sessions (${code}); last known state kept`,
      );
    }
  }

  /** Lists the root: new names become active sessions, names gone are forgotten. */
  private async relist(): Promise<void> {
    // Names only: Dirent objects for 10,000 entries are garbage we do not need.
    const names = readdirSync(this.root);
    this.dir.done();
    const listing = ++this.listings;
    let i = 0;
    for (const name of names) {
      if (!name.startsWith("cdx-")) continue;
      const s = this.sessions.get(name);
      if (s) s.seen = listing;
      else {
        this.sessions.set(name, {
          offset: 0,
          marks: { done: false, failed: false },
          unknown: true,
          counted: false,
          durationObserved: false,
          seen: listing,
        });
        this.active.add(name);
      }
      if (++i % 5000 === 0) await tick();
    }
    for (const [name, s] of this.sessions) {
      if (s.seen === listing) continue;
      this.sessions.delete(name);
      if (!this.active.delete(name)) this.settled[finishedState(s)]--;
    }
  }

  /** Sessions per state now. */
  counts(): Record<SessionState, number> {
    if (this.gone) return { running: 0, completed: 0, failed: 0 };
    const c = { running: 0, ...this.settled };
    for (const name of this.active) {
      const s = this.sessions.get(name);
      if (s && !s.unknown) c[sessionState(s.marks)]++;
    }
    return c;
  }

  /** Updates one active session from its job.log and, once finished, its job.meta.json; settles it when it can no longer change. */
  private refreshSession(name: string, s: Session, events: SessionEvents): void {
    const dir = `${this.root}/${name}`;
    const logPath = `${dir}/job.log`;
    try {
      const st = statSync(logPath, { throwIfNoEntry: false });
      if (!st && !isDir(dir)) {
        // A stray file named cdx-*, or the session was just removed: no session (looked at again when listed).
        this.sessions.delete(name);
        this.active.delete(name);
        return;
      }
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
      s.unknown = false;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code && PROCESS_ERRORS.has(code)) throw e;
      if (code === "ENOTDIR") {
        // A stray file named cdx-*.
        this.sessions.delete(name);
        this.active.delete(name);
        return;
      }
      s.unknown = true;
      this.problems.report(
        "sessions",
        `${logPath}:${fsError(e)}`,
        `${logPath}: unreadable (${fsError(e)}), session skipped`,
      );
      return;
    }
    const state = sessionState(s.marks);
    if (state === "running") {
      s.finishedAt = undefined;
      return;
    }
    s.finishedAt ??= this.now();
    if (!s.counted) {
      s.counted = true;
      events.finished(state);
    }
    if (!s.durationObserved) this.readMeta(`${dir}/job.meta.json`, s, events);
    if (s.durationObserved || this.now() - s.finishedAt >= SETTLE_MS) {
      this.active.delete(name);
      this.settled[state]++;
    }
  }

  /** Scans the new part of a job.log, or all of it (up to MAX_LOG_SCAN from the end) when it was replaced or truncated. */
  private scanLog(path: string, s: Session, st: Stats): void {
    const prev = s.log;
    const appended = prev && prev.ino === st.ino && st.size >= prev.size && st.size > s.offset;
    let from = appended ? s.offset : 0;
    if (st.size - from > MAX_LOG_SCAN) {
      from = st.size - MAX_LOG_SCAN;
      this.problems.report(
        "sessions",
        `${path}:huge:${st.ino}`,
        `${path}: ${st.size} bytes; only the last ${MAX_LOG_SCAN} are scanned for markers`,
      );
    }
    const buf = readRange(path, from, st.size);
    // Committed only once read, so a failed read leaves the session as it was.
    s.marks = scanJobLog(
      buf.toString("latin1"),
      appended ? s.marks : { done: false, failed: false },
    );
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
      if (!st.isFile() || st.size > MAX_META_BYTES) {
        s.metaSig = sig(st);
        throw Object.assign(new Error("not a small regular file"), { code: "EFBIG" });
      }
      const d = parseMetaDuration(readFileSync(path, "utf8"));
      s.metaSig = sig(st);
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
      const code = (e as NodeJS.ErrnoException).code;
      if (code && PROCESS_ERRORS.has(code)) throw e;
      this.problems.report(
        "sessions",
        `${path}:${fsError(e)}`,
        `${path}: unreadable (${fsError(e)})`,
      );
    }
  }
}

/** The state of a settled session (settled sessions are finished). */
function finishedState(s: Session): FinishedState {
  return sessionState(s.marks) === "failed" ? "failed" : "completed";
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
