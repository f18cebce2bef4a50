import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { get as httpGet } from "node:http";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  cleanup,
  freePort,
  get,
  repoRoot,
  runScript,
  type Started,
  sample,
  startScript,
  tempDir,
  waitFor,
} from "../../helpers/proc.js";
import {
  appendMcpLines,
  generateStore,
  mcpTotals,
  type StoreTotals,
  storeEnv,
} from "../../helpers/store.js";

interface Exporter {
  root: string;
  env: Record<string, string>;
  totals: StoreTotals;
  url: string;
  s: Started;
}

/** Exporters still running; a failed test leaves its one here for after.each to kill. */
const live = new Set<Exporter>();

test.after.each(() => {
  for (const e of live) {
    e.s.proc.kill("SIGKILL");
    cleanup(e.root);
  }
  live.clear();
});

/** Generates a store and starts the exporter on a free port (as `nobody` when asked); resolves once /health answers. */
async function startExporter(
  spec = { sessions: 300, queue: 20, gitState: 50, mcpLines: 5000 },
  opts: { env?: Record<string, string>; asNobody?: boolean } = {},
): Promise<Exporter> {
  const root = tempDir("metrics");
  const totals = generateStore(root, spec);
  const port = await freePort();
  const env = {
    ...storeEnv(root),
    CODEX_METRICS_PORT: String(port),
    CODEX_METRICS_HOST: "127.0.0.1",
    HOME: root,
    ...opts.env,
  };
  const s = opts.asNobody ? startAsNobody(root, env) : startScript("metrics", [], env);
  const url = `http://127.0.0.1:${port}`;
  live.add({ root, env, totals, url, s });
  await waitFor(
    async () => (await get(`${url}/health`)).status === 200,
    `exporter /health (output: ${s.out()})`,
  );
  return { root, env, totals, url, s };
}

