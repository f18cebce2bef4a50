/** Reading appended bytes: one positional read of a byte range, shared by the job.log scanner and the MCP log tailer. */
import { closeSync, openSync, readSync } from "node:fs";

/** Reads bytes [from, to) of a file into a fresh buffer (shorter if the file shrank meanwhile). */
export function readRange(path: string, from: number, to: number): Buffer {
  const fd = openSync(path, "r");
  try {
    return readFd(fd, from, to);
  } finally {
    closeSync(fd);
  }
}

/** Reads bytes [from, to) of an open file descriptor, into `into` when given (it must be big enough). */
export function readFd(fd: number, from: number, to: number, into?: Buffer): Buffer {
  const want = Math.max(0, to - from);
  const buf = into ? into.subarray(0, want) : Buffer.allocUnsafe(want);
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, from + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** Index just after the last newline of a buffer, or 0 when it has none. */
export function afterLastNewline(buf: Buffer): number {
  return buf.lastIndexOf(10) + 1;
}
