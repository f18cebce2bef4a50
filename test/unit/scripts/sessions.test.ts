import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  linkSync,
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RESCAN_MS } from "../../../scripts/lib/dirchange.js";
import { Problems } from "../../../scripts/lib/problems.js";
import {
  MAX_LOG_SCAN,
  MAX_META_BYTES,
  parseMetaDuration,
  SETTLE_MS,
  SessionStore,
  scanJobLog,
  sessionState,
} from "../../../scripts/lib/sessions.js";
import { cleanup, repoRoot, tempDir } from "../../helpers/proc.js";

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

/** A store in a temp dir with a recording of events and problems, on the given clock. */
function setup(now?: () => number) {
  const root = tempDir("sessions");
  const reported: string[] = [];
  const problems = new Problems((source, msg) => reported.push(`${source}: ${msg}`));
  const store = new SessionStore(root, problems, now);
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

test("a finished session with its duration is settled: never read again; a stray cdx-* file is no session", async () => {
  const t = setup();
  session(t.root, "cdx-a", "CONTROL: DONE\n", '{"duration": 1}');
  session(t.root, "cdx-f", "Exit Code: 1\n", '{"duration": 8}');
  writeFileSync(join(t.root, "cdx-stray"), "");
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 1, failed: 1 });
  // Written after it settled: not read (a finished session does not change; reading it would cost every scrape).
  appendFileSync(join(t.root, "cdx-a", "job.log"), "Exit Code: 9\n");
  writeFileSync(join(t.root, "cdx-a", "job.meta.json"), '{"duration": 2}');
  session(t.root, "cdx-b", "work\n");
  // Today's code re-checked finished sessions on one scrape in ten: twelve scrapes would have seen it.
  for (let i = 0; i < 12; i++) await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 1, failed: 1 });
  assert.equal(t.finished.sort(), ["completed", "failed"]);
  assert.equal(t.durations.sort(), [1, 8]);
  // Removing them still takes them out of the gauges.
  rmSync(join(t.root, "cdx-a"), { recursive: true });
  await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 0, failed: 1 });
  rmSync(join(t.root, "cdx-f"), { recursive: true });
  await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 0, failed: 0 });
  assert.equal(t.reported, []);
  cleanup(t.root);
});

test("a finished session without a duration is read until SETTLE_MS after it finished, then never", async () => {
  let now = 1_000_000;
  const t = setup(() => now);
  session(t.root, "cdx-late", "Exit Code: 1\n");
  session(t.root, "cdx-never", "Exit Code: 2\n");
  await t.refresh();
  assert.equal(t.finished, ["failed", "failed"]);
  now += SETTLE_MS - 1;
  writeFileSync(join(t.root, "cdx-late", "job.meta.json"), '{"duration": 5}');
  await t.refresh();
  assert.equal(t.durations, [5]);
  now += 1;
  await t.refresh(); // SETTLE_MS after it finished: read one last time, then settled.
  writeFileSync(join(t.root, "cdx-never", "job.meta.json"), '{"duration": 6}');
  await t.refresh();
  assert.equal(t.durations, [5]);
  // Its log replaced by a running one: not seen either, it settled.
  writeFileSync(join(t.root, "cdx-never", "job.log"), "restarted\n");
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 0, failed: 2 });
  cleanup(t.root);
});

test("a session not yet settled is still read: its meta, or a log that starts running again", async () => {
  let now = 1_000_000;
  const t = setup(() => now);
  session(t.root, "cdx-a", "CONTROL: DONE\n");
  await t.refresh();
  now += SETTLE_MS - 1;
  writeFileSync(join(t.root, "cdx-a", "job.log"), "restarted\n");
  await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 0, failed: 0 });
  // Running again resets the settling clock: SETTLE_MS counts from its second finish.
  now += SETTLE_MS;
  appendFileSync(join(t.root, "cdx-a", "job.log"), "Exit Code: 4\n");
  await t.refresh();
  now += SETTLE_MS - 1;
  writeFileSync(join(t.root, "cdx-a", "job.meta.json"), '{"duration": 3}');
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 0, failed: 1 });
  assert.equal(t.finished, ["completed"]);
  assert.equal(t.durations, [3]);
  cleanup(t.root);
});

