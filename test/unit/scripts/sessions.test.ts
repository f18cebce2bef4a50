import { appendFileSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Problems } from "../../../scripts/lib/problems.js";
import {
  parseMetaDuration,
  RECHECK_EVERY,
  SessionStore,
  scanJobLog,
  sessionState,
} from "../../../scripts/lib/sessions.js";
import { cleanup, tempDir } from "../../helpers/proc.js";

const none = { done: false, failed: false };

test("job.log markers: DONE completes, a non-zero Exit Code fails, else running", () => {
  assert.is(sessionState(scanJobLog("start\nwork\n", none)), "running");
  assert.is(sessionState(scanJobLog("Exit Code: 0\nCONTROL: DONE\n", none)), "completed");
  assert.is(sessionState(scanJobLog("Exit Code: 2\n", none)), "failed");
  assert.is(sessionState(scanJobLog("Exit Code: -1\n", none)), "failed");
  assert.is(sessionState(scanJobLog("Exit Code: 0\n", none)), "running");
  // Both present: the job failed, whatever the agent said.
  assert.is(sessionState(scanJobLog("CONTROL: DONE\nExit Code: 137\n", none)), "failed");
});

test("markers found in earlier pieces are kept", () => {
  const m = scanJobLog("CONTROL: DONE\n", none);
  assert.is(sessionState(scanJobLog("more output\n", m)), "completed");
});

test("job.meta.json duration: number, numeric string, absent, or a clear error", () => {
  assert.is(parseMetaDuration('{"duration": 12.5}'), 12.5);
  assert.is(parseMetaDuration('{"duration": "3"}'), 3);
  assert.is(parseMetaDuration('{"id": "x"}'), undefined);
  assert.match(String(parseMetaDuration('{"duration": ')), /corrupt JSON/);
  assert.match(String(parseMetaDuration('{"duration": -1}')), /non-negative/);
  assert.match(String(parseMetaDuration('{"duration": "soon"}')), /non-negative/);
  assert.match(String(parseMetaDuration("[1]")), /not a JSON object/);
});

/** A store in a temp dir with a recording of events and problems. */
function setup() {
  const root = tempDir("sessions");
  const reported: string[] = [];
  const problems = new Problems((source, msg) => reported.push(`${source}: ${msg}`));
  const store = new SessionStore(root, problems);
  const finished: string[] = [];
  const durations: number[] = [];
  const events = {
    finished: (r: string) => finished.push(r),
    duration: (d: number) => durations.push(d),
  };
  const refresh = async () => {
    await store.refresh(events);
    problems.sweep();
  };
  return { root, store, reported, finished, durations, refresh };
}

/** Writes a session's files. */
function session(root: string, name: string, log: string, meta?: string) {
  mkdirSync(join(root, name), { recursive: true });
  writeFileSync(join(root, name, "job.log"), log);
  if (meta !== undefined) writeFileSync(join(root, name, "job.meta.json"), meta);
}

test("each session finishes once and its duration is observed once", async () => {
  const t = setup();
  session(t.root, "cdx-a", "run\n");
  session(t.root, "cdx-b", "Exit Code: 1\n", '{"duration": 4}');
  mkdirSync(join(t.root, "not-a-session"));
  await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 0, failed: 1 });
  assert.equal(t.finished, ["failed"]);
  assert.equal(t.durations, [4]);
  appendFileSync(join(t.root, "cdx-a", "job.log"), "CONTROL: DONE\n");
  await t.refresh();
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 1, failed: 1 });
  assert.equal(t.finished, ["failed", "completed"]);
  // The meta file may land after the DONE marker: the duration is taken when it appears.
  writeFileSync(join(t.root, "cdx-a", "job.meta.json"), '{"duration": 9}');
  await t.refresh();
  await t.refresh();
  assert.equal(t.durations, [4, 9]);
  assert.equal(t.reported, []);
  cleanup(t.root);
});

test("a marker cut by a concurrent write is seen once the line is whole", async () => {
  const t = setup();
  session(t.root, "cdx-a", "work\nCONTROL: DO");
  await t.refresh();
  assert.equal(t.store.counts().running, 1);
  appendFileSync(join(t.root, "cdx-a", "job.log"), "NE\n");
  await t.refresh();
  assert.equal(t.store.counts().completed, 1);
  cleanup(t.root);
});

