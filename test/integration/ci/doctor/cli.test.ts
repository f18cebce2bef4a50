import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { runMain } from "../../../helpers/ci-main.js";

/** Runs `tsx <script> args` from the repo root. */
const tsx = (script: string, args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, ["--import", "tsx", script, ...args], {
    encoding: "utf8",
    timeout: 120_000,
    env,
  });

test("doctor with nothing but node on PATH: exit 1, the required tools MISSING and named last", () => {
  const dir = mkdtempSync(join(tmpdir(), "doctor-path-"));
  try {
    symlinkSync(process.execPath, join(dir, "node"));
    // Known in advance, not read off the doctor's own table: no docker client, compose, promtool or amtool.
    const r = tsx("ci/main.ts", ["doctor"], { ...process.env, PATH: dir });
    assert.is(r.status, 1, r.stdout + r.stderr);
    for (const row of ["docker client", "compose", "promtool", "amtool"])
      assert.match(r.stdout, new RegExp(`^${row}\\s+MISSING\\s`, "m"), row);
    // Optional tools only warn.
    for (const row of ["jq", "bc", "docker-registry"])
      assert.match(r.stdout, new RegExp(`^${row}\\s+warn\\s`, "m"), row);
    const last = r.stdout.trim().split("\n").at(-1) ?? "";
    assert.match(last, /^doctor: missing /);
    for (const name of ["docker client", "compose", "promtool", "amtool"])
      assert.ok(last.includes(name), last);
    assert.not.ok(/\b(jq|bc)\b/.test(last), last);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("doctor on this machine: its exit code and closing line agree with its table", () => {
  const r = tsx("ci/main.ts", ["doctor"]);
  const rows = r.stdout.split("\n").filter((l) => /^\S.*\s(ok|warn|MISSING)\s/.test(l));
  assert.ok(rows.length >= 17, r.stdout);
  const missing = rows.filter((l) => /\sMISSING\s/.test(l));
  assert.is(r.status, missing.length > 0 ? 1 : 0, r.stdout);
  assert.match(
    r.stdout.trim().split("\n").at(-1) ?? "",
    missing.length > 0 ? /^doctor: missing / : /^doctor: ready/,
  );
});

// In-process through main() and failure(), as the entry point runs them; the tests above are real processes.
test("a bad config or argument: exit 2 with the file or the argument named", async () => {
  const dir = mkdtempSync(join(tmpdir(), "doctor-cli-"));
  try {
    const bad = join(dir, "pipeline.yaml");
    writeFileSync(bad, "node: [20]\nbogus: 1\n");
    const r = await runMain(["doctor", "--config", bad]);
    assert.is(r.status, 2);
    assert.match(r.stderr, "pipeline.yaml");
    const u = await runMain(["doctor", "--frobnicate"]);
    assert.is(u.status, 2);
    assert.match(u.stderr, /--frobnicate/);
    assert.match(u.stderr, /Run with --help for usage/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
