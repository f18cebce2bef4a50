import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";

const root = process.cwd();

/** Runs test/run.ts on one unit file in a scratch repo; its env is the caller's plus `env`. */
function runner(source: string, env: Record<string, string | undefined> = {}) {
  // Inside the repo, so the child resolves tsx and uvu from node_modules as a user's run would.
  mkdirSync(join(root, ".cache"), { recursive: true });
  const dir = mkdtempSync(join(root, ".cache", "runner-"));
  mkdirSync(join(dir, "test", "unit"), { recursive: true });
  writeFileSync(join(dir, "test", "unit", "a.test.ts"), source);
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "test", "run.ts"), "unit"], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, REQUIRE_DOCKER: undefined, ...env },
  });
  rmSync(dir, { recursive: true, force: true });
  const out = stripVTControlCharacters(r.stdout);
  return { status: r.status, out, last: out.trim().split("\n").at(-1) };
}

const MIXED = `import { test } from "uvu"; import * as assert from "uvu/assert";
test("ok", () => assert.ok(true)); test("bad", () => assert.ok(false)); test.skip("needs a daemon", () => {}); test.run();`;

test("test runner ends with one summary line and fails on a failing kind", () => {
  const r = runner(MIXED);
  assert.is(r.last, "1 passed, 1 failed, 1 skipped");
  assert.is(r.status, 1);
});

test("a skipped test is named in the closing summary", () => {
  const r = runner(`import { test } from "uvu";
test("ok", () => {}); test.skip("needs a daemon", () => {}); test.run();`);
  assert.match(
    r.out,
    /1 skipped \(a missing capability[^\n]*\n {2}- unit\/a\.test\.ts › needs a daemon\n/,
  );
  assert.is(r.last, "1 passed, 0 failed, 1 skipped");
  assert.is(r.status, 0);
});

test("under REQUIRE_DOCKER=1 a skip fails the run, named", () => {
  const r = runner(
    `import { test } from "uvu";
test("ok", () => {}); test.skip("needs a daemon", () => {}); test.run();`,
    { REQUIRE_DOCKER: "1" },
  );
  assert.match(
    r.out,
    /1 skipped, which fails the run under REQUIRE_DOCKER=1:\n {2}- unit\/a\.test\.ts › needs a daemon\n/,
  );
  assert.is(r.last, "1 passed, 1 failed, 0 skipped");
  assert.is(r.status, 1);
});

test("an error in a before hook fails the run with its message, even in a suite with no tests left", () => {
  const r = runner(`import { suite, test } from "uvu";
const s = suite("setup");
s.before(() => { throw new Error("no fixture: boom-42"); });
s.run();
test("ok", () => {}); test.run();`);
  assert.match(
    r.out,
    /FAIL unit\/a\.test\.ts › setup: before hook threw \(its tests did not run\):\n\s+Error: no fixture: boom-42/,
  );
  assert.is(r.last, "1 passed, 1 failed, 0 skipped");
  assert.is(r.status, 1);
});

test.run();
