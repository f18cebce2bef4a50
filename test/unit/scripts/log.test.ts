import { test } from "uvu";
import * as assert from "uvu/assert";
import { createLogger, parseLogLine } from "../../../scripts/lib/log.js";

/** A logger writing into an array. */
function capture(opts: Parameters<typeof createLogger>[1] = {}) {
  const lines: string[] = [];
  const log = createLogger("unit", { ...opts, write: (l) => lines.push(l) });
  return { log, lines };
}

test("a line is one JSON object with time, level, component, message and fields", () => {
  const { log, lines } = capture();
  log.info("hello", { pid: 7 });
  assert.is(lines.length, 1);
  assert.ok(lines[0]?.endsWith("\n"));
  const o = parseLogLine(lines[0] ?? "");
  assert.ok(o);
  assert.is(o?.level, "info");
  assert.is(o?.component, "unit");
  assert.is(o?.message, "hello");
  assert.is(o?.pid, 7);
  assert.ok(!Number.isNaN(Date.parse(o?.time ?? "")));
});

test("lines below the level are dropped", () => {
  const { log, lines } = capture({ level: "warn" });
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  assert.equal(
    lines.map((l) => parseLogLine(l)?.level),
    ["warn", "error"],
  );
});

test("secrets are redacted wherever they appear", () => {
  const { log, lines } = capture({ secrets: ["ghp_abcdef123456", undefined] });
  log.warn("gh said ghp_abcdef123456 is bad", { stderr: "token ghp_abcdef123456" });
  assert.not.match(lines[0] ?? "", /ghp_abcdef123456/);
  assert.match(lines[0] ?? "", /gh said \*\*\* is bad/);
});

test("a newline in a message cannot forge a second line", () => {
  const { log, lines } = capture();
  log.info('x\n{"level":"error"}');
  assert.is((lines[0] ?? "").split("\n").length, 2);
});

test("parseLogLine rejects what is not a log line", () => {
  assert.is(parseLogLine("plain text"), undefined);
  assert.is(parseLogLine('{"level":"info"}'), undefined);
  assert.is(parseLogLine("[1,2]"), undefined);
});

test('a secret with " or \\ in it is redacted before JSON encoding, in messages, fields and keys', () => {
  const token = 'ghp_ab"cd\\ef\n12';
  const { log, lines } = capture({ secrets: [token] });
  log.warn(`gh auth login failed: bad token ${token}`, {
    stderr: `token ${token} rejected`,
    nested: { list: [token], [token]: 1 },
  });
  const line = lines[0] ?? "";
  // Neither the raw token nor its JSON-escaped form may appear.
  assert.not.ok(line.includes(token), line);
  assert.not.ok(line.includes(JSON.stringify(token).slice(1, -1)), line);
  const o = parseLogLine(line);
  assert.is(o?.message, "gh auth login failed: bad token ***");
  assert.is(o?.stderr, "token *** rejected");
  assert.equal(o?.nested, { list: ["***"], "***": 1 });
});

test.run();
