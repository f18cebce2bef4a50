import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  acceptsFromTable,
  type Check,
  checkServices,
  dirProblem,
  formatReport,
  onPath,
  runChecks,
  tcpListeners,
  tcpProbe,
} from "../../../scripts/lib/checks.js";
import { parseEnv } from "../../../scripts/lib/env.js";
import { procStat, writeState } from "../../../scripts/lib/state.js";
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

test("acceptsFromTable: a listener on the address or 0.0.0.0 with nothing waiting; anything else is left to a connect", () => {
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const addr = (a: string) => {
    const o = a.split(".").map((x) => Number(x).toString(16).toUpperCase().padStart(2, "0"));
    return (le ? o.reverse() : o).join("");
  };
  const line = (local: string, port: number, st: string, queues = "00000000:00000000") =>
    `   0: ${addr(local)}:${port.toString(16).toUpperCase().padStart(4, "0")} 00000000:0000 ${st} ${queues} 00:00000000 00000000  1000        0 1 1 0 100 0 0 10 0`;
  const header =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";
  const table = (...lines: string[]) => [header, ...lines, ""].join("\n");
  assert.ok(acceptsFromTable(table(line("127.0.0.1", 9090, "0A")), "127.0.0.1", 9090));
  assert.ok(acceptsFromTable(table(line("0.0.0.0", 9090, "0A")), "127.0.0.1", 9090));
  assert.ok(acceptsFromTable(table(line("0.0.0.0", 9090, "0A")), "10.1.2.3", 9090));
  assert.ok(acceptsFromTable(table(line("10.1.2.3", 3000, "0A")), "10.1.2.3", 3000));
  // Not listening there: another address, another port, a connection rather than a listener.
  assert.not.ok(acceptsFromTable(table(line("10.0.0.5", 9090, "0A")), "127.0.0.1", 9090));
  assert.not.ok(acceptsFromTable(table(line("127.0.0.1", 9091, "0A")), "127.0.0.1", 9090));
  assert.not.ok(acceptsFromTable(table(line("127.0.0.1", 9090, "01")), "127.0.0.1", 9090));
  // Connections waiting to be accepted: the queue might be full, so a real connect decides.
  assert.not.ok(
    acceptsFromTable(table(line("127.0.0.1", 9090, "0A", "00000000:00000001")), "127.0.0.1", 9090),
  );
  // Host names and IPv6 are never read from the table.
  assert.not.ok(acceptsFromTable(table(line("0.0.0.0", 9090, "0A")), "localhost", 9090));
  assert.not.ok(acceptsFromTable(table(line("0.0.0.0", 9090, "0A")), "::1", 9090));
  assert.not.ok(acceptsFromTable("", "127.0.0.1", 9090));
});

test("tcpListeners: the kernel's table agrees with a real connect, and a stopped server's backlog sends it to one", async () => {
  const srv = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => srv.once("listening", r));
  const addr = srv.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  assert.ok(acceptsFromTable(tcpListeners() ?? "", "127.0.0.1", port));
  assert.is(await tcpProbe("127.0.0.1", port, 2000), undefined);
  await new Promise((r) => srv.close(r));
  assert.not.ok(acceptsFromTable(tcpListeners() ?? "", "127.0.0.1", port));
  assert.match((await tcpProbe("127.0.0.1", port, 2000)) ?? "", /refused/);
  // A listener that does not accept (stopped): the connection waits in its queue, the table says so.
  const child = spawn(
    process.execPath,
    [
      "-e",
      'const s = require("net").createServer().listen(0, "127.0.0.1", () => process.stdout.write(s.address().port + "\\n"))',
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  try {
    const childPort = await new Promise<number>((r) =>
      child.stdout.once("data", (b: Buffer) => r(Number(b.toString().trim()))),
    );
    child.kill("SIGSTOP");
    const sock = connect({ host: "127.0.0.1", port: childPort });
    await new Promise((r) => sock.once("connect", r));
    assert.not.ok(acceptsFromTable(tcpListeners() ?? "", "127.0.0.1", childPort));
    sock.destroy();
  } finally {
    child.kill("SIGKILL");
  }
  assert.is(tcpListeners("/nonexistent/tcp"), undefined);
});

test("checkServices: a recorded PID now held by another process, and a zombie, are not running services", async () => {
  const root = tempDir("services");
  const r = parseEnv({ CODEX_HOME: root, CODEX_SESSIONS_ROOT: join(root, "s") });
  if (!r.ok) throw new Error(r.errors.join());
  const e = r.env;
  mkdirSync(join(root, "run"));
  // A zombie: sh starts a short job, then execs a sleep that never reaps it.
  const parent = spawn("sh", ["-c", "sleep 0.05 & echo $!; exec sleep 30"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  try {
    const zombie = await new Promise<number>((resolve) =>
      parent.stdout.once("data", (d: Buffer) => resolve(Number(d.toString().trim()))),
    );
    for (let i = 0; i < 200 && procStat(zombie)?.state !== "Z"; i++)
      await new Promise((ok) => setTimeout(ok, 25));
    assert.is(procStat(zombie)?.state, "Z", "the test's zombie");
    const me = procStat(process.pid);
    const record = (services: { name: string; pid: number; startTicks?: number }[]) =>
      writeState(e.stateFile, {
        version: 1,
        mode: "start",
        entrypointPid: process.pid,
        updatedAt: new Date().toISOString(),
        services,
      });
    // Same PID, same start time: alive (no port to probe).
    record([{ name: "metrics", pid: process.pid, startTicks: me?.startTicks }]);
    assert.equal(await checkServices(e), { status: "ok", message: `metrics pid ${process.pid}` });
    // Same PID, another start time: the PID was reused by something else.
    record([{ name: "metrics", pid: process.pid, startTicks: (me?.startTicks ?? 0) + 1 }]);
    assert.equal(await checkServices(e), {
      status: "fail",
      message: `metrics (pid ${process.pid}) is not running (PID reused)`,
    });
    record([{ name: "mcp", pid: zombie }]);
    assert.equal(await checkServices(e), {
      status: "fail",
      message: `mcp (pid ${zombie}) has exited (zombie)`,
    });
  } finally {
    parent.kill("SIGKILL");
    cleanup(root);
  }
});

test.run();
