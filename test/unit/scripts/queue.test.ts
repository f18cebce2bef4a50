import { mkdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RESCAN_MS } from "../../../scripts/lib/dirchange.js";
import { Problems } from "../../../scripts/lib/problems.js";
import { QueueReader } from "../../../scripts/lib/queue.js";
import { cleanup, tempDir } from "../../helpers/proc.js";

test("counts *.running entries that are not directories; listed again when the mtime moves or the rescan is due", () => {
  const dir = tempDir("queue");
  let now = 1_700_000_000_000;
  const old = new Date(now - 10_000);
  const reported: string[] = [];
  const problems = new Problems((_s, m) => reported.push(m));
  const q = new QueueReader(dir, problems, () => now);
  writeFileSync(join(dir, "a.running"), "");
  writeFileSync(join(dir, "b.running"), "");
  writeFileSync(join(dir, "c.finished"), "");
  mkdirSync(join(dir, "d.running"));
  utimesSync(dir, old, old);
  assert.is(q.count(), 2);
  writeFileSync(join(dir, "e.running"), "");
  assert.is(q.count(), 3, "a new entry moves the mtime");
  utimesSync(dir, old, old);
  assert.is(q.count(), 3);
  rmSync(join(dir, "a.running"));
  utimesSync(dir, old, old);
  assert.is(q.count(), 3, "hidden from the mtime: the last count stands");
  now += RESCAN_MS;
  assert.is(q.count(), 2);
  cleanup(dir);
  assert.is(q.count(), 0);
  assert.is(q.count(), 0);
  problems.sweep();
  assert.equal(reported, [`${dir}: cannot list (ENOENT)`]);
});

test.run();
