/**
 * Each row's and group's full output in its own file: `reports/logs/<stage>/<cell>.log` and
 * `reports/logs/<stage>.log`, opened on the first line, closed at the end of the run.
 */
import { createWriteStream, mkdirSync, rmSync, type WriteStream } from "node:fs";
import { dirname, join, relative } from "node:path";

/** A file name for a row or group name: "node22/unit" → "node22-unit". */
export const slug = (name: string): string =>
  name.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "") || "row";

/** One log file; nothing is written when the display keeps no files. */
export interface LogFile {
  /** Its path relative to the working directory, for messages; undefined when not kept. */
  readonly path?: string;
  write(line: string): void;
}

const nowhere: LogFile = { write: () => {} };

/** The log files of one run under `dir` (none when `dir` is undefined). */
export class LogFiles {
  private readonly streams: WriteStream[] = [];

  constructor(private readonly dir?: string) {}

  /** Removes what an earlier run left for `group`, so no stale cell log is read as this run's. */
  clear(group: string): void {
    if (!this.dir) return;
    rmSync(join(this.dir, slug(group)), { recursive: true, force: true });
    rmSync(join(this.dir, `${slug(group)}.log`), { force: true });
  }

  /** The file of a group (`row` undefined) or of one of its rows. */
  open(group: string, row?: string): LogFile {
    if (!this.dir) return nowhere;
    const file =
      row === undefined
        ? join(this.dir, `${slug(group)}.log`)
        : join(this.dir, slug(group), `${slug(row)}.log`);
    let stream: WriteStream | undefined;
    return {
      path: relative(process.cwd(), file) || file,
      write: (line) => {
        if (!stream) {
          mkdirSync(dirname(file), { recursive: true });
          stream = createWriteStream(file, { flags: "w" });
          stream.on("error", () => {});
          this.streams.push(stream);
        }
        stream.write(`${line}\n`);
      },
    };
  }

  /** Flushes and closes every file. */
  async close(): Promise<void> {
    await Promise.all(
      this.streams.map(
        (s) => new Promise<void>((done) => (s.closed ? done() : s.end(() => done()))),
      ),
    );
  }
}
