import { rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RESCAN_MS } from "../../../scripts/lib/dirchange.js";
import { GitStateReader, parseGitState } from "../../../scripts/lib/gitstate.js";
import { Problems } from "../../../scripts/lib/problems.js";
import { cleanup, tempDir } from "../../helpers/proc.js";

test("parseGitState: ok, failed, pending, or an error", () => {
  assert.is(parseGitState('{"status":"ok"}'), "ok");
  assert.is(parseGitState('{"status":"failed","op":"push"}'), "failed");
  assert.is(parseGitState('{"status":"running"}'), "pending");
  assert.instance(parseGitState("{"), Error);
  assert.instance(parseGitState('"ok"'), Error);
});

test("each file is counted once when it reaches ok/failed; corrupt versions are reported once", () => {
  const dir = tempDir("git");
  const reported: string[] = [];
  const problems = new Problems((_s, m) => reported.push(m));
  const r = new GitStateReader(dir, problems);
  const seen: string[] = [];
  const refresh = () => {
    r.refresh((s) => seen.push(s));
    problems.sweep();
  };
  writeFileSync(join(dir, "a.json"), '{"status":"ok"}');
  writeFileSync(join(dir, "b.json"), '{"status":"running"}');
  writeFileSync(join(dir, "c.json"), '{"status":');
  writeFileSync(join(dir, "ignored.txt"), "x");
  refresh();
  refresh();
  assert.equal(seen, ["ok"]);
  assert.is(reported.length, 1);
  writeFileSync(join(dir, "b.json"), '{"status":"failed"}');
  writeFileSync(join(dir, "c.json"), '{"status":"ok"}');
  refresh();
  refresh();
  assert.equal(seen.sort(), ["failed", "ok", "ok"]);
  // Removed then written again: a new operation.
  rmSync(join(dir, "a.json"));
  refresh();
  writeFileSync(join(dir, "a.json"), '{"status":"ok"}');
  refresh();
  assert.is(seen.length, 4);
  cleanup(dir);
  refresh();
  assert.match(reported.at(-1) ?? "", /cannot list \(ENOENT\)/);
});

test("an unchanged directory is not listed again: only files not counted yet are looked at", () => {
  const dir = tempDir("git");
  let now = 1_700_000_000_000;
  const old = new Date(now - 10_000);
  const problems = new Problems(() => {});
  const r = new GitStateReader(dir, problems, () => now);
  const seen: string[] = [];
  writeFileSync(join(dir, "a.json"), '{"status":"ok"}');
  writeFileSync(join(dir, "b.json"), '{"status":"running"}');
  utimesSync(dir, old, old);
  r.refresh((s) => seen.push(s));
  assert.equal(seen, ["ok"]);
  // Rewritten in place: the directory's mtime does not move, the pending file is read again.
  writeFileSync(join(dir, "b.json"), '{"status":"failed"}');
  // Added with the mtime put back: not seen until the rescan is due.
  writeFileSync(join(dir, "c.json"), '{"status":"ok"}');
  utimesSync(dir, old, old);
  r.refresh((s) => seen.push(s));
  assert.equal(seen, ["ok", "failed"]);
  now += RESCAN_MS;
  r.refresh((s) => seen.push(s));
  assert.equal(seen, ["ok", "failed", "ok"]);
  cleanup(dir);
});

test.run();
