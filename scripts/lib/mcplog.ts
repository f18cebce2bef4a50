/** MCP log tailer: counts `MCP Request` / `MCP Error` lines from the last offset, surviving truncation and rotation. */
import { closeSync, fstatSync, openSync, type Stats, statSync } from "node:fs";
import { setImmediate as tick } from "node:timers/promises";
import { fsError, type Problems } from "./problems.js";
import { afterLastNewline, readFd } from "./readfile.js";

/** What one MCP log line contributes. */
export interface McpLine {
  request: boolean;
  error: boolean;
  /** Seconds, from `duration:<s>` on a request line. */
  duration?: number;
}

/** Parses one line; counts mirror the design's `grep -c "MCP Request"` and `grep -c "MCP Error"`. */
export function parseMcpLine(line: string): McpLine {
  return scanLine(line, line.length, line.indexOf(MCP), line.indexOf(DURATION)).line;
}

/** Receives what was read: counts to add and request durations to observe. */
export interface McpEvents {
  requests(n: number): void;
  errors(n: number): void;
  duration(seconds: number): void;
}

const MCP = "MCP ";
const DURATION = "duration:";

/**
 * Text is made from at most this many bytes at a time (whole lines): Node turns a buffer over 1 MB into an
 * external string, which the GC frees late (4 MiB chunks held tens of MB until a full collection), and strings
 * this small stay in the young generation: 9 MiB less peak RSS than 256 KiB slices, at the same speed.
 */
export const SLICE = 64 * 1024;

/** Adds up the complete lines of buf[0, end), a slice of whole lines at a time. */
export function scanMcpBuffer(buf: Buffer, end: number, events: McpEvents): void {
  const n = { requests: 0, errors: 0 };
  for (let from = 0; from < end; ) {
    let to = from + SLICE >= end ? end : buf.lastIndexOf(10, from + SLICE - 1) + 1;
    // One line longer than a slice: the slice is that line.
    if (to <= from) to = Math.min(end, buf.indexOf(10, from + SLICE) + 1 || end);
    scanText(buf.toString("latin1", from, to), n, events);
    from = to;
  }
  if (n.requests) events.requests(n.requests);
  if (n.errors) events.errors(n.errors);
}

/**
 * Adds the lines of one text to the counts. String#indexOf skips the lines without "MCP " at native speed, and
 * costs less per call than Buffer#indexOf. Every search result is used until it is passed, so no byte is searched
 * twice: a search for "duration:" that ran on to the chunk's end for each request line made a log of requests
 * without durations cost the square of its length.
 */
function scanText(text: string, n: { requests: number; errors: number }, events: McpEvents) {
  let duration = -2; // the next "duration:" at or after the line being read (-1: none left, -2: not searched)
  for (let hit = text.indexOf(MCP); hit >= 0; ) {
    const start = text.lastIndexOf("\n", hit) + 1;
    let stop = text.indexOf("\n", hit);
    if (stop < 0) stop = text.length;
    if (duration !== -1 && duration < start) duration = text.indexOf(DURATION, start);
    const r = scanLine(text, stop, hit, duration);
    if (r.line.request) n.requests++;
    if (r.line.error) n.errors++;
    if (r.line.duration !== undefined) events.duration(r.line.duration);
    hit = r.next;
  }
}

/**
 * Classifies the line that ends at `stop` and holds its first "MCP " at `hit`; `duration` is the first
 * "duration:" at or after the line's start (-1: none). Returns the line and the next "MCP " after it (-1: none).
 */
function scanLine(
  text: string,
  stop: number,
  hit: number,
  duration: number,
): { line: McpLine; next: number } {
  let request = false;
  let error = false;
  let h = hit;
  for (; h >= 0 && h < stop; h = text.indexOf(MCP, h + MCP.length)) {
    if (wordAt(text, h + MCP.length, "Request", stop)) request = true;
    else if (wordAt(text, h + MCP.length, "Error", stop)) error = true;
  }
  const seconds =
    request && duration >= 0 && duration < stop
      ? parseDuration(text, duration + DURATION.length, stop)
      : undefined;
  const line: McpLine =
    seconds === undefined ? { request, error } : { request, error, duration: seconds };
  return { line, next: h };
}

/** True when `word` is at text[i] and ends by `stop`. */
function wordAt(text: string, i: number, word: string, stop: number): boolean {
  return i + word.length <= stop && text.startsWith(word, i);
}

/** Reads a non-negative decimal number (spaces/tabs allowed before it) at text[i, stop), or undefined. */
function parseDuration(text: string, i: number, stop: number): number | undefined {
  while (i < stop && (text[i] === " " || text[i] === "\t")) i++;
  let digits = 0;
  let scale = 1;
  let seen = false;
  let dot = false;
  for (; i < stop; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      digits = digits * 10 + (c - 48);
      if (dot) scale *= 10;
      seen = true;
    } else if (c === 46 && !dot) dot = true;
    else break;
  }
  // One division of exact integers: the same double as parsing the decimal text (up to 15 digits).
  return seen ? digits / scale : undefined;
}

/** Read size per step; bounds memory whatever the log size. */
export const CHUNK = 4 * 1024 * 1024;
/** Most bytes read in one scrape; a bigger backlog is caught up over the next scrapes. */
export const MAX_PER_SCRAPE = 512 * 1024 * 1024;
/** A line longer than this without a newline is skipped rather than buffered forever. */
export const MAX_LINE = 1024 * 1024;
/**
 * Bytes just before the offset that are kept and compared before reading on: a file truncated and written again
 * past the old offset (same inode, no shrink seen) shows different bytes there, and is read again from its start.
 */
export const TAIL = 256;

