import {
  appendFileSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  lastBytes,
  McpLogTailer,
  parseMcpLine,
  SLICE,
  scanMcpBuffer,
  TAIL,
} from "../../../scripts/lib/mcplog.js";
import { Problems } from "../../../scripts/lib/problems.js";
import { cleanup, tempDir } from "../../helpers/proc.js";

test("parseMcpLine: requests with and without a duration, errors, noise", () => {
  assert.equal(parseMcpLine("t INFO MCP Request tools/call duration:0.25"), {
    request: true,
    error: false,
    duration: 0.25,
  });
  assert.equal(parseMcpLine("t INFO MCP Request tools/list duration: 3"), {
    request: true,
    error: false,
    duration: 3,
  });
  assert.equal(parseMcpLine("t INFO MCP Request ping"), { request: true, error: false });
  assert.equal(parseMcpLine("t INFO MCP Request x duration:abc"), { request: true, error: false });
  assert.equal(parseMcpLine("t ERROR MCP Error -32000"), { request: false, error: true });
  assert.equal(parseMcpLine("t INFO heartbeat duration:1"), { request: false, error: false });
  // A word cut by the end of the line is not that word.
  assert.equal(parseMcpLine("t MCP Requ"), { request: false, error: false });
  assert.equal(parseMcpLine("t MCP Erro"), { request: false, error: false });
  assert.equal(parseMcpLine("t MCP  Request"), { request: false, error: false });
  assert.equal(parseMcpLine("t MCP Request duration:\t1.5s"), {
    request: true,
    error: false,
    duration: 1.5,
  });
  assert.equal(parseMcpLine("t MCP Request duration:2.5.1"), {
    request: true,
    error: false,
    duration: 2.5,
  });
  // Like the design's two greps, a line with both counts for both.
  assert.equal(parseMcpLine("MCP Request failed: MCP Error x duration:1"), {
    request: true,
    error: true,
    duration: 1,
  });
});

test("lastBytes keeps the last TAIL bytes read, across short reads", () => {
  const big = Buffer.alloc(TAIL + 10, "a");
  big.write("XYZ", TAIL + 7);
  const t1 = lastBytes(Buffer.alloc(0), big, TAIL + 10);
  assert.is(t1.length, TAIL);
  assert.is(t1.toString().slice(-3), "XYZ");
  // `used` bounds what counts: bytes after it are not the file's yet.
  assert.is(lastBytes(Buffer.alloc(0), big, 5).toString(), "aaaaa");
  const t2 = lastBytes(t1, Buffer.from("12345"), 3);
  assert.is(t2.length, TAIL);
  assert.is(t2.toString().slice(-6), "XYZ123");
  assert.is(lastBytes(Buffer.from("ab"), Buffer.from("cd"), 2).toString(), "abcd");
  // A copy: the read buffer is reused.
  const reused = Buffer.alloc(TAIL, "q");
  const t3 = lastBytes(Buffer.alloc(0), reused, TAIL);
  reused.fill("r");
  assert.is(t3.toString(), "q".repeat(TAIL));
});

test("scanMcpBuffer adds up a block of lines", () => {
  const got = { requests: 0, errors: 0, durations: [] as number[] };
  const block = Buffer.from(
    "a MCP Request duration:1\nnoise MCP\nb MCP Error\nc MCP Request duration:0.5\nd MCP Request duration:9",
  );
  // The last, unfinished line is outside `end` and must not count.
  scanMcpBuffer(block, block.lastIndexOf(10) + 1, {
    requests: (n) => {
      got.requests += n;
    },
    errors: (n) => {
      got.errors += n;
    },
    duration: (d) => got.durations.push(d),
  });
  assert.equal(got, { requests: 2, errors: 1, durations: [1, 0.5] });
});

test("request lines without a duration: the search stays in its line (it ran on to the chunk's end: 60 s for 40,000 lines)", () => {
  const block = Buffer.from("t INFO MCP Request tools/call id=1\n".repeat(40_000));
  block.write("duration:7\n", block.length - 11);
  const got = { requests: 0, durations: [] as number[] };
  const t0 = performance.now();
  scanMcpBuffer(block, block.length, {
    requests: (n) => {
      got.requests += n;
    },
    errors: () => {},
    duration: (d) => got.durations.push(d),
  });
  const ms = performance.now() - t0;
  // Only the last line carries a duration; no other line may borrow it.
  assert.equal(got, { requests: 40_000, durations: [7] });
  // Linear takes milliseconds; quadratic took a minute. The bound is 100x the linear time on a loaded machine.
  assert.ok(ms < 5000, `took ${ms} ms`);
});

