import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  cleanup,
  freePort,
  get,
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

/** Generates a store and starts the exporter on a free port; resolves once /health answers. */
async function startExporter(
  spec = { sessions: 300, queue: 20, gitState: 50, mcpLines: 5000 },
): Promise<Exporter> {
  const root = tempDir("metrics");
  const totals = generateStore(root, spec);
  const port = await freePort();
  const env = {
    ...storeEnv(root),
    CODEX_METRICS_PORT: String(port),
    CODEX_METRICS_HOST: "127.0.0.1",
    HOME: root,
  };
  const s = startScript("metrics", [], env);
  const url = `http://127.0.0.1:${port}`;
  live.add({ root, env, totals, url, s });
  await waitFor(
    async () => (await get(`${url}/health`)).status === 200,
    `exporter /health (output: ${s.out()})`,
  );
  return { root, env, totals, url, s };
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

test.run();
