/** MCP log tailer: counts `MCP Request` / `MCP Error` lines from the last offset, surviving truncation and rotation. */
import { closeSync, fstatSync, openSync, statSync } from "node:fs";
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
  const buf = Buffer.from(line, "latin1");
  return scanLine(buf, 0, buf.length);
}

/** Receives what was read: counts to add and request durations to observe. */
export interface McpEvents {
  requests(n: number): void;
  errors(n: number): void;
  duration(seconds: number): void;
}

const NL = 10;
const MCP = Buffer.from("MCP ", "latin1");
const REQUEST = Buffer.from("Request", "latin1");
const ERROR = Buffer.from("Error", "latin1");
const DURATION = Buffer.from("duration:", "latin1");

/**
 * Adds up the complete lines of buf[0, end). Works on bytes, not strings: a 1,000,000-line log must not
 * become hundreds of MB of strings. Only lines holding "MCP " are looked at; Buffer#indexOf skips the rest.
 */
export function scanMcpBuffer(buf: Buffer, end: number, events: McpEvents): void {
  let requests = 0;
  let errors = 0;
  let pos = 0;
  while (pos < end) {
    const hit = buf.indexOf(MCP, pos);
    if (hit < 0 || hit >= end) break;
    const start = buf.lastIndexOf(NL, hit) + 1;
    let stop = buf.indexOf(NL, hit);
    if (stop < 0 || stop > end) stop = end;
    const line = scanLine(buf, start, stop, hit);
    if (line.request) requests++;
    if (line.error) errors++;
    if (line.duration !== undefined) events.duration(line.duration);
    pos = stop + 1;
  }
  if (requests) events.requests(requests);
  if (errors) events.errors(errors);
}

/** Classifies the line buf[start, stop), whose first "MCP " is at `hit` (found when not given). */
function scanLine(
  buf: Buffer,
  start: number,
  stop: number,
  hit = buf.indexOf(MCP, start),
): McpLine {
  let request = false;
  let error = false;
  for (let h = hit; h >= 0 && h < stop; h = buf.indexOf(MCP, h + MCP.length)) {
    if (at(buf, h + MCP.length, REQUEST, stop)) request = true;
    else if (at(buf, h + MCP.length, ERROR, stop)) error = true;
  }
  if (!request) return { request, error };
  const d = buf.indexOf(DURATION, start);
  const duration = d >= 0 && d < stop ? parseDuration(buf, d + DURATION.length, stop) : undefined;
  return duration === undefined ? { request, error } : { request, error, duration };
}

/** True when `word` is at buf[i] and ends by `stop`. */
function at(buf: Buffer, i: number, word: Buffer, stop: number): boolean {
  if (i + word.length > stop) return false;
  for (let k = 0; k < word.length; k++) if (buf[i + k] !== word[k]) return false;
  return true;
}

/** Reads a non-negative decimal number (spaces/tabs allowed before it) at buf[i], or undefined. */
function parseDuration(buf: Buffer, i: number, stop: number): number | undefined {
  while (i < stop && (buf[i] === 32 || buf[i] === 9)) i++;
  let digits = 0;
  let scale = 1;
  let seen = false;
  let dot = false;
  for (; i < stop; i++) {
    const c = buf[i] as number;
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

/** Follows one log file by path, keeping the descriptor open so a rotated file is read to its end. */
export class McpLogTailer {
  private fd: number | undefined;
  private ino = -1;
  private offset = 0;
  private skipping = false;
  // One read buffer for the tailer's life: fresh 8 MiB buffers per read would pile up until the next GC.
  private readonly buf = Buffer.allocUnsafeSlow(CHUNK);

  /** @param path CODEX_MCP_LOG; @param problems where read errors go (source "mcp-log"). */
  constructor(
    private readonly path: string,
    private readonly problems: Problems,
  ) {}

  /** Reads whatever was appended since the last call and reports it. */
  async refresh(events: McpEvents): Promise<void> {
    let budget = MAX_PER_SCRAPE;
    try {
      const st = statSync(this.path, { throwIfNoEntry: false });
      if (this.fd !== undefined && (!st || st.ino !== this.ino)) {
        // Rotated (renamed or removed): finish the old file through our descriptor, then switch.
        budget -= await this.drain(events, budget);
        this.close();
      }
      if (!st) return; // No log yet: the MCP server has not written one.
      if (!st.isFile()) throw Object.assign(new Error("not a regular file"), { code: "EISDIR" });
      if (this.fd === undefined) {
        this.fd = openSync(this.path, "r");
        this.ino = fstatSync(this.fd).ino;
        this.offset = 0;
      }
      await this.drain(events, budget);
    } catch (e) {
      this.problems.report(
        "mcp-log",
        `${this.path}:${fsError(e)}`,
        `${this.path}: unreadable (${fsError(e)})`,
      );
      this.close();
    }
  }

  /** Reads complete lines from the offset up to the end (or the budget); returns the bytes consumed. */
  private async drain(events: McpEvents, budget: number): Promise<number> {
    if (this.fd === undefined) return 0;
    const size = fstatSync(this.fd).size;
    if (size < this.offset) {
      // Truncated in place (copytruncate): start over.
      this.offset = 0;
      this.skipping = false;
    }
    const start = this.offset;
    while (this.offset < size && this.offset - start < budget) {
      const buf = readFd(this.fd, this.offset, Math.min(size, this.offset + CHUNK), this.buf);
      if (buf.length === 0) break;
      if (this.skipping) {
        // Inside an over-long line: drop bytes up to its end, then read normally from the next line.
        const nl = buf.indexOf(NL);
        this.skipping = nl < 0;
        this.offset += nl < 0 ? buf.length : nl + 1;
        continue;
      }
      let used = afterLastNewline(buf);
      if (used === 0) {
        // No newline yet: a half-written line waits for its writer, unless it is absurdly long.
        if (buf.length < MAX_LINE) break;
        this.problems.report(
          "mcp-log",
          `${this.path}:longline:${this.offset}`,
          `${this.path}: line at byte ${this.offset} longer than ${MAX_LINE} bytes, skipped`,
        );
        this.skipping = true;
        used = buf.length;
      } else {
        scanMcpBuffer(buf, used, events);
      }
      this.offset += used;
      await tick();
    }
    return this.offset - start;
  }

  /** Closes the descriptor of the current file. */
  private close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.ino = -1;
    this.offset = 0;
    this.skipping = false;
  }
}