test("lines across the text slices: none lost or counted twice, a line longer than a slice read whole", () => {
  const lines: string[] = [];
  let want = { requests: 0, errors: 0, durations: [] as number[] };
  const add = (line: string) => {
    lines.push(line);
    const p = parseMcpLine(line);
    want = {
      requests: want.requests + (p.request ? 1 : 0),
      errors: want.errors + (p.error ? 1 : 0),
      durations: p.duration === undefined ? want.durations : [...want.durations, p.duration],
    };
  };
  // One line ends exactly at the first slice boundary (SLICE bytes with its newline).
  add(`MCP Request a duration:1 ${"x".repeat(SLICE - 26)}`);
  for (let i = 0; lines.join("\n").length < 2.5 * SLICE; i++)
    add(i % 3 ? `t MCP Request id=${i} duration:0.${i % 10}` : `t MCP Error id=${i}`);
  // Longer than a slice, with its duration at the far end.
  add(`MCP Request long ${"y".repeat(SLICE + 100)} duration:4`);
  add("MCP Error last");
  const buf = Buffer.from(`${lines.join("\n")}\n`, "latin1");
  assert.is(buf.indexOf(10), SLICE - 1);
  const got = { requests: 0, errors: 0, durations: [] as number[] };
  scanMcpBuffer(buf, buf.length, {
    requests: (n) => {
      got.requests += n;
    },
    errors: (n) => {
      got.errors += n;
    },
    duration: (d) => got.durations.push(d),
  });
  assert.equal(got, want);
  assert.is(got.durations.at(-1), 4);
  assert.ok(got.requests > 1000 && got.errors > 500, JSON.stringify(got).slice(0, 80));
});

/** A tailer on a temp log with running totals. */
function setup() {
  const dir = tempDir("mcplog");
  const file = join(dir, "mcp-server.log");
  const reported: string[] = [];
  const problems = new Problems((s, m) => reported.push(`${s}: ${m}`));
  const tailer = new McpLogTailer(file, problems);
  const t = { requests: 0, errors: 0, durations: 0 };
  const refresh = async () => {
    await tailer.refresh({
      requests: (n) => {
        t.requests += n;
      },
      errors: (n) => {
        t.errors += n;
      },
      duration: () => {
        t.durations++;
      },
    });
    problems.sweep();
    return { ...t };
  };
  return { dir, file, reported, refresh };
}

test("no log yet is not an error; lines are counted once, from the last offset", async () => {
  const s = setup();
  assert.equal(await s.refresh(), { requests: 0, errors: 0, durations: 0 });
  writeFileSync(s.file, "MCP Request duration:1\nMCP Error\n");
  assert.equal(await s.refresh(), { requests: 1, errors: 1, durations: 1 });
  assert.equal(await s.refresh(), { requests: 1, errors: 1, durations: 1 });
  appendFileSync(s.file, "MCP Request duration:2\n");
  assert.equal(await s.refresh(), { requests: 2, errors: 1, durations: 2 });
  assert.equal(s.reported, []);
  cleanup(s.dir);
});

test("a half-written line is counted once it is complete, with its full duration", async () => {
  const s = setup();
  writeFileSync(s.file, "MCP Request duration:1\nMCP Requ");
  assert.equal(await s.refresh(), { requests: 1, errors: 0, durations: 1 });
  appendFileSync(s.file, "est duration:2.5\n");
  assert.equal(await s.refresh(), { requests: 2, errors: 0, durations: 2 });
  cleanup(s.dir);
});

test("truncation restarts at 0; rotation reads the old file's tail, then the new file", async () => {
  const s = setup();
  writeFileSync(s.file, "MCP Request\nMCP Request\nMCP Request\n");
  assert.is((await s.refresh()).requests, 3);
  truncateSync(s.file, 0);
  appendFileSync(s.file, "MCP Error\n");
  assert.equal(await s.refresh(), { requests: 3, errors: 1, durations: 0 });
  // Lines written just before the rename still count, then the new file from its start.
  appendFileSync(s.file, "MCP Request\n");
  renameSync(s.file, `${s.file}.1`);
  writeFileSync(s.file, "MCP Request\nMCP Error\n");
  assert.equal(await s.refresh(), { requests: 5, errors: 2, durations: 0 });
  cleanup(s.dir);
});