test("new sessions are seen through the root's mtime; one hidden from it is found by the rescan, or at once after rescan()", async () => {
  let now = 1_700_000_000_000;
  const t = setup(() => now);
  const old = new Date(now - 10_000);
  session(t.root, "cdx-a", "work\n");
  utimesSync(t.root, old, old);
  await t.refresh();
  assert.is(t.store.counts().running, 1);
  // Added, and the root's mtime put back: nothing tells the exporter until the rescan is due.
  session(t.root, "cdx-b", "work\n");
  utimesSync(t.root, old, old);
  now += RESCAN_MS - 1;
  await t.refresh();
  assert.is(t.store.counts().running, 1);
  now += 1;
  await t.refresh();
  assert.is(t.store.counts().running, 2);
  session(t.root, "cdx-c", "work\n");
  utimesSync(t.root, old, old);
  await t.refresh();
  assert.is(t.store.counts().running, 2);
  t.store.rescan();
  await t.refresh();
  assert.is(t.store.counts().running, 3);
  // A changed mtime is noticed at once.
  session(t.root, "cdx-d", "work\n");
  await t.refresh();
  assert.is(t.store.counts().running, 4);
  cleanup(t.root);
});

/**
 * Runs an ES module script under tsx in a child limited to 64 descriptors (so it can run out of them: EMFILE), and
 * returns the JSON its last line of output prints.
 */
function inLowFdChild(script: string) {
  const r = spawnSync(
    "sh",
    [
      "-c",
      'ulimit -n 64 && exec "$0" --import tsx --input-type=module -e "$1"',
      process.execPath,
      script,
    ],
    { cwd: repoRoot, encoding: "utf8", timeout: 60_000 },
  );
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}");
}

test("EMFILE while reading sessions keeps the last state and counts once when descriptors are back", () => {
  const root = tempDir("emfile");
  session(root, "cdx-a", "work\n");
  session(root, "cdx-b", "Exit Code: 0\nCONTROL: DONE\n", '{"duration": 3}');
  // A child with a low descriptor limit: it fills its table, reads, frees, reads again.
  const script = `
    import { appendFileSync, closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
    import { Problems } from ${JSON.stringify(join(repoRoot, "scripts/lib/problems.ts"))};
    import { SessionStore } from ${JSON.stringify(join(repoRoot, "scripts/lib/sessions.ts"))};
    const out = { reported: [], finished: [], durations: [], counts: [] };
    const problems = new Problems((s, m) => out.reported.push(m));
    const store = new SessionStore(${JSON.stringify(root)}, problems);
    const ev = { finished: (r) => out.finished.push(r), duration: (d) => out.durations.push(d) };
    const refresh = async () => { await store.refresh(ev); problems.sweep(); out.counts.push(store.counts()); };
    await refresh();
    appendFileSync(${JSON.stringify(join(root, "cdx-a", "job.log"))}, "CONTROL: DONE\\n");
    // A new session changes the root's mtime: the next refresh lists it, and readdir needs a descriptor.
    mkdirSync(${JSON.stringify(join(root, "cdx-c"))});
    writeFileSync(${JSON.stringify(join(root, "cdx-c", "job.log"))}, "CONTROL: DONE\\n");
    writeFileSync(${JSON.stringify(join(root, "cdx-c", "job.meta.json"))}, '{"duration": 5}');
    const held = [];
    try { for (;;) held.push(openSync("/dev/null", "r")); } catch (e) { if (e.code !== "EMFILE") throw e; }
    await refresh();
    await refresh();
    for (const fd of held) closeSync(fd);
    await refresh();
    await refresh();
    console.log(JSON.stringify(out));
  `;
  const out = inLowFdChild(script);
  cleanup(root);
  assert.equal(out.finished, ["completed", "completed", "completed"]);
  assert.equal(out.durations, [3, 5]);
  const before = { running: 1, completed: 1, failed: 0 };
  const after = { running: 0, completed: 3, failed: 0 };
  assert.equal(out.counts, [before, before, before, after, after]);
  assert.equal(out.reported, [`${root}: cannot list sessions (EMFILE); last known state kept`]);
});

