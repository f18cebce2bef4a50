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
  const request = line.includes("MCP Request");
  const error = line.includes("MCP Error");
  if (!request) return { request, error };
  const m = /duration:[ \t]*(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)/.exec(line);
  const d = m ? Number(m[1]) : Number.NaN;
  return Number.isFinite(d) ? { request, error, duration: d } : { request, error };
}

/** Receives what was read: counts to add and request durations to observe. */
export interface McpEvents {
  requests(n: number): void;
  errors(n: number): void;
  duration(seconds: number): void;
}

/** Adds up a block of complete lines; only lines holding "MCP " are parsed, the rest are skipped by indexOf. */
export function scanMcpText(text: string, events: McpEvents): void {
  let requests = 0;
  let errors = 0;
  let pos = 0;
  for (;;) {
    const hit = text.indexOf("MCP ", pos);
    if (hit < 0) break;
    const start = text.lastIndexOf("\n", hit) + 1;
    let end = text.indexOf("\n", hit);
    if (end < 0) end = text.length;
    const line = parseMcpLine(text.slice(start, end));
    if (line.request) requests++;
    if (line.error) errors++;
    if (line.duration !== undefined) events.duration(line.duration);
    pos = end + 1;
  }
  if (requests) events.requests(requests);
  if (errors) events.errors(errors);
}

/** Read size per step; bounds memory whatever the log size. */
export const CHUNK = 8 * 1024 * 1024;
/** Most bytes read in one scrape; a bigger backlog is caught up over the next scrapes. */
export const MAX_PER_SCRAPE = 512 * 1024 * 1024;
/** A line longer than this without a newline is skipped rather than buffered forever. */
export const MAX_LINE = 1024 * 1024;

/** Follows one log file by path, keeping the descriptor open so a rotated file is read to its end. */
export class McpLogTailer {
  private fd: number | undefined;
  private ino = -1;
  private offset = 0;

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
    if (size < this.offset) this.offset = 0; // Truncated in place (copytruncate): start over.
    const start = this.offset;
    while (this.offset < size && this.offset - start < budget) {
      const buf = readFd(this.fd, this.offset, Math.min(size, this.offset + CHUNK));
      if (buf.length === 0) break;
      let used = afterLastNewline(buf);
      if (used === 0) {
        // No newline yet: a half-written line waits for its writer, unless it is absurdly long.
        if (buf.length < MAX_LINE) break;
        this.problems.report(
          "mcp-log",
          `${this.path}:longline:${this.offset}`,
          `${this.path}: line at byte ${this.offset} longer than ${MAX_LINE} bytes, skipped`,
        );
        used = buf.length;
      } else {
        scanMcpText(buf.toString("latin1", 0, used), events);
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
  }
}