test("a replaced job.log is rescanned from the start; a removed session leaves the gauges", async () => {
  const t = setup();
  session(t.root, "cdx-a", "CONTROL: DONE\n");
  await t.refresh();
  assert.equal(t.store.counts().completed, 1);
  writeFileSync(join(t.root, "cdx-a", "job.log.new"), "restarted\n");
  renameSync(join(t.root, "cdx-a", "job.log.new"), join(t.root, "cdx-a", "job.log"));
  await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 0, failed: 0 });
  rmSync(join(t.root, "cdx-a"), { recursive: true });
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 0, failed: 0 });
  assert.equal(t.finished, ["completed"]);
  cleanup(t.root);
});

test("bad data is skipped and reported once: corrupt meta, symlink loop, a dir as job.log, a missing root", async () => {
  const t = setup();
  session(t.root, "cdx-ok", "CONTROL: DONE\n", '{"duration": 1}');
  session(t.root, "cdx-corrupt", "CONTROL: DONE\n", '{"duration": 1');
  mkdirSync(join(t.root, "cdx-loop"));
  symlinkSync(join(t.root, "cdx-loop", "job.log"), join(t.root, "cdx-loop", "job.log"));
  mkdirSync(join(t.root, "cdx-dir", "job.log"), { recursive: true });
  await t.refresh();
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 2, failed: 0 });
  assert.is(t.reported.length, 3, t.reported.join("\n"));
  assert.ok(t.reported.some((r) => r.includes("cdx-corrupt/job.meta.json: corrupt JSON")));
  assert.ok(t.reported.some((r) => r.includes("cdx-loop/job.log") && r.includes("ELOOP")));
  assert.ok(t.reported.some((r) => r.includes("cdx-dir/job.log")));
  assert.equal(t.durations, [1]);
  // Fixing the meta file gets its duration in.
  writeFileSync(join(t.root, "cdx-corrupt", "job.meta.json"), '{"duration": 2}');
  await t.refresh();
  assert.equal(t.durations.sort(), [1, 2]);
  cleanup(t.root);
  await t.refresh();
  await t.refresh();
  assert.is(t.reported.length, 4);
  assert.match(t.reported[3] ?? "", /cannot list sessions \(ENOENT\)/);
  assert.equal(t.store.counts(), { running: 0, completed: 0, failed: 0 });
});

test("a finished session is re-checked within RECHECK_EVERY scrapes; a stray cdx-* file is no session", async () => {
  const t = setup();
  session(t.root, "cdx-a", "CONTROL: DONE\n", '{"duration": 1}');
  writeFileSync(join(t.root, "cdx-stray"), "");
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 1, failed: 0 });
  appendFileSync(join(t.root, "cdx-a", "job.log"), "Exit Code: 9\n");
  let scrapes = 0;
  while (t.store.counts().failed === 0 && scrapes <= RECHECK_EVERY) {
    await t.refresh();
    scrapes++;
  }
  assert.ok(scrapes <= RECHECK_EVERY, `not seen after ${scrapes} scrapes`);
  assert.equal(t.store.counts(), { running: 0, completed: 0, failed: 1 });
  // Counted once, as it first finished.
  assert.equal(t.finished, ["completed"]);
  assert.equal(t.reported, []);
  cleanup(t.root);
});

test("a huge job.log is scanned from its tail only, and said so once", async () => {
  const t = setup();
  mkdirSync(join(t.root, "cdx-big"));
  const file = join(t.root, "cdx-big", "job.log");
  const mb = `${"x".repeat(1023)}\n`.repeat(1024);
  for (let i = 0; i < 17; i++) appendFileSync(file, mb);
  appendFileSync(file, "Exit Code: 3\n");
  await t.refresh();
  await t.refresh();
  assert.equal(t.store.counts().failed, 1);
  assert.is(t.reported.length, 1);
  assert.match(t.reported[0] ?? "", /only the last/);
  cleanup(t.root);
});

test.run();