test("a root unreadable for a while (ENOTDIR, like EACCES or EMFILE) keeps the last known state; each session counts once", async () => {
  const t = setup();
  session(t.root, "cdx-a", "Exit Code: 0\nCONTROL: DONE\n", '{"duration": 4}');
  session(t.root, "cdx-b", "Exit Code: 3\n", '{"duration": 7}');
  session(t.root, "cdx-c", "work\n");
  await t.refresh();
  const before = { running: 1, completed: 1, failed: 1 };
  assert.equal(t.store.counts(), before);
  // A file where the root was: listing fails with ENOTDIR, a real error even for root.
  renameSync(t.root, `${t.root}.away`);
  writeFileSync(t.root, "");
  await t.refresh();
  await t.refresh();
  assert.equal(t.store.counts(), before, "the gauges keep the last known state");
  assert.equal(t.reported, [
    `sessions: ${t.root}: cannot list sessions (ENOTDIR); last known state kept`,
  ]);
  // cdx-c finishes meanwhile.
  appendFileSync(join(`${t.root}.away`, "cdx-c", "job.log"), "CONTROL: DONE\n");
  rmSync(t.root);
  renameSync(`${t.root}.away`, t.root);
  await t.refresh();
  await t.refresh();
  assert.equal(t.finished.sort(), ["completed", "completed", "failed"]);
  assert.equal(t.durations.sort(), [4, 7]);
  assert.equal(t.store.counts(), { running: 0, completed: 2, failed: 1 });
  assert.is(t.reported.length, 1);
  // A second outage is a new problem: reported again.
  renameSync(t.root, `${t.root}.away`);
  writeFileSync(t.root, "");
  await t.refresh();
  assert.is(t.reported.length, 2);
  rmSync(t.root);
  renameSync(`${t.root}.away`, t.root);
  cleanup(t.root);
});

test("the root moved away and back (the issue's repro): gauges at 0 while it is gone, nothing counted twice", async () => {
  const t = setup();
  session(t.root, "cdx-a", "CONTROL: DONE\n", '{"duration": 4}');
  session(t.root, "cdx-b", "Exit Code: 1\n", '{"duration": 2}');
  session(t.root, "cdx-c", "work\n");
  await t.refresh();
  renameSync(t.root, `${t.root}.away`);
  await t.refresh();
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 0, failed: 0 });
  assert.equal(t.reported, [`sessions: ${t.root}: cannot list sessions (ENOENT)`]);
  renameSync(`${t.root}.away`, t.root);
  await t.refresh();
  await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 1, failed: 1 });
  assert.equal(t.finished.sort(), ["completed", "failed"]);
  assert.equal(t.durations.sort(), [2, 4]);
  assert.is(t.reported.length, 1);
  cleanup(t.root);
});

/** A refresh whose `finished` event handler throws a TypeError (a bug); what it rejected with. */
function refreshWithBug(store: SessionStore): Promise<unknown> {
  return store
    .refresh({
      finished: () => {
        throw new TypeError("bug");
      },
      duration: () => {},
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
}

test("a bug (an error without an fs code) is thrown to the caller, not taken for a root problem", async () => {
  const t = setup();
  session(t.root, "cdx-a", "CONTROL: DONE\n");
  const thrown = await refreshWithBug(t.store);
  assert.instance(thrown, TypeError);
  assert.equal(t.reported, []);
  cleanup(t.root);
});

test("a bug thrown mid-scrape leaves the sessions not read yet out of the gauges, not counted as running", async () => {
  const t = setup();
  for (const n of ["cdx-a", "cdx-b", "cdx-c"]) session(t.root, n, "CONTROL: DONE\n");
  const thrown = await refreshWithBug(t.store);
  assert.instance(thrown, TypeError);
  // The first session read threw; the other two are listed but unread: unknown, in no state.
  assert.equal(t.store.counts(), { running: 0, completed: 1, failed: 0 });
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 3, failed: 0 });
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

test("job.meta.json: a null duration is absent; 0 is a duration; blanks, Infinity and non-objects are errors", () => {
  assert.is(parseMetaDuration('{"duration": null}'), undefined);
  assert.is(parseMetaDuration('{"duration": 0}'), 0);
  assert.is(parseMetaDuration('{"duration": " 7 "}'), 7);
  for (const bad of [
    '{"duration": ""}',
    '{"duration": "  "}',
    '{"duration": 1e400}',
    '{"duration": "Infinity"}',
  ])
    assert.match(String(parseMetaDuration(bad)), /non-negative/, bad);
  for (const notObject of ["null", "5", '"cdx-a"'])
    assert.match(String(parseMetaDuration(notObject)), /not a JSON object/, notObject);
});

test("Exit Code markers with no blank or several blanks before the code", () => {
  assert.is(sessionState(scanJobLog("Exit Code:3\n", none)), "failed");
  assert.is(sessionState(scanJobLog("Exit Code:\t  5\n", none)), "failed");
  assert.is(sessionState(scanJobLog("Exit Code:  0\n", none)), "running");
});

test("a session directory whose job.log is not written yet is running; a deleted job.log makes it running again", async () => {
  const t = setup();
  mkdirSync(join(t.root, "cdx-new"));
  session(t.root, "cdx-a", "CONTROL: DONE\n");
  await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 1, failed: 0 });
  writeFileSync(join(t.root, "cdx-new", "job.log"), "CONTROL: DONE\n");
  // cdx-a is finished but has no duration yet: still read, and its log is gone (a restart clears it).
  rmSync(join(t.root, "cdx-a", "job.log"));
  await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 1, failed: 0 });
  writeFileSync(join(t.root, "cdx-a", "job.log"), "Exit Code: 2\n");
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 1, failed: 1 });
  // Each session's finish is reported once, the first time it is seen finished.
  assert.equal(t.finished, ["completed", "completed"]);
  assert.equal(t.reported, []);
  cleanup(t.root);
});