/** Where reading stopped in one file. */
interface Place {
  dev: number;
  ino: number;
  offset: number;
  /** The TAIL bytes before `offset` (fewer near the start), as they were read. */
  tail: Buffer;
  /** Inside an over-long line that is being dropped. */
  skipping: boolean;
}

const EMPTY = Buffer.alloc(0);

/** Follows one log file by path, keeping the descriptor open so a rotated file is read to its end. */
export class McpLogTailer {
  private fd: number | undefined;
  private at: Place = { dev: -1, ino: -1, offset: 0, tail: EMPTY, skipping: false };
  /** The place in the last file let go of: if that same file shows up at the path again, reading resumes there. */
  private parked: Place | undefined;
  // One read buffer for the tailer's life: fresh 4 MiB buffers per read would pile up until the next GC.
  private readonly buf = Buffer.allocUnsafeSlow(CHUNK);

  /** @param path CODEX_MCP_LOG; @param problems where read errors go (source "mcp-log"). */
  constructor(
    private readonly path: string,
    private readonly problems: Problems,
  ) {}

  /** Reads whatever was appended since the last call and reports it. */
  async refresh(events: McpEvents): Promise<void> {
    let st: Stats | undefined;
    try {
      // Not `throwIfNoEntry: false`: from Node 22 on it returns undefined for ENOTDIR too, which would read as
      // "the log is gone" and drop our place.
      st = statSync(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") st = undefined;
      else {
        // The path cannot be looked up now (EACCES on its directory, ENOTDIR, EMFILE...). That says nothing about
        // the file we follow: keep it and its place, and read on through the descriptor.
        this.report(e);
        await this.drainReporting(events, MAX_PER_SCRAPE);
        return;
      }
    }
    try {
      let budget = MAX_PER_SCRAPE;
      if (this.fd !== undefined && !(st && st.ino === this.at.ino && st.dev === this.at.dev)) {
        // Rotated (renamed or removed): finish the old file through our descriptor, then let it go.
        budget -= await this.drain(events, budget);
        this.close();
      }
      if (!st) return; // No log (yet): the MCP server has not written one.
      if (!st.isFile()) throw Object.assign(new Error("not a regular file"), { code: "EISDIR" });
      if (this.fd === undefined) this.open();
      await this.drain(events, budget);
    } catch (e) {
      // The descriptor and the place are kept: only bytes read to the end of a line ever move the offset.
      this.report(e);
    }
  }

  /** Counts the problem once while it lasts. */
  private report(e: unknown): void {
    this.problems.report(
      "mcp-log",
      `${this.path}:${fsError(e)}`,
      `${this.path}: unreadable (${fsError(e)})`,
    );
  }

  /** drain(), with a read error reported instead of thrown. */
  private async drainReporting(events: McpEvents, budget: number): Promise<void> {
    try {
      await this.drain(events, budget);
    } catch (e) {
      this.report(e);
    }
  }

  /** Opens the file at the path; the same file (device and inode) as the parked one resumes at its place. */
  private open(): void {
    const fd = openSync(this.path, "r");
    const st = fstatSync(fd);
    this.fd = fd;
    const p = this.parked;
    this.parked = undefined;
    this.at =
      p && p.dev === st.dev && p.ino === st.ino
        ? p
        : { dev: st.dev, ino: st.ino, offset: 0, tail: EMPTY, skipping: false };
  }

  /** Reads complete lines from the offset up to the end (or the budget); returns the bytes consumed. */
  private async drain(events: McpEvents, budget: number): Promise<number> {
    const fd = this.fd;
    if (fd === undefined) return 0;
    const at = this.at;
    const size = fstatSync(fd).size;
    if (at.offset > 0 && (size < at.offset || !this.sameTail(fd))) {
      // Truncated in place (copytruncate), maybe written again past our offset, or another file than the
      // parked one under a reused inode: start over.
      at.offset = 0;
      at.tail = EMPTY;
      at.skipping = false;
    }
    const start = at.offset;
    while (at.offset < size && at.offset - start < budget) {
      const buf = readFd(fd, at.offset, Math.min(size, at.offset + CHUNK), this.buf);
      if (buf.length === 0) break;
      let used: number;
      if (at.skipping) {
        // Inside an over-long line: drop bytes up to its end, then read normally from the next line.
        const nl = buf.indexOf(10);
        at.skipping = nl < 0;
        used = nl < 0 ? buf.length : nl + 1;
      } else {
        used = afterLastNewline(buf);
        if (used === 0) {
          // No newline yet: a half-written line waits for its writer, unless it is absurdly long.
          if (buf.length < MAX_LINE) break;
          this.problems.report(
            "mcp-log",
            `${this.path}:longline:${at.offset}`,
            `${this.path}: line at byte ${at.offset} longer than ${MAX_LINE} bytes, skipped`,
          );
          at.skipping = true;
          used = buf.length;
        } else {
          scanMcpBuffer(buf, used, events);
        }
      }
      at.tail = lastBytes(at.tail, buf, used);
      at.offset += used;
      await tick();
    }
    return at.offset - start;
  }

  /** True when the bytes before the offset are still the ones we read there. */
  private sameTail(fd: number): boolean {
    const { offset, tail } = this.at;
    return readFd(fd, offset - tail.length, offset).equals(tail);
  }

  /** Lets go of the current file, parking its place. */
  private close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.parked = this.at;
  }
}

/** The last TAIL bytes of `before` followed by buf[0, used), as a copy (buf is reused). */
export function lastBytes(before: Buffer, buf: Buffer, used: number): Buffer {
  if (used >= TAIL) return Buffer.from(buf.subarray(used - TAIL, used));
  const joined = Buffer.concat([before, buf.subarray(0, used)]);
  return joined.subarray(Math.max(0, joined.length - TAIL));
}
