/** The Actions log: a group per row written when the row ends, failures repeated after it and annotated. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { error, escapeData, escapeProperty, group } from "../../../../ci/display/github.js";
import { Display } from "../../../../ci/display/index.js";
import { StepFailed } from "../../../../ci/engines/errors.js";

/** A GitHub-mode display writing into an array of lines. */
function capture() {
  let text = "";
  const display = new Display({ mode: "github", out: { write: (t: string) => (text += t) } });
  return { display, lines: () => text.split("\n").filter(Boolean) };
}

/** The lines from `start` up to and including the first `end` after it. */
function between(lines: string[], start: string, end: string): string[] {
  const from = lines.indexOf(start);
  assert.ok(from >= 0, `no "${start}" in\n${lines.join("\n")}`);
  const to = lines.indexOf(end, from);
  assert.ok(to > from, `no "${end}" after "${start}"`);
  return lines.slice(from, to + 1);
}

const tick = () => new Promise((r) => setTimeout(r, 5));

test("workflow-command escaping follows @actions/core: % CR LF in data, and : , in properties", () => {
  assert.is(escapeData("50% done\r\nnext"), "50%25 done%0D%0Anext");
  assert.is(escapeProperty("test node22/unit: a,b%"), "test node22/unit%3A a%2Cb%25");
  assert.is(group("lint node"), "::group::lint node");
  assert.is(
    error("deploy: prod, eu", "100% broken\nsee log"),
    "::error title=deploy%3A prod%2C eu::100%25 broken%0Asee log",
  );
});

test("concurrent rows: each row's lines in one group of its own, written when it ends", async () => {
  const { display, lines } = capture();
  const g = display.group("test");
  g.start();
  const a = g.row("node22/unit", async (row) => {
    row.started();
    row.log("$ npm ci");
    await tick();
    row.log("a: pass 1");
    await tick();
  });
  const b = g.row("node24/unit", async (row) => {
    row.started();
    row.log("$ npm ci");
    await tick();
    row.log("b: pass 1");
  });
  await Promise.all([a, b]);
  g.end({ status: "passed", durationMs: 10, detail: "2 cells" });
  const out = lines();
  assert.equal(between(out, "::group::test node22/unit", "::endgroup::"), [
    "::group::test node22/unit",
    "[test node22/unit] $ npm ci",
    "[test node22/unit] a: pass 1",
    "::endgroup::",
  ]);
  assert.equal(between(out, "::group::test node24/unit", "::endgroup::"), [
    "::group::test node24/unit",
    "[test node24/unit] $ npm ci",
    "[test node24/unit] b: pass 1",
    "::endgroup::",
  ]);
  // Progress outside the groups as it happens; no annotation for passing work.
  assert.ok(out.indexOf("[test node22/unit] started") < out.indexOf("::group::test node24/unit"));
  assert.not.ok(
    out.some((l) => l.startsWith("::error")),
    out.join("\n"),
  );
  assert.ok(out.includes("[test] passed in 0.0s: 2 cells"));
});

test("a failing row stays outside any group: all its lines (not only the last), then its result, log and one ::error", async () => {
  const { display, lines } = capture();
  const g = display.group("test");
  g.start();
  // Like node:test's TAP: the failing assertion early, a long tail of stack and counts after it.
  const output = [
    "$ npm run --silent test:unit",
    "not ok 1 - adds",
    "  2 !== 3",
    ...Array.from({ length: 30 }, (_, i) => `  at frame ${i}`),
    "# fail 1",
  ];
  const passing = g.row("node24/unit", async (row) => {
    row.started();
    row.log("ok 1 - adds");
    await tick();
  });
  const r = await g.row("node22/unit", async (row) => {
    row.started();
    for (const l of output) row.log(l);
    throw new StepFailed("node22/unit", "test:unit", 1, output.join("\n"));
  });
  await passing;
  assert.is(r.cell.status, "failed");
  g.end({ status: "failed", durationMs: 1, detail: "1 of 2 failed: node22/unit", cells: [r.cell] });
  const out = lines();
  assert.not.ok(out.includes("::group::test node22/unit"), out.join("\n"));
  assert.ok(out.includes("::group::test node24/unit"), "a passing row is still grouped");
  // Every line of the failing row, together and in order, outside the passing row's group.
  const from = out.indexOf("[test node22/unit] $ npm run --silent test:unit");
  assert.ok(from >= 0, out.join("\n"));
  assert.equal(
    out.slice(from, from + output.length),
    output.map((l) => `[test node22/unit] ${l}`),
  );
  const after = out.slice(from + output.length);
  assert.match(
    after[0] ?? "",
    /^\[test node22\/unit\] failed in \S+: node22\/unit: step "test:unit" failed/,
  );
  const errors = out.filter((l) => l.startsWith("::error"));
  // ":" is escaped in the title (a property), not in the message (data).
  assert.equal(errors, [
    '::error title=test node22/unit::node22/unit: step "test:unit" failed with exit code 1',
  ]);
  assert.ok(out.indexOf(errors[0] ?? "") > from, "the annotation follows the lines");
});

test("a stage failing without rows (deploy) is annotated once, with the first line of a multi-line detail", () => {
  const { display, lines } = capture();
  const g = display.group("deploy");
  g.start();
  g.log("waiting for http://127.0.0.1:3000/health");
  g.end({
    status: "failed",
    durationMs: 5,
    detail: "health gate failed: app 100% unhealthy\napp logs:\nERR boom",
  });
  const errors = lines().filter((l) => l.startsWith("::error"));
  assert.equal(errors, ["::error title=deploy::health gate failed: app 100%25 unhealthy"]);
});

test("a row judged failed (a lint check) is annotated there, not again from the stage's summary rows", async () => {
  const { display, lines } = capture();
  const g = display.group("lint");
  g.start();
  const r = await g.row(
    "node",
    async (row) => {
      row.log("$ npm run --silent typecheck");
      row.log("src/a.ts(1,1): error TS2322");
      return { failed: ["typecheck"] };
    },
    { judge: (v) => ({ status: "failed", detail: `${v.failed.join(", ")} failed` }) },
  );
  assert.is(r.cell.status, "failed");
  g.end({
    status: "failed",
    durationMs: 2,
    detail: "1 of 2 failed: typecheck",
    cells: [
      { name: "typecheck", status: "failed", durationMs: 1, detail: "exit code 2" },
      { name: "biome", status: "passed", durationMs: 1 },
    ],
  });
  const errors = lines().filter((l) => l.startsWith("::error"));
  assert.equal(errors, ["::error title=lint node::typecheck failed"]);
});

test("failed summary rows with no failing row of their own are annotated one by one", () => {
  const { display, lines } = capture();
  const g = display.group("scan");
  g.start();
  g.end({
    status: "failed",
    durationMs: 2,
    detail: "linux/amd64: 2 HIGH",
    cells: [{ name: "linux/amd64", status: "failed", durationMs: 1, detail: "2 HIGH, 0 CRITICAL" }],
  });
  assert.equal(
    lines().filter((l) => l.startsWith("::error")),
    ["::error title=scan linux/amd64::2 HIGH, 0 CRITICAL"],
  );
});

test.run();
