import { renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createCollector } from "../../../scripts/lib/collector.js";
import { parseEnv } from "../../../scripts/lib/env.js";
import { createLogger } from "../../../scripts/lib/log.js";
import { cleanup, sample, tempDir } from "../../helpers/proc.js";
import {
  appendMcpLines,
  generateStore,
  mcpTotals,
  storeEnv,
  writeSession,
} from "../../helpers/store.js";

/** A collector over a generated store, with its log lines captured. */
function setup(spec = { sessions: 30, queue: 4, gitState: 8, mcpLines: 100 }) {
  const root = tempDir("collector");
  const totals = generateStore(root, spec);
  const e = storeEnv(root);
  const parsed = parseEnv({ ...e, CODEX_MAX_CONCURRENT: "7", CODEX_ENVIRONMENT: "unit" });
  if (!parsed.ok) throw new Error(parsed.errors.join("; "));
  const logs: string[] = [];
  const c = createCollector(
    parsed.env,
    "1.2.3",
    createLogger("metrics", { write: (l) => logs.push(l) }),
  );
  return { root, totals, env: e, c, logs, scrape: () => c.registry.metrics() };
}

test("the store's totals come out as the contract's metrics", async () => {
  const s = setup();
  const m = await s.scrape();
  assert.is(sample(m, 'codex_info{version="1.2.3",environment="unit"}'), 1);
  assert.is(sample(m, 'codex_sessions{state="running"}'), s.totals.running);
  assert.is(sample(m, 'codex_sessions{state="completed"}'), s.totals.completed);
  assert.is(sample(m, 'codex_sessions{state="failed"}'), s.totals.failed);
  assert.is(sample(m, 'codex_tasks_finished_total{result="completed"}'), s.totals.completed);
  assert.is(sample(m, "codex_task_duration_seconds_count"), s.totals.completed + s.totals.failed);
  assert.is(sample(m, "codex_task_duration_seconds_sum"), s.totals.taskDurationSum);
  assert.is(sample(m, "codex_queue_active_tasks"), 4);
  assert.is(sample(m, "codex_max_concurrent"), 7);
  assert.is(sample(m, "codex_mcp_requests_total"), s.totals.mcpRequests);
  assert.is(sample(m, "codex_mcp_errors_total"), s.totals.mcpErrors);
  assert.is(sample(m, "codex_mcp_request_duration_seconds_count"), s.totals.mcpRequests);
  assert.is(sample(m, 'codex_git_operations_total{status="ok"}'), s.totals.gitOk);
  assert.is(sample(m, 'codex_git_operations_total{status="failed"}'), s.totals.gitFailed);
  assert.is(sample(m, 'codex_exporter_errors_total{source="sessions"}'), 0);
  assert.ok(sample(m, "process_start_time_seconds"));
  assert.not.match(m, /nodejs_active_handles_total/);
  assert.not.match(m, /nodejs_eventloop_lag/);
  assert.ok(sample(m, "nodejs_heap_size_used_bytes"));
  assert.ok(sample(m, "process_resident_memory_bytes"));
  cleanup(s.root);
});

test("counters never go down: deleted sessions and git files leave them, gauges follow the store", async () => {
  const s = setup();
  await s.scrape();
  rmSync(s.env.CODEX_SESSIONS_ROOT as string, { recursive: true });
  rmSync(join(s.env.CODEX_HOME as string, "git-state"), { recursive: true });
  writeFileSync(s.env.CODEX_MCP_LOG as string, "");
  const m = await s.scrape();
  assert.is(sample(m, 'codex_sessions{state="completed"}'), 0);
  assert.is(sample(m, 'codex_tasks_finished_total{result="completed"}'), s.totals.completed);
  assert.is(sample(m, 'codex_git_operations_total{status="ok"}'), s.totals.gitOk);
  assert.is(sample(m, "codex_mcp_requests_total"), s.totals.mcpRequests);
  assert.is(sample(m, 'codex_exporter_errors_total{source="sessions"}'), 1);
  // The missing roots are exporter errors, counted once however often we scrape.
  const again = await s.scrape();
  assert.is(sample(again, 'codex_exporter_errors_total{source="sessions"}'), 1);
  assert.is(sample(again, 'codex_exporter_errors_total{source="git-state"}'), 1);
  assert.is(s.logs.filter((l) => l.includes("cannot list")).length, 2);
  cleanup(s.root);
});

test("appends are counted incrementally between scrapes", async () => {
  const s = setup();
  await s.scrape();
  appendMcpLines(s.env.CODEX_MCP_LOG as string, 100, 200);
  writeFileSync(join(s.env.CODEX_HOME as string, "queue", "extra.running"), "");
  const m = await s.scrape();
  assert.is(
    sample(m, "codex_mcp_requests_total"),
    s.totals.mcpRequests + mcpTotals(100, 200).requests,
  );
  assert.is(sample(m, "codex_queue_active_tasks"), 5);
  cleanup(s.root);
});

