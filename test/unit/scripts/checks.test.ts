import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  type Check,
  dirProblem,
  formatReport,
  onPath,
  runChecks,
  tcpProbe,
} from "../../../scripts/lib/checks.js";
import { parseEnv } from "../../../scripts/lib/env.js";
import { cleanup, freePort, tempDir } from "../../helpers/proc.js";

/** A valid env with a short check timeout. */
function env(timeout = "0.3") {
  const r = parseEnv({
    CODEX_HOME: "/nonexistent/h",
    CODEX_SESSIONS_ROOT: "/nonexistent/s",
    HEALTH_CHECK_TIMEOUT: timeout,
  });
  if (!r.ok) throw new Error(r.errors.join());
  return r.env;
}

test("onPath finds executables only", () => {
  const dir = tempDir("path");
  writeFileSync(join(dir, "tool"), "#!/bin/sh\n");
  chmodSync(join(dir, "tool"), 0o755);
  writeFileSync(join(dir, "plain"), "");
  mkdirSync(join(dir, "adir"));
  assert.ok(onPath("tool", `/nope:${dir}`));
  assert.not.ok(onPath("plain", dir));
  assert.not.ok(onPath("adir", dir));
  assert.not.ok(onPath("tool", ""));
  cleanup(dir);
});

test("dirProblem: fine, missing, a file instead of a dir", async () => {
  const dir = tempDir("dirs");
  writeFileSync(join(dir, "file"), "");
  assert.is(await dirProblem(dir), undefined);
  assert.match((await dirProblem(join(dir, "gone"))) ?? "", /missing/);
  assert.match((await dirProblem(join(dir, "file"))) ?? "", /not a directory/);
  cleanup(dir);
});

test("tcpProbe: open port answers, closed port is refused", async () => {
  const srv = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => srv.once("listening", r));
  const addr = srv.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  assert.is(await tcpProbe("127.0.0.1", port, 2000), undefined);
  srv.close();
  const closed = await freePort();
  assert.match((await tcpProbe("127.0.0.1", closed, 2000)) ?? "", /refused/);
});

test("runChecks: a hung check times out alone, a throwing one fails, warnings stay healthy", async () => {
  const hung: Check = () => new Promise(() => {});
  const boom: Check = async () => {
    throw new Error("boom");
  };
  const warn: Check = async () => ({ status: "warn", message: "meh" });
  const t0 = Date.now();
  const r = await runChecks(env(), { hung, boom, warn });
  assert.ok(Date.now() - t0 < 5000);
  assert.is(r.healthy, false);
  assert.equal(
    r.checks.map((c) => [c.name, c.status]),
    [
      ["hung", "fail"],
      ["boom", "fail"],
      ["warn", "warn"],
    ],
  );
  assert.match(r.checks[0]?.message ?? "", /timed out after 300 ms/);
  assert.match(formatReport(r), /unhealthy: hung, boom\n$/);
  assert.is((await runChecks(env(), { warn })).healthy, true);
});

test.run();