test("a session removed without the root's mtime telling is dropped at once; a dangling cdx-* symlink is no session, one to a directory is", async () => {
  const now = 1_700_000_000_000;
  const t = setup(() => now);
  const old = new Date(now - 10_000);
  session(t.root, "cdx-a", "work\n");
  session(t.root, "cdx-b", "work\n");
  const elsewhere = tempDir("elsewhere");
  session(elsewhere, "cdx-linked", "CONTROL: DONE\n", '{"duration": 2}');
  symlinkSync(join(elsewhere, "cdx-linked"), join(t.root, "cdx-linked"));
  symlinkSync(join(t.root, "missing"), join(t.root, "cdx-dangling"));
  utimesSync(t.root, old, old);
  await t.refresh();
  assert.equal(t.store.counts(), { running: 2, completed: 1, failed: 0 });
  rmSync(join(t.root, "cdx-a"), { recursive: true });
  utimesSync(t.root, old, old);
  await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 1, failed: 0 });
  assert.equal(t.durations, [2]);
  assert.equal(t.reported, []);
  cleanup(t.root);
  cleanup(elsewhere);
});

test("a job.log that is no regular file (a device) is skipped and reported with its path", async () => {
  const t = setup();
  mkdirSync(join(t.root, "cdx-dev"));
  symlinkSync("/dev/null", join(t.root, "cdx-dev", "job.log"));
  mkdirSync(join(t.root, "cdx-dir", "job.log"), { recursive: true });
  session(t.root, "cdx-ok", "work\n");
  await t.refresh();
  await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 0, failed: 0 });
  assert.equal(t.reported.sort(), [
    `sessions: ${t.root}/cdx-dev/job.log: unreadable (EISDIR), session skipped`,
    `sessions: ${t.root}/cdx-dir/job.log: unreadable (EISDIR), session skipped`,
  ]);
  cleanup(t.root);
});

test("a job.log replaced by a longer or a shorter one, or truncated and rewritten in place, is read from its start", async () => {
  const t = setup();
  session(t.root, "cdx-longer", "CONTROL: DONE\n");
  session(t.root, "cdx-shorter", "work, work, work\n");
  session(t.root, "cdx-truncated", "CONTROL: DONE\npartial");
  await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 2, failed: 0 });
  const replace = (name: string, text: string) => {
    writeFileSync(join(t.root, name, "job.log.new"), text);
    renameSync(join(t.root, name, "job.log.new"), join(t.root, name, "job.log"));
  };
  replace("cdx-longer", "restarted after an upgrade\n");
  replace("cdx-shorter", "CONTROL: DONE\n");
  // Same inode, shorter than before but longer than what was read: a restart that reuses the file.
  writeFileSync(join(t.root, "cdx-truncated", "job.log"), "restarted\nmore\nxx");
  await t.refresh();
  assert.equal(t.store.counts(), { running: 2, completed: 1, failed: 0 });
  assert.equal(t.reported, []);
  cleanup(t.root);
});

test("output appended after the DONE marker keeps the session completed", async () => {
  const t = setup();
  session(t.root, "cdx-a", "CONTROL: DONE\n");
  await t.refresh();
  appendFileSync(join(t.root, "cdx-a", "job.log"), "cleanup finished\n");
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 1, failed: 0 });
  assert.equal(t.finished, ["completed"]);
  cleanup(t.root);
});

