import {
  appendFileSync,
  mkdirSync,
  renameSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { McpLogTailer, parseMcpLine, scanMcpBuffer } from "../../../scripts/lib/mcplog.js";
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
  // Like the design's two greps, a line with both counts for both.
  assert.equal(parseMcpLine("MCP Request failed: MCP Error x duration:1"), {
    request: true,
    error: true,
    duration: 1,
  });
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