/** Starts the exporter as nobody (setpriv), over a store made readable to it: root's mode bits do not stop root. */
function startAsNobody(root: string, env: Record<string, string>): Started {
  spawnSync("chmod", ["-R", "a+rX", root]);
  const proc = spawn(
    "setpriv",
    [
      "--reuid=65534",
      "--regid=65534",
      "--clear-groups",
      process.execPath,
      "--import",
      "tsx",
    ].concat([join(repoRoot, "scripts", "metrics.ts")]),
    { cwd: repoRoot, env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  proc.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  proc.stderr?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("close", (code, signal) => resolve({ code, signal })),
  );
  return { proc, out: () => out, exit };
}

/** GETs a path from a given local source address (to look like a remote client while the exporter stays on 127.0.0.1). */
function getFrom(url: string, localAddress: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet(url, { localAddress }, (res) => {
      let body = "";
      res.on("data", (b: Buffer) => {
        body += b.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

/** A local IPv4 address that is not loopback (eth0, docker0 ...): connections from it are not loopback clients. */
function nonLoopbackAddress(): string {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  throw new Error("no non-loopback IPv4 address on this host: cannot play a remote client");
}

/** Paths of the files under `dir` a process holds open that were deleted. */
function deletedOpenFiles(pid: number, dir: string): string[] {
  const fds = `/proc/${pid}/fd`;
  return readdirSync(fds)
    .map((fd) => {
      try {
        return readlinkSync(join(fds, fd));
      } catch {
        return "";
      }
    })
    .filter((l) => l.startsWith(dir) && l.endsWith(" (deleted)"));
}

/** Stops the exporter with SIGTERM and checks it exits 0. */
async function stop(e: Exporter): Promise<void> {
  e.s.proc.kill("SIGTERM");
  const { code } = await e.s.exit;
  for (const x of live) if (x.s === e.s) live.delete(x);
  cleanup(e.root);
  assert.is(code, 0, e.s.out());
}

/** Scrapes /metrics and returns the body. */
async function scrape(e: Exporter): Promise<string> {
  const r = await get(`${e.url}/metrics`);
  assert.is(r.status, 200);
  return r.body;
}

test("scraped over HTTP, the generated store's totals pass promtool check metrics without a word", async () => {
  const e = await startExporter();
  const r = await get(`${e.url}/metrics`);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  const lint = spawnSync("promtool", ["check", "metrics"], { input: r.body, encoding: "utf8" });
  assert.is(lint.stdout + lint.stderr, "", "promtool printed problems");
  assert.is(lint.status, 0);
  assert.is(sample(r.body, 'codex_sessions{state="running"}'), e.totals.running);
  assert.is(sample(r.body, 'codex_sessions{state="completed"}'), e.totals.completed);
  assert.is(sample(r.body, 'codex_sessions{state="failed"}'), e.totals.failed);
  assert.is(sample(r.body, "codex_queue_active_tasks"), 20);
  assert.is(sample(r.body, "codex_mcp_requests_total"), e.totals.mcpRequests);
  assert.is(sample(r.body, "codex_mcp_errors_total"), e.totals.mcpErrors);
  assert.is(sample(r.body, 'codex_git_operations_total{status="failed"}'), e.totals.gitFailed);
  assert.is(sample(r.body, "codex_task_duration_seconds_sum"), e.totals.taskDurationSum);
  assert.is(sample(r.body, 'codex_info{version="0.1.0",environment="development"}'), 1);
  await stop(e);
});

test("MCP counters survive truncation and rotation, and never go down", async () => {
  const e = await startExporter({ sessions: 3, queue: 0, gitState: 0, mcpLines: 1000 });
  const log = e.env.CODEX_MCP_LOG as string;
  const seen: number[] = [sample(await scrape(e), "codex_mcp_requests_total") ?? -1];
  let expected = mcpTotals(0, 1000).requests;
  assert.is(seen[0], expected);
  // copytruncate: the file is emptied in place and written again.
  truncateSync(log, 0);
  appendMcpLines(log, 1000, 1300);
  expected += mcpTotals(1000, 1300).requests;
  seen.push(sample(await scrape(e), "codex_mcp_requests_total") ?? -1);
  assert.is(seen[1], expected);
  // Rename rotation: lines written just before the rename are still counted, then the new file.
  appendMcpLines(log, 1300, 1400);
  renameSync(log, `${log}.1`);
  appendMcpLines(log, 1400, 1600);
  expected += mcpTotals(1300, 1600).requests;
  seen.push(sample(await scrape(e), "codex_mcp_requests_total") ?? -1);
  assert.is(seen[2], expected);
  // The log removed altogether: the counter holds.
  rmSync(log);
  seen.push(sample(await scrape(e), "codex_mcp_requests_total") ?? -1);
  assert.is(seen[3], expected);
  for (let i = 1; i < seen.length; i++)
    assert.ok((seen[i] ?? 0) >= (seen[i - 1] ?? 0), `counter went down: ${seen}`);
  assert.is(sample(await scrape(e), 'codex_exporter_errors_total{source="mcp-log"}'), 0);
  await stop(e);
});

test("bad data is skipped, counted by source once, logged once, and never stops the exporter", async () => {
  const e = await startExporter({ sessions: 6, queue: 1, gitState: 2, mcpLines: 10 });
  const sessions = e.env.CODEX_SESSIONS_ROOT as string;
  const home = e.env.CODEX_HOME as string;
  mkdirSync(join(sessions, "cdx-corrupt"));
  writeFileSync(join(sessions, "cdx-corrupt", "job.log"), "CONTROL: DONE\n");
  writeFileSync(join(sessions, "cdx-corrupt", "job.meta.json"), '{"duration": 1');
  symlinkSync(join(sessions, "cdx-loop"), join(sessions, "cdx-loop"));
  mkdirSync(join(sessions, "cdx-dirlog", "job.log"), { recursive: true });
  writeFileSync(join(home, "git-state", "bad.json"), "not json");
  appendFileSync(e.env.CODEX_MCP_LOG as string, "x MCP Request duration:0.1\nx MCP Requ");
  const first = await scrape(e);
  const second = await scrape(e);
  for (const m of [first, second]) {
    assert.is(sample(m, 'codex_exporter_errors_total{source="sessions"}'), 3, m);
    assert.is(sample(m, 'codex_exporter_errors_total{source="git-state"}'), 1);
    assert.is(sample(m, 'codex_exporter_errors_total{source="mcp-log"}'), 0);
  }
  // The half-written line counts once it is finished, not before.
  assert.is(sample(second, "codex_mcp_requests_total"), mcpTotals(0, 10).requests + 1);
  appendFileSync(e.env.CODEX_MCP_LOG as string, "est duration:0.2\n");
  assert.is(sample(await scrape(e), "codex_mcp_requests_total"), mcpTotals(0, 10).requests + 2);
  // The queue and sessions roots vanish: still serving, errors counted once each.
  rmSync(join(home, "queue"), { recursive: true });
  rmSync(sessions, { recursive: true });
  await scrape(e);
  const m = await scrape(e);
  assert.is(sample(m, 'codex_exporter_errors_total{source="queue"}'), 1);
  assert.is(sample(m, 'codex_exporter_errors_total{source="sessions"}'), 4);
  assert.is(sample(m, 'codex_sessions{state="running"}'), 0);
  const warnings = e.s
    .out()
    .split("\n")
    .filter((l) => l.includes('"level":"warn"'));
  assert.is(warnings.length, 6, warnings.join("\n"));
  assert.ok(warnings.some((w) => w.includes("cdx-loop") && w.includes("ELOOP")));
  await stop(e);
});

test("/health, /ready (the healthcheck's checks), 404 and 405", async () => {
  const e = await startExporter({ sessions: 1, queue: 0, gitState: 0, mcpLines: 0 });
  assert.is((await get(`${e.url}/health`)).body, "ok\n");
  const ready = await get(`${e.url}/ready`);
  assert.is(ready.status, 200, ready.body);
  const report = JSON.parse(ready.body) as { healthy: boolean; checks: { name: string }[] };
  assert.equal(
    report.checks.map((c) => c.name),
    ["filesystem", "tools", "git", "services"],
  );
  rmSync(e.env.CODEX_DATA_DIR as string, { recursive: true });
  // /ready is cached for a few seconds: poll until the failure shows.
  const down = await waitFor(async () => {
    const r = await get(`${e.url}/ready`);
    return r.status === 503 ? r : undefined;
  }, "/ready to turn 503");
  assert.match(down.body, /data: missing/);
  assert.is((await get(`${e.url}/nope`)).status, 404);
  assert.is((await fetch(`${e.url}/metrics`, { method: "POST" })).status, 405);
  await stop(e);
});

test("bad environment: exit 78 naming each variable", async () => {
  const r = await runScript("metrics", [], { CODEX_METRICS_PORT: "http", CODEX_HOME: "/tmp/x" });
  assert.is(r.code, 78);
  assert.match(r.out, /CODEX_SESSIONS_ROOT: required/);
  assert.match(r.out, /CODEX_METRICS_PORT: must be an integer/);
});

test("a port already taken: exit 1 with the address in the log", async () => {
  const e = await startExporter({ sessions: 0, queue: 0, gitState: 0, mcpLines: 0 });
  const r = await runScript("metrics", [], e.env);
  assert.is(r.code, 1);
  assert.match(r.out, /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
  await stop(e);
});

test("/ready: full report to loopback clients only; others get the status and check names", async () => {
  const e = await startExporter({ sessions: 1, queue: 0, gitState: 0, mcpLines: 0 });
  const local = await get(`${e.url}/ready`);
  assert.is(local.status, 200, local.body);
  const full = JSON.parse(local.body) as {
    checks: { name: string; status: string; message: string }[];
  };
  assert.match(full.checks[0]?.message ?? "", /dirs writable, [\d.]+ GiB free/);
  assert.match(full.checks[2]?.message ?? "", /^git \d/);
  const remote = await getFrom(`${e.url}/ready`, nonLoopbackAddress());
  assert.is(remote.status, 200);
  assert.equal(JSON.parse(remote.body), {
    healthy: true,
    checks: full.checks.map((c) => ({ name: c.name, status: c.status })),
  });
  assert.equal(
    full.checks.map((c) => c.name),
    ["filesystem", "tools", "git", "services"],
  );
  assert.not.match(remote.body, /GiB|pid|git \d|\//);
  // Unhealthy: the same 503 for everyone, the reason only for loopback.
  rmSync(e.env.CODEX_DATA_DIR as string, { recursive: true });
  const down = await waitFor(async () => {
    const r = await getFrom(`${e.url}/ready`, nonLoopbackAddress());
    return r.status === 503 ? r : undefined;
  }, "/ready to turn 503");
  assert.is(JSON.parse(down.body).checks[0].status, "fail");
  assert.not.match(down.body, /data|missing/);
  assert.match((await get(`${e.url}/ready`)).body, /data: missing/);
  await stop(e);
});

test("CODEX_READY_DETAILS=all shows the report to every client, none to no one; a bad value exits 78", async () => {
  const all = await startExporter(
    { sessions: 0, queue: 0, gitState: 0, mcpLines: 0 },
    { env: { CODEX_READY_DETAILS: "all" } },
  );
  assert.match((await getFrom(`${all.url}/ready`, nonLoopbackAddress())).body, /"message":/);
  await stop(all);
  const none = await startExporter(
    { sessions: 0, queue: 0, gitState: 0, mcpLines: 0 },
    { env: { CODEX_READY_DETAILS: "none" } },
  );
  const r = await get(`${none.url}/ready`);
  assert.is(r.status, 200);
  assert.not.match(r.body, /"message":/);
  await stop(none);
  const bad = await runScript("metrics", [], {
    ...storeEnv("/tmp/cf-none"),
    CODEX_READY_DETAILS: "yes",
  });
  assert.is(bad.code, 78);
  assert.match(bad.out, /CODEX_READY_DETAILS: must be one of loopback, all, none, got "yes"/);
});

test("SIGHUP: the exporter keeps serving, and finishes and lets go of a rotated-away log at once", async () => {
  const e = await startExporter({ sessions: 3, queue: 0, gitState: 0, mcpLines: 100 });
  const log = e.env.CODEX_MCP_LOG as string;
  assert.is(sample(await scrape(e), "codex_mcp_requests_total"), mcpTotals(0, 100).requests);
  // Rotation by rename, then the old file deleted (as a compressing logrotate does).
  appendMcpLines(log, 100, 150);
  renameSync(log, `${log}.1`);
  appendMcpLines(log, 150, 200);
  rmSync(`${log}.1`);
  const pid = e.s.proc.pid as number;
  const logDir = e.env.CODEX_LOG_DIR as string;
  assert.equal(
    deletedOpenFiles(pid, logDir),
    [`${log}.1 (deleted)`],
    "the exporter still reads the rotated file",
  );
  process.kill(pid, "SIGHUP");
  await waitFor(
    () => deletedOpenFiles(pid, logDir).length === 0,
    `rotated log released (output: ${e.s.out()})`,
  );
  // Its stdout reaches us through a pipe, maybe after the descriptor was seen released.
  await waitFor(() => e.s.out().includes('"message":"SIGHUP received'), "the SIGHUP log line");
  const m = await scrape(e);
  assert.is(sample(m, "codex_mcp_requests_total"), mcpTotals(0, 200).requests);
  assert.is(sample(m, 'codex_exporter_errors_total{source="mcp-log"}'), 0);
  await stop(e);
});

test("a log truncated and regrown past the old offset between scrapes: +20, not +15 (issue 16, item 6)", async () => {
  const e = await startExporter({ sessions: 1, queue: 0, gitState: 0, mcpLines: 0 });
  const log = e.env.CODEX_MCP_LOG as string;
  writeFileSync(log, "2026-01-01T00:00:00Z MCP Request tools/list duration:0.2\n".repeat(2));
  assert.is(sample(await scrape(e), "codex_mcp_requests_total"), 2);
  // `: > $L; for i in $(seq 20); do echo "MCP Error e$i" >> $L; done`
  const sh = spawnSync("sh", [
    "-c",
    ': > "$1"; for i in $(seq 20); do echo "MCP Error e$i" >> "$1"; done',
    "sh",
    log,
  ]);
  assert.is(sh.status, 0);
  const m = await scrape(e);
  assert.is(sample(m, "codex_mcp_errors_total"), 20);
  assert.is(sample(m, "codex_mcp_requests_total"), 2);
  await stop(e);
});

test("as a non-root exporter: the log dir and the sessions root unreadable for a scrape count nothing twice", async () => {
  const e = await startExporter(
    { sessions: 30, queue: 0, gitState: 0, mcpLines: 1000 },
    { asNobody: process.getuid?.() === 0 },
  );
  const logDir = e.env.CODEX_LOG_DIR as string;
  const sessions = e.env.CODEX_SESSIONS_ROOT as string;
  const first = await scrape(e);
  const want = {
    requests: mcpTotals(0, 1000).requests,
    finished: e.totals.completed + e.totals.failed,
  };
  assert.is(sample(first, "codex_mcp_requests_total"), want.requests);
  assert.is(sample(first, "codex_task_duration_seconds_count"), want.finished);
  // The repros: chmod 700 the log dir (and 000 the sessions root), scrape, restore, scrape.
  chmodSync(logDir, 0o700);
  chmodSync(sessions, 0o000);
  const blocked = await scrape(e);
  assert.is(sample(blocked, 'codex_exporter_errors_total{source="mcp-log"}'), 1, e.s.out());
  assert.is(sample(blocked, 'codex_exporter_errors_total{source="sessions"}'), 1);
  assert.is(sample(blocked, 'codex_sessions{state="completed"}'), e.totals.completed);
  chmodSync(logDir, 0o755);
  chmodSync(sessions, 0o755);
  const back = await scrape(e);
  assert.is(sample(back, "codex_mcp_requests_total"), want.requests);
  assert.is(sample(back, "codex_task_duration_seconds_count"), want.finished);
  assert.is(sample(back, 'codex_tasks_finished_total{result="completed"}'), e.totals.completed);
  await stop(e);
});

test.run();