test("a job.log is read again when its inode, size or mtime changed, and only then", async () => {
  const t = setup();
  const old = new Date(1_600_000_000_000);
  const log = (name: string) => join(t.root, name, "job.log");
  // Each placeholder is as long as "CONTROL: DONE\n", so only the inode or the mtime tells the versions apart.
  session(t.root, "cdx-inplace", "working.....\n\n");
  session(t.root, "cdx-appended", "work\n");
  session(t.root, "cdx-renamed", "working.....\n\n");
  for (const n of ["cdx-inplace", "cdx-appended", "cdx-renamed"]) utimesSync(log(n), old, old);
  await t.refresh();
  assert.equal(t.store.counts(), { running: 3, completed: 0, failed: 0 });
  // Same inode, size and mtime: the version already read; a scrape costs only what changed.
  writeFileSync(log("cdx-inplace"), "CONTROL: DONE\n");
  utimesSync(log("cdx-inplace"), old, old);
  // A coarse mtime can miss an append: the size tells.
  appendFileSync(log("cdx-appended"), "CONTROL: DONE\n");
  utimesSync(log("cdx-appended"), old, old);
  // Replaced by a file of the same size and mtime: the inode tells.
  writeFileSync(join(t.root, "cdx-renamed", "job.log.new"), "CONTROL: DONE\n");
  utimesSync(join(t.root, "cdx-renamed", "job.log.new"), old, old);
  renameSync(join(t.root, "cdx-renamed", "job.log.new"), log("cdx-renamed"));
  await t.refresh();
  assert.equal(t.store.counts(), { running: 1, completed: 2, failed: 0 });
  // A new mtime alone (same inode and size) is a new version.
  utimesSync(log("cdx-inplace"), new Date(), new Date());
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 3, failed: 0 });
  cleanup(t.root);
});

test("job.meta.json: no duration yet is no problem, a duration written later counts; size limit; unreadable and corrupt files reported each", async () => {
  const t = setup();
  const meta = (name: string) => join(t.root, name, "job.meta.json");
  /** A JSON object with a duration, padded to exactly `size` bytes. */
  const padded = (duration: number, size: number) => {
    const head = `{"duration": ${duration}, "pad": "`;
    return `${head}${"x".repeat(size - head.length - 2)}"}`;
  };
  session(t.root, "cdx-later", "CONTROL: DONE\n", '{"id": "cdx-later"}');
  session(t.root, "cdx-limit", "CONTROL: DONE\n", padded(3, MAX_META_BYTES));
  session(t.root, "cdx-big", "CONTROL: DONE\n", padded(4, MAX_META_BYTES + 1));
  for (const n of ["cdx-loop1", "cdx-loop2"]) {
    session(t.root, n, "CONTROL: DONE\n");
    symlinkSync(meta(n), meta(n));
  }
  session(t.root, "cdx-corrupt1", "CONTROL: DONE\n", '{"duration": ');
  session(t.root, "cdx-corrupt2", "Exit Code: 1\n", "{");
  await t.refresh();
  await t.refresh();
  assert.equal(t.durations, [3]);
  const reported = [...t.reported].sort();
  assert.is(reported.length, 5, reported.join("\n"));
  assert.is(reported[0], `sessions: ${meta("cdx-big")}: unreadable (EFBIG)`);
  assert.match(reported[1] ?? "", `sessions: ${meta("cdx-corrupt1")}: corrupt JSON (`);
  assert.match(reported[2] ?? "", `sessions: ${meta("cdx-corrupt2")}: corrupt JSON (`);
  assert.is(reported[3], `sessions: ${meta("cdx-loop1")}: unreadable (ELOOP)`);
  assert.is(reported[4], `sessions: ${meta("cdx-loop2")}: unreadable (ELOOP)`);
  writeFileSync(meta("cdx-later"), '{"id": "cdx-later", "duration": 7}');
  await t.refresh();
  assert.equal(t.durations, [3, 7]);
  assert.equal(t.store.counts(), { running: 0, completed: 6, failed: 1 });
  cleanup(t.root);
});

