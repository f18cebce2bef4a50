import { mkdirSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DirChanges, DOUBT_MS, RESCAN_MS } from "../../../scripts/lib/dirchange.js";
import { cleanup, tempDir } from "../../helpers/proc.js";

/** A directory whose mtime is T0 (whole seconds, so it reads back exactly), watched on a settable clock. */
function setup() {
  const root = tempDir("dirchange");
  const dir = join(root, "d");
  mkdirSync(dir);
  const T0 = 1_700_000_000_000;
  const clock = { now: T0 + 10_000 };
  const pin = () => utimesSync(dir, T0 / 1000, T0 / 1000);
  pin();
  const d = new DirChanges(dir, () => clock.now);
  /** changed(), and done() when it said yes, as a reader does. */
  const look = () => {
    const c = d.changed();
    if (c) d.done();
    return c;
  };
  return { root, dir, T0, clock, pin, d, look };
}

test("listed once, then again only when the mtime or the inode changes", () => {
  const t = setup();
  assert.is(t.look(), true);
  assert.is(t.look(), false);
  writeFileSync(join(t.dir, "x"), "");
  // Its mtime one second later (still long before the clock).
  utimesSync(t.dir, t.T0 / 1000 + 1, t.T0 / 1000 + 1);
  assert.is(t.look(), true);
  assert.is(t.look(), false);
  // Another directory at the path with the same mtime: another inode (the old one kept, so not reused).
  renameSync(t.dir, `${t.dir}.old`);
  mkdirSync(t.dir);
  utimesSync(t.dir, t.T0 / 1000 + 1, t.T0 / 1000 + 1);
  assert.is(t.look(), true);
  assert.is(t.look(), false);
  cleanup(t.root);
});

test("a listing taken within DOUBT_MS of the mtime is not trusted; one taken after is", () => {
  const t = setup();
  t.clock.now = t.T0 + DOUBT_MS;
  assert.is(t.look(), true);
  assert.is(t.look(), true, "listed exactly DOUBT_MS after the mtime: still in doubt");
  t.clock.now = t.T0 + DOUBT_MS + 1;
  assert.is(t.look(), true, "the previous listing was in doubt");
  assert.is(t.look(), false);
  cleanup(t.root);
});

test("the full rescan is due RESCAN_MS after the last listing, not before", () => {
  const t = setup();
  assert.is(t.look(), true);
  t.clock.now += RESCAN_MS - 1;
  assert.is(t.look(), false);
  t.clock.now += 1;
  assert.is(t.look(), true);
  t.clock.now += RESCAN_MS - 1;
  assert.is(t.look(), false, "measured from the rescan, not from the first listing");
  cleanup(t.root);
});

test("forget() or a listing never done() means listing again; errors are thrown with their code", () => {
  const t = setup();
  assert.is(t.look(), true);
  t.d.forget();
  assert.is(t.look(), true);
  writeFileSync(join(t.dir, "x"), "");
  assert.is(t.d.changed(), true);
  // No done(): the failed listing is not remembered.
  assert.is(t.d.changed(), true);
  rmSync(t.dir, { recursive: true });
  assert.throws(
    () => t.d.changed(),
    (e: NodeJS.ErrnoException) => e.code === "ENOENT",
  );
  writeFileSync(t.dir, "");
  assert.throws(
    () => t.d.changed(),
    (e: NodeJS.ErrnoException) => e.code === "ENOTDIR",
  );
  cleanup(t.root);
});

test.run();