test("a passing stat error (ENOTDIR) keeps the place: the same file is not read again from byte 0", async () => {
  const s = setup();
  writeFileSync(s.file, "MCP Request\nMCP Request\nMCP Error\n");
  assert.equal(await s.refresh(), { requests: 2, errors: 1, durations: 0 });
  // A file where the log's directory was: stat fails with ENOTDIR, even for root.
  renameSync(s.dir, `${s.dir}.away`);
  writeFileSync(s.dir, "");
  appendFileSync(join(`${s.dir}.away`, "mcp-server.log"), "MCP Request\n");
  // Lines written meanwhile are still read through the open descriptor.
  assert.equal(await s.refresh(), { requests: 3, errors: 1, durations: 0 });
  assert.equal(await s.refresh(), { requests: 3, errors: 1, durations: 0 });
  assert.is(s.reported.length, 1);
  assert.match(s.reported[0] ?? "", /mcp-server\.log: unreadable \(ENOTDIR\)/);
  rmSync(s.dir);
  renameSync(`${s.dir}.away`, s.dir);
  assert.equal(await s.refresh(), { requests: 3, errors: 1, durations: 0 });
  appendFileSync(s.file, "MCP Error\n");
  assert.equal(await s.refresh(), { requests: 3, errors: 2, durations: 0 });
  assert.is(s.reported.length, 1);
  cleanup(s.dir);
});

test("the log's directory moved away and back: the same inode resumes at its offset", async () => {
  const s = setup();
  writeFileSync(s.file, "MCP Request\nMCP Error\n");
  assert.equal(await s.refresh(), { requests: 1, errors: 1, durations: 0 });
  renameSync(s.dir, `${s.dir}.away`);
  assert.equal(await s.refresh(), { requests: 1, errors: 1, durations: 0 });
  renameSync(`${s.dir}.away`, s.dir);
  appendFileSync(s.file, "MCP Request\n");
  assert.equal(await s.refresh(), { requests: 2, errors: 1, durations: 0 });
  assert.equal(s.reported, []);
  cleanup(s.dir);
});

test("a log truncated and regrown past the old offset before the next read: every new line, none from mid-line", async () => {
  const s = setup();
  writeFileSync(s.file, "x MCP Request duration:0.1\n".repeat(4));
  assert.equal(await s.refresh(), { requests: 4, errors: 0, durations: 4 });
  // The repro: `: > $L; for i in $(seq 20); do echo "MCP Error e$i" >> $L; done`.
  truncateSync(s.file, 0);
  for (let i = 1; i <= 20; i++) appendFileSync(s.file, `MCP Error e${i}\n`);
  assert.equal(await s.refresh(), { requests: 4, errors: 20, durations: 4 });
  // Rewritten to exactly the old size: seen as soon as the file changes, not at the next growth.
  const size = statSync(s.file).size;
  truncateSync(s.file, 0);
  appendFileSync(
    s.file,
    `${"MCP Request y\n".repeat(Math.floor(size / 14)).padEnd(size - 1, "z")}\n`,
  );
  assert.is(statSync(s.file).size, size);
  assert.equal(await s.refresh(), {
    requests: 4 + Math.floor(size / 14),
    errors: 20,
    durations: 4,
  });
  assert.equal(s.reported, []);
  cleanup(s.dir);
});

test("a symlink loop and an absurdly long line are reported once, never thrown", async () => {
  const s = setup();
  symlinkSync(s.file, s.file);
  await s.refresh();
  await s.refresh();
  assert.is(s.reported.length, 1);
  assert.match(s.reported[0] ?? "", /ELOOP/);
  cleanup(s.dir);
  const l = setup();
  mkdirSync(l.dir, { recursive: true });
  // Longer than a read chunk without a newline: skipped, not buffered forever.
  writeFileSync(l.file, `MCP Request\n${"y".repeat(9 * 1024 * 1024)}\nMCP Error\n`);
  assert.equal(await l.refresh(), { requests: 1, errors: 1, durations: 0 });
  assert.is(l.reported.length, 1);
  assert.match(l.reported[0] ?? "", /longer than/);
  cleanup(l.dir);
});

test.run();
