import {
  appendFileSync,
  mkdirSync,
  readdirSync,
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
  CHUNK,
  lastBytes,
  MAX_LINE,
  type McpEvents,
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

/** Collects what scanMcpBuffer reports, call by call. */
function recorder() {
  const calls: string[] = [];
  const events: McpEvents = {
    requests: (n) => calls.push(`requests ${n}`),
    errors: (n) => calls.push(`errors ${n}`),
    duration: (d) => calls.push(`duration ${d}`),
  };
  return { calls, events };
}

test("parseMcpLine: a duration anywhere on a request line, all ten digits, a timestamp is not a duration", () => {
  assert.equal(parseMcpLine("duration:2 MCP Request tools/call"), {
    request: true,
    error: false,
    duration: 2,
  });
  assert.equal(parseMcpLine("t MCP Request duration:19.95"), {
    request: true,
    error: false,
    duration: 19.95,
  });
  assert.equal(parseMcpLine("t MCP Request duration:1234567890"), {
    request: true,
    error: false,
    duration: 1234567890,
  });
  // Only `duration:` introduces a duration: no number elsewhere on the line is taken for one.
  assert.equal(parseMcpLine("2026-11-30T02:00:00Z INFO MCP Request tools/list"), {
    request: true,
    error: false,
  });
  // Only "." is a decimal point: a comma or a unit ends the number.
  assert.equal(parseMcpLine("t MCP Request duration:3,5"), {
    request: true,
    error: false,
    duration: 3,
  });
  assert.equal(parseMcpLine("t MCP Request duration:2s5"), {
    request: true,
    error: false,
    duration: 2,
  });
  assert.equal(parseMcpLine("t MCP Error duration:1"), { request: false, error: true });
  // The word may end the line.
  assert.equal(parseMcpLine("t INFO MCP Request"), { request: true, error: false });
  assert.equal(parseMcpLine("t INFO MCP Error"), { request: false, error: true });
});

test("scanMcpBuffer agrees with parseMcpLine line by line (durations before the word, timestamps, line starts)", () => {
  const lines = [
    "MCP Request first duration:3",
    "2026-11-30T02:00:00Z INFO MCP Request tools/list",
    "2026-11-30T02:00:01Z duration:0.75 MCP Request tools/call",
    "2026-11-30T02:00:02Z INFO MCP Request ping",
    "duration:8 heartbeat",
    "2026-11-30T02:00:03Z ERROR MCP Error -32000 duration:4",
    "2026-11-30T02:00:04Z INFO MCP Request tools/call",
  ];
  const want = { requests: 0, errors: 0, durations: [] as number[] };
  for (const l of lines) {
    const p = parseMcpLine(l);
    if (p.request) want.requests++;
    if (p.error) want.errors++;
    if (p.duration !== undefined) want.durations.push(p.duration);
  }
  assert.equal(want, { requests: 5, errors: 1, durations: [3, 0.75] });
  const buf = Buffer.from(`${lines.join("\n")}\n`);
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
});

test("scanMcpBuffer reports each count once per block, and no call for a count of zero", () => {
  const r = recorder();
  const a = Buffer.from("MCP Request x\nMCP Request duration:2\nMCP Request y\n");
  scanMcpBuffer(a, a.length, r.events);
  assert.equal(r.calls, ["duration 2", "requests 3"]);
  const e = recorder();
  const b = Buffer.from("MCP Error 1\nnoise\nMCP Error 2\n");
  scanMcpBuffer(b, b.length, e.events);
  assert.equal(e.calls, ["errors 2"]);
  const none = recorder();
  const c = Buffer.from("heartbeat duration:1\nMCP\n");
  scanMcpBuffer(c, c.length, none.events);
  assert.equal(none.calls, []);
});

test("scanMcpBuffer reads nothing at or after `end`, even inside a line longer than a slice", () => {
  // buf[0, end) ends inside a long line; the rest of that line (and its words) are not the block's.
  const line = `MCP Request long ${"y".repeat(SLICE + 10)} MCP Error late duration:5\nMCP Error next\n`;
  const buf = Buffer.from(`MCP Request a\n${line}`, "latin1");
  const end = buf.indexOf("MCP Error late");
  const r = recorder();
  scanMcpBuffer(buf, end, r.events);
  assert.equal(r.calls, ["requests 2"]);
  // `end` is a bound, not a promise of a newline: the text up to it is read as it is.
  const open = recorder();
  scanMcpBuffer(Buffer.from("MCP Error tail"), 14, open.events);
  assert.equal(open.calls, ["errors 1"]);
  // Complete lines after `end` are not the block's either, however far past a slice they reach.
  const block = Buffer.from(
    `${"MCP Request a\n".repeat(Math.ceil((1.5 * SLICE) / 14))}${"MCP Error b\n".repeat(SLICE / 6)}`,
  );
  const after = recorder();
  scanMcpBuffer(block, block.indexOf("MCP Error b"), after.events);
  assert.equal(after.calls, [`requests ${Math.ceil((1.5 * SLICE) / 14)}`]);
  const long = recorder();
  const last = Buffer.from(`MCP Request ${"y".repeat(SLICE + 10)}`);
  scanMcpBuffer(last, last.length, long.events);
  assert.equal(long.calls, ["requests 1"]);
  const cut = recorder();
  scanMcpBuffer(Buffer.from("MCP Request duration:12\n"), 22, cut.events);
  assert.equal(cut.calls, ["duration 1", "requests 1"]);
});

test("a directory at the log's path is reported (EISDIR), and the log is read once a file replaces it", async () => {
  const s = setup();
  mkdirSync(s.file);
  assert.equal(await s.refresh(), { requests: 0, errors: 0, durations: 0 });
  assert.equal(await s.refresh(), { requests: 0, errors: 0, durations: 0 });
  assert.equal(s.reported, [`mcp-log: ${s.file}: unreadable (EISDIR)`]);
  // Moved aside, not removed: an emptied directory would read as 0 bytes.
  renameSync(s.file, `${s.file}.d`);
  writeFileSync(s.file, "MCP Request duration:1\nMCP Error\n");
  assert.equal(await s.refresh(), { requests: 1, errors: 1, durations: 1 });
  appendFileSync(s.file, "MCP Request\n");
  assert.equal(await s.refresh(), { requests: 2, errors: 1, durations: 1 });
  assert.is(s.reported.length, 1);
  cleanup(s.dir);
});

test("one problem after another is each reported once: a symlink loop (ELOOP), then a directory (EISDIR)", async () => {
  const s = setup();
  symlinkSync(s.file, s.file);
  await s.refresh();
  await s.refresh();
  rmSync(s.file);
  mkdirSync(s.file);
  await s.refresh();
  await s.refresh();
  assert.equal(s.reported, [
    `mcp-log: ${s.file}: unreadable (ELOOP)`,
    `mcp-log: ${s.file}: unreadable (EISDIR)`,
  ]);
  cleanup(s.dir);
});

test("ENOTDIR before the log was ever opened: one report, and the log is read once the path works", async () => {
  const s = setup();
  // The log's directory is a file: stat fails with ENOTDIR, and there is no descriptor to read on through.
  rmSync(s.dir, { recursive: true });
  writeFileSync(s.dir, "");
  assert.equal(await s.refresh(), { requests: 0, errors: 0, durations: 0 });
  assert.equal(await s.refresh(), { requests: 0, errors: 0, durations: 0 });
  assert.equal(s.reported, [`mcp-log: ${s.file}: unreadable (ENOTDIR)`]);
  rmSync(s.dir);
  mkdirSync(s.dir);
  writeFileSync(s.file, "MCP Request\nMCP Error\n");
  assert.equal(await s.refresh(), { requests: 1, errors: 1, durations: 0 });
  assert.is(s.reported.length, 1);
  cleanup(s.dir);
});

test("rotation to a new file that starts with the old file's lines: the new file is read from its start", async () => {
  const s = setup();
  writeFileSync(s.file, "MCP Request boot\nMCP Request ready\n");
  assert.equal(await s.refresh(), { requests: 2, errors: 0, durations: 0 });
  // The old file stays (renamed), so the new one cannot reuse its inode: it is another file with the same
  // first bytes, and none of them has been counted yet.
  renameSync(s.file, `${s.file}.1`);
  writeFileSync(s.file, "MCP Request boot\nMCP Request ready\nMCP Error\n");
  assert.equal(await s.refresh(), { requests: 4, errors: 1, durations: 0 });
  assert.equal(s.reported, []);
  cleanup(s.dir);
});

test("the tailer holds one descriptor: each rotated file is closed once drained, a removed log frees it", async () => {
  const fds = () => readdirSync("/proc/self/fd").length;
  const s = setup();
  const before = fds();
  writeFileSync(s.file, "MCP Request\n");
  assert.is((await s.refresh()).requests, 1);
  assert.is(fds(), before + 1);
  for (let i = 0; i < 20; i++) {
    renameSync(s.file, `${s.file}.${i}`);
    writeFileSync(s.file, "MCP Request\n");
    await s.refresh();
  }
  assert.is((await s.refresh()).requests, 21);
  assert.is(fds(), before + 1);
  rmSync(s.file);
  assert.is((await s.refresh()).requests, 21);
  assert.is(fds(), before);
  cleanup(s.dir);
});

test("an over-long line is dropped whole, MCP words at its far end included; the lines after it count", async () => {
  const s = setup();
  // More than two reads long: the skip must last over every read of the line, not only the first.
  writeFileSync(
    s.file,
    `MCP Request a\n${"y".repeat(2 * CHUNK + 100)} MCP Request duration:5 MCP Error\nMCP Error b\n`,
  );
  assert.equal(await s.refresh(), { requests: 1, errors: 1, durations: 0 });
  assert.equal(s.reported, [
    `mcp-log: ${s.file}: line at byte 14 longer than ${MAX_LINE} bytes, skipped`,
  ]);
  appendFileSync(s.file, "MCP Request c\n");
  assert.equal(await s.refresh(), { requests: 2, errors: 1, durations: 0 });
  cleanup(s.dir);
});

test("an over-long line whose newline is the first byte of the next read: the next line counts, once", async () => {
  const s = setup();
  // 12 bytes, then a line of exactly CHUNK bytes: its newline is at 12 + CHUNK, where the read after it starts.
  writeFileSync(s.file, `MCP Request\n${"y".repeat(CHUNK)}\nMCP Error\n`);
  assert.equal(await s.refresh(), { requests: 1, errors: 1, durations: 0 });
  appendFileSync(s.file, "MCP Request\n");
  assert.equal(await s.refresh(), { requests: 2, errors: 1, durations: 0 });
  assert.is(s.reported.length, 1);
  cleanup(s.dir);
});

test("a half-written line waits up to MAX_LINE - 1 bytes, is skipped at MAX_LINE; each long line is reported", async () => {
  const s = setup();
  writeFileSync(s.file, `MCP Request\n${"y".repeat(MAX_LINE - 1)}`);
  assert.equal(await s.refresh(), { requests: 1, errors: 0, durations: 0 });
  assert.equal(s.reported, []);
  // Its writer may still end it: one byte less than MAX_LINE is waited for, not dropped.
  appendFileSync(s.file, " MCP Error\n");
  assert.equal(await s.refresh(), { requests: 1, errors: 1, durations: 0 });
  const at = statSync(s.file).size;
  appendFileSync(s.file, "y".repeat(MAX_LINE));
  assert.equal(await s.refresh(), { requests: 1, errors: 1, durations: 0 });
  assert.equal(s.reported, [
    `mcp-log: ${s.file}: line at byte ${at} longer than ${MAX_LINE} bytes, skipped`,
  ]);
  // The skipped line ends (its end is dropped too), and the next long line follows at once: it is reported in
  // its own right, in the very next refresh.
  appendFileSync(s.file, " MCP Request\nMCP Error\n");
  const at2 = statSync(s.file).size;
  appendFileSync(s.file, "z".repeat(MAX_LINE + 5));
  assert.equal(await s.refresh(), { requests: 1, errors: 2, durations: 0 });
  appendFileSync(s.file, "\nMCP Request duration:2\n");
  assert.equal(await s.refresh(), { requests: 2, errors: 2, durations: 1 });
  assert.equal(s.reported, [
    `mcp-log: ${s.file}: line at byte ${at} longer than ${MAX_LINE} bytes, skipped`,
    `mcp-log: ${s.file}: line at byte ${at2} longer than ${MAX_LINE} bytes, skipped`,
  ]);
  cleanup(s.dir);
});

test.run();