test("a sessions root away for a while: finished and durations count once, one error per outage", async () => {
  const s = setup();
  const root = s.env.CODEX_SESSIONS_ROOT as string;
  const finished = s.totals.completed + s.totals.failed;
  const first = await s.scrape();
  assert.is(sample(first, "codex_task_duration_seconds_count"), finished);
  // The repro: mv $CODEX_SESSIONS_ROOT{,.away}, scrape, move it back, scrape.
  renameSync(root, `${root}.away`);
  const away = await s.scrape();
  assert.is(sample(away, 'codex_exporter_errors_total{source="sessions"}'), 1);
  renameSync(`${root}.away`, root);
  const back = await s.scrape();
  assert.is(sample(back, 'codex_tasks_finished_total{result="completed"}'), s.totals.completed);
  assert.is(sample(back, 'codex_tasks_finished_total{result="failed"}'), s.totals.failed);
  assert.is(sample(back, "codex_task_duration_seconds_count"), finished);
  assert.is(sample(back, "codex_task_duration_seconds_sum"), s.totals.taskDurationSum);
  assert.is(sample(back, 'codex_sessions{state="running"}'), s.totals.running);
  assert.is(sample(back, 'codex_exporter_errors_total{source="sessions"}'), 1);
  // Unreadable rather than gone (ENOTDIR here; EACCES and EMFILE alike): the gauges hold.
  renameSync(root, `${root}.away`);
  writeFileSync(root, "");
  const blocked = await s.scrape();
  assert.is(sample(blocked, 'codex_sessions{state="completed"}'), s.totals.completed);
  assert.is(sample(blocked, 'codex_exporter_errors_total{source="sessions"}'), 2);
  rmSync(root);
  renameSync(`${root}.away`, root);
  const again = await s.scrape();
  assert.is(sample(again, "codex_task_duration_seconds_count"), finished);
  assert.is(sample(again, 'codex_exporter_errors_total{source="sessions"}'), 2);
  cleanup(s.root);
});

test("reopen() (SIGHUP) refreshes at once with the sessions root listed again, whatever its mtime says", async () => {
  const s = setup({ sessions: 3, queue: 0, gitState: 0, mcpLines: 10 });
  const root = s.env.CODEX_SESSIONS_ROOT as string;
  const old = new Date(Date.now() - 10_000);
  utimesSync(root, old, old);
  await s.scrape();
  // A session the mtime does not tell of, and log lines.
  writeSession(root, 99, "running");
  utimesSync(root, old, old);
  appendMcpLines(s.env.CODEX_MCP_LOG as string, 10, 20);
  const before = await s.scrape();
  assert.is(sample(before, 'codex_sessions{state="running"}'), s.totals.running);
  await s.c.reopen();
  const after = await s.scrape();
  assert.is(sample(after, 'codex_sessions{state="running"}'), s.totals.running + 1);
  assert.is(sample(after, "codex_mcp_requests_total"), mcpTotals(0, 20).requests);
  cleanup(s.root);
});

test("concurrent scrapes share one refresh and agree", async () => {
  const s = setup();
  // A refresh asked for while one is in flight joins it (every metric's collect() of a scrape asks for one).
  const first = s.c.refresh();
  const joined = s.c.refresh();
  assert.ok(first === joined, "a second refresh while one is in flight started its own");
  await first;
  // Once it has settled, the next one is new: the store is read again.
  const next = s.c.refresh();
  assert.ok(next !== first, "a refresh after the last one settled reused it");
  appendMcpLines(s.env.CODEX_MCP_LOG as string, 100, 110);
  await next;
  const [a, b] = await Promise.all([s.scrape(), s.scrape()]);
  const requests = s.totals.mcpRequests + mcpTotals(100, 110).requests;
  assert.is(sample(a ?? "", "codex_mcp_requests_total"), requests);
  assert.is(sample(b ?? "", "codex_mcp_requests_total"), requests);
  cleanup(s.root);
});

test("an empty store: every labelled series exists at 0, with the contract's buckets and help", async () => {
  const s = setup({ sessions: 0, queue: 0, gitState: 0, mcpLines: 0 });
  const m = await s.scrape();
  for (const series of [
    'codex_tasks_finished_total{result="completed"}',
    'codex_tasks_finished_total{result="failed"}',
    'codex_git_operations_total{status="ok"}',
    'codex_git_operations_total{status="failed"}',
    "codex_task_duration_seconds_count",
    "codex_mcp_request_duration_seconds_count",
  ])
    assert.is(sample(m, series), 0, series);
  for (const le of ["1", "60", "14400", "+Inf"])
    assert.is(sample(m, `codex_task_duration_seconds_bucket{le="${le}"}`), 0, le);
  for (const le of ["0.005", "1", "60", "+Inf"])
    assert.is(sample(m, `codex_mcp_request_duration_seconds_bucket{le="${le}"}`), 0, le);
  assert.match(
    m,
    "# HELP codex_task_duration_seconds Duration of finished sessions, from job.meta.json",
  );
  assert.match(
    m,
    "# HELP codex_mcp_request_duration_seconds Duration of MCP requests, from duration:<s> in the MCP log",
  );
  // Gauges named _total that promtool rejects are gone; the rest of the defaults stay.
  for (const name of [
    "nodejs_active_handles_total",
    "nodejs_active_requests_total",
    "nodejs_active_resources_total",
  ])
    assert.not.match(m, new RegExp(`^${name}\\b`, "m"), name);
  assert.match(m, /^nodejs_active_handles\{/m);
  cleanup(s.root);
});

test("the first scrape already counts the errors its own refresh met, and logs each with its source", async () => {
  const s = setup({ sessions: 2, queue: 0, gitState: 0, mcpLines: 0 });
  rmSync(s.env.CODEX_SESSIONS_ROOT as string, { recursive: true });
  const m = await s.scrape();
  assert.is(sample(m, 'codex_exporter_errors_total{source="sessions"}'), 1);
  const line = s.logs.find((l) => l.includes("cannot list"));
  assert.ok(line, s.logs.join("\n"));
  assert.is(JSON.parse(line as string).source, "sessions");
  cleanup(s.root);
});

test.run();
