import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startDockerd } from "../../../../ci/doctor/fix.js";
import { contextFor, fakeBin, pathDir } from "../../../unit/ci/doctor/fakes.js";

// Stand-ins for dockerd and docker: a second real dockerd changes host-wide state (started with
// --bridge=none it deletes the host's docker0), so the real start is left to `.ci/run` on CI's
// daemon-less machine. These exercise the real spawn, detach, bounded wait, exit and log handling.

/** A PATH with a `docker` that answers `info` once `dir/up` exists, and the given `dockerd`. */
function host(dockerdBody: string) {
  const dir = pathDir();
  fakeBin(dir, "docker", `[ "$1" = info ] && [ -e ${dir}/up ] && echo 20.10.24 && exit 0; exit 1`);
  fakeBin(dir, "dockerd", dockerdBody.replaceAll("$DIR", dir));
  return dir;
}

/** True while process `pid` exists. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("starts dockerd in the background, waits until docker info answers, returns its pid", async () => {
  const dir = host(
    'echo "API listen on $DIR/docker.sock"; /bin/sleep 1; : > $DIR/up; exec /bin/sleep 300',
  );
  const ctx = await contextFor(dir);
  const lines: string[] = [];
  const pid = await startDockerd(ctx, (l) => lines.push(l), {
    logFile: join(dir, "dockerd.log"),
    waitMs: 20_000,
  });
  try {
    assert.ok(alive(pid), "dockerd keeps running after the doctor returns");
    assert.is(lines[0], `$ ${join(dir, "dockerd")} >${join(dir, "dockerd.log")} 2>&1 &`);
    assert.is(lines.at(-1), `dockerd (pid ${pid}) answers`);
    assert.match(readFileSync(join(dir, "dockerd.log"), "utf8"), "API listen on");
  } finally {
    process.kill(pid, "SIGKILL");
  }
});

test("a dockerd that exits is reported at once, with the end of its log", async () => {
  const dir = host('echo "failed to start daemon: iptables failed" >&2; exit 1');
  const t0 = Date.now();
  const err = await startDockerd(await contextFor(dir), () => {}, {
    logFile: join(dir, "dockerd.log"),
    waitMs: 20_000,
  }).catch((e: Error) => e);
  assert.instance(err, Error);
  assert.match(
    (err as Error).message,
    /^dockerd exited with 1; .*dockerd\.log ends:\nfailed to start daemon: iptables failed$/s,
  );
  assert.ok(Date.now() - t0 < 5000);
});

test("a dockerd that never answers is stopped after the bound", async () => {
  const dir = host("echo $$ > $DIR/pid; exec /bin/sleep 300");
  const err = await startDockerd(await contextFor(dir), () => {}, {
    logFile: join(dir, "dockerd.log"),
    waitMs: 1500,
  }).catch((e: Error) => e);
  assert.match((err as Error).message, /^dockerd did not answer within 1\.5s \(stopped it\)/);
  const pid = Number(readFileSync(join(dir, "pid"), "utf8"));
  await new Promise((r) => setTimeout(r, 200));
  assert.not.ok(alive(pid), "the stand-in was left running");
  assert.not.ok(existsSync(join(dir, "up")));
});

test.run();