test("EMFILE while reading one job.log or job.meta.json is the process's problem, not the session's: last state kept", () => {
  const root = tempDir("emfile-session");
  session(root, "cdx-a", "work\n");
  session(root, "cdx-b", "CONTROL: DONE\n");
  const file = (name: string, f: string) => JSON.stringify(join(root, name, f));
  // The root's mtime is old, so the listing is trusted and no refresh below lists it: the descriptors run out while
  // a session's own files are read.
  const script = `
    import { appendFileSync, closeSync, openSync, utimesSync, writeFileSync } from "node:fs";
    import { Problems } from ${JSON.stringify(join(repoRoot, "scripts/lib/problems.ts"))};
    import { SessionStore } from ${JSON.stringify(join(repoRoot, "scripts/lib/sessions.ts"))};
    const out = { reported: [], finished: [], durations: [], counts: [] };
    const problems = new Problems((s, m) => out.reported.push(m));
    const store = new SessionStore(${JSON.stringify(root)}, problems);
    const ev = { finished: (r) => out.finished.push(r), duration: (d) => out.durations.push(d) };
    const refresh = async () => { await store.refresh(ev); problems.sweep(); out.counts.push(store.counts()); };
    const exhaust = () => {
      const held = [];
      try { for (;;) held.push(openSync("/dev/null", "r")); } catch (e) { if (e.code !== "EMFILE") throw e; }
      return () => { for (const fd of held) closeSync(fd); };
    };
    const old = new Date(Date.now() - 10_000);
    utimesSync(${JSON.stringify(root)}, old, old);
    await refresh();
    writeFileSync(${file("cdx-b", "job.meta.json")}, '{"duration": 5}');
    let free = exhaust();
    await refresh();
    free();
    await refresh();
    appendFileSync(${file("cdx-a", "job.log")}, "CONTROL: DONE\\n");
    free = exhaust();
    await refresh();
    free();
    await refresh();
    console.log(JSON.stringify(out));
  `;
  const out = inLowFdChild(script);
  cleanup(root);
  const before = { running: 1, completed: 1, failed: 0 };
  assert.equal(out.counts, [
    before,
    before,
    before,
    before,
    { running: 0, completed: 2, failed: 0 },
  ]);
  const emfile = `${root}: cannot list sessions (EMFILE); last known state kept`;
  assert.equal(out.reported, [emfile, emfile]);
  assert.equal(out.finished, ["completed", "completed"]);
  assert.equal(out.durations, [5]);
});

test("a root that fails one way, then another, is reported each time", async () => {
  const t = setup();
  session(t.root, "cdx-a", "work\n");
  await t.refresh();
  renameSync(t.root, `${t.root}.away`);
  writeFileSync(t.root, "");
  await t.refresh();
  rmSync(t.root);
  await t.refresh();
  assert.equal(t.reported, [
    `sessions: ${t.root}: cannot list sessions (ENOTDIR); last known state kept`,
    `sessions: ${t.root}: cannot list sessions (ENOENT)`,
  ]);
  cleanup(`${t.root}.away`);
});

test("a job.log of exactly MAX_LOG_SCAN bytes is scanned whole; appends to a huge log are scanned alone; each huge log is said once", async () => {
  const t = setup();
  mkdirSync(join(t.root, "cdx-a"));
  const file = join(t.root, "cdx-a", "job.log");
  const buf = Buffer.alloc(MAX_LOG_SCAN, 0x78);
  buf.write("CONTROL: DONE\n", 0);
  for (let i = 1023; i < MAX_LOG_SCAN; i += 1024) buf[i] = 10;
  writeFileSync(file, buf);
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 1, failed: 0 });
  appendFileSync(file, "Exit Code: 3\n");
  await t.refresh();
  assert.equal(t.store.counts(), { running: 0, completed: 0, failed: 1 });
  // An unfinished last line, then only the mtime changes (same inode and size): read from that line on, not again
  // from the start.
  appendFileSync(file, "partial");
  await t.refresh();
  utimesSync(file, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
  await t.refresh();
  assert.equal(t.reported, []);
  // Two more sessions sharing that log (hard links): each is scanned from its tail, and each is reported.
  for (const n of ["cdx-b", "cdx-c"]) {
    mkdirSync(join(t.root, n));
    linkSync(file, join(t.root, n, "job.log"));
  }
  await t.refresh();
  const size = MAX_LOG_SCAN + 13 + 7;
  assert.equal(t.reported.sort(), [
    `sessions: ${t.root}/cdx-b/job.log: ${size} bytes; only the last ${MAX_LOG_SCAN} are scanned for markers`,
    `sessions: ${t.root}/cdx-c/job.log: ${size} bytes; only the last ${MAX_LOG_SCAN} are scanned for markers`,
  ]);
  assert.equal(t.store.counts(), { running: 0, completed: 0, failed: 3 });
  cleanup(t.root);
});

test.run();
