/** The board's frame, the plain lines, and which one `--progress` and the environment choose. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { chooseMode, Display } from "../../../../ci/display/index.js";

const ESC = String.fromCharCode(27);

/** A display writing into a string, with a terminal's size. */
function capture(mode: "tty" | "plain", color = false) {
  let text = "";
  const out = { write: (t: string) => (text += t), columns: 100, rows: 30 };
  const display = new Display({
    mode,
    out,
    color,
    title: "codex-ci run r1 · engine docker",
    jobs: 2,
  });
  return { display, text: () => text };
}

test("the board: a header with slots in use, a line per stage and per row with mark, time and step", async () => {
  const { display } = capture("tty");
  try {
    const lint = display.group("lint");
    const tst = display.group("test");
    tst.waiting("needs lint");
    lint.start();
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const node = lint.row("node", async (row) => {
      row.started();
      row.step("npm ci");
      row.log("added 300 packages");
      await gate;
    });
    const prom = lint.row("prometheus", async (row) => {
      row.queued();
      await gate;
    });
    const now = Date.now() + 1500;
    const frame = display.frame(now).split("\n");
    assert.match(frame[0] ?? "", /^codex-ci run r1 · engine docker · slots 1\/2 · 1\.\ds$/);
    assert.match(frame[1] ?? "", /^lint\s+\S running\s+1\.\ds/);
    assert.match(frame[2] ?? "", /^ {2}node\s+\S running\s+1\.\ds\s+npm ci$/);
    assert.match(
      frame[3] ?? "",
      /^ {2}prometheus\s+○ queued\s+1\.\ds\s+waiting for a --jobs slot$/,
    );
    assert.match(frame[4] ?? "", /^test\s+· waiting\s+needs lint$/);
    // Output goes to the row's log, never onto the board.
    assert.not.match(frame.join("\n"), /added 300 packages/);
    release();
    await Promise.all([node, prom]);
    const cached = await lint.row("alertmanager", async (row) =>
      row.step("amtool check-config", true),
    );
    assert.is(cached.cell.status, "passed");
    lint.end({ status: "passed", durationMs: 1600, detail: "3 checks" });
    const done = display.frame().split("\n");
    assert.match(done[1] ?? "", /^lint\s+✔ passed\s+1\.6s\s+3 checks$/);
    assert.match(done[2] ?? "", /^ {2}node\s+✔ passed\s+\d+\.\ds$/);
    assert.match(done[4] ?? "", /^ {2}alertmanager\s+↺ cached\s+\d+\.\ds$/);
    assert.not.ok(done.join("\n").includes(ESC), "no colour codes with color off (NO_COLOR)");
  } finally {
    display.stop();
  }
});

test("when a stage ends its rows become the summary's rows (lint: a row per check)", async () => {
  const { display } = capture("tty");
  try {
    const lint = display.group("lint");
    lint.start();
    await lint.row("node", async () => {});
    lint.end({
      status: "failed",
      durationMs: 10,
      detail: "1 of 2 failed: typecheck",
      cells: [
        { name: "typecheck", status: "failed", durationMs: 5, detail: "exit code 2" },
        { name: "biome", status: "passed", durationMs: 4 },
      ],
    });
    const frame = display.frame();
    assert.match(frame, /\n {2}typecheck\s+✘ failed\s+0\.0s\s+exit code 2\n/);
    assert.match(frame, /\n {2}biome\s+✔ passed/);
    assert.not.match(frame, /\n {2}node /);
  } finally {
    display.stop();
  }
});

test("lines a stage logs for a cell outside ctx.row are kept, without a row that would never end", async () => {
  const { display } = capture("tty");
  try {
    const scan = display.group("scan");
    scan.start();
    scan.cellLog("linux/amd64")("apt-get -s upgrade: 3 pending");
    assert.not.match(display.frame(), /linux\/amd64/);
    scan.end({
      status: "failed",
      durationMs: 5,
      detail: "linux/amd64: 3 pending",
      cells: [{ name: "linux/amd64", status: "failed", durationMs: 4, detail: "3 pending" }],
    });
    assert.match(display.frame(), /\n {2}linux\/amd64\s+✘ failed\s+0\.0s\s+3 pending/);
  } finally {
    display.stop();
  }
});

test("a failing row's last lines show under the board, and again under it when it stops", async () => {
  const { display, text } = capture("tty");
  const g = display.group("test");
  g.start();
  await g.row("node22/unit", async (row) => {
    row.log("not ok 1 - adds");
    throw new Error('node22/unit: step "test:unit" failed with exit code 1');
  });
  assert.match(display.frame(), /✘ test node22\/unit: last lines\n {2}│ not ok 1 - adds/);
  // As a run ends: the board stops first (then the engine cleans up), the tails print at close.
  display.stop();
  await display.close();
  assert.match(
    text(),
    /✘ test node22\/unit: node22\/unit: step "test:unit" failed with exit code 1\n {2}│ not ok 1 - adds\n$/,
  );
});

test("plain output: every line prefixed as it comes, a line when a row ends, no escape codes", async () => {
  const { display, text } = capture("plain", true);
  const g = display.group("test");
  g.start();
  await g.row("node22/unit", async (row) => {
    row.queued();
    row.started();
    row.step("npm ci");
    row.log("$ npm ci --prefer-offline");
    row.quietLog("shown by Dagger already");
  });
  g.end({ status: "passed", durationMs: 3, detail: "1 cell" });
  await display.close();
  const out = text();
  assert.equal(out.trimEnd().split("\n"), [
    "[test] started",
    "[test node22/unit] $ npm ci --prefer-offline",
    "[test node22/unit] passed in 0.0s",
    "[test] passed in 0.0s: 1 cell",
  ]);
  assert.not.ok(out.includes(ESC), "no escape sequences");
});

test("--progress: auto is the board only on a terminal that can draw it, outside Actions and --json", () => {
  const f = { isTTY: true, github: false, dumbTerminal: false, json: false };
  assert.is(chooseMode("auto", f), "tty");
  assert.is(chooseMode("auto", { ...f, isTTY: false }), "plain");
  assert.is(chooseMode("auto", { ...f, json: true }), "plain");
  assert.is(chooseMode("auto", { ...f, dumbTerminal: true }), "plain");
  assert.is(chooseMode("auto", { ...f, github: true }), "github");
  assert.is(chooseMode("plain", f), "plain");
  assert.is(chooseMode("plain", { ...f, github: true }), "github");
  assert.is(chooseMode("tty", { ...f, isTTY: false }), "tty");
});

test.run();
