import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";

const root = process.cwd();

test("test runner ends with one summary line and fails on a failing kind", () => {
  // Inside the repo, so the child resolves tsx and uvu from node_modules as a user's run would.
  mkdirSync(join(root, ".cache"), { recursive: true });
  const dir = mkdtempSync(join(root, ".cache", "runner-"));
  mkdirSync(join(dir, "test", "unit"), { recursive: true });
  writeFileSync(
    join(dir, "test", "unit", "a.test.ts"),
    `import { test } from "uvu"; import * as assert from "uvu/assert";
test("ok", () => assert.ok(true)); test("bad", () => assert.ok(false)); test.skip("later", () => {}); test.run();`,
  );
  const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "test", "run.ts"), "unit"], {
    cwd: dir,
    encoding: "utf8",
  });
  rmSync(dir, { recursive: true, force: true });
  const lines = r.stdout.trim().split("\n");
  assert.is(lines.at(-1), "1 passed, 1 failed, 1 skipped");
  assert.is(r.status, 1);
});

test.run();
