/** The exporter's registry: the metrics of docs/architecture.md, refreshed from the store at scrape time via collect(). */
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { BulkHistogram } from "./bulkhistogram.js";
import type { RuntimeEnv } from "./env.js";
import { GitStateReader } from "./gitstate.js";
import type { Logger } from "./log.js";
import { McpLogTailer } from "./mcplog.js";
import { fsError, Problems } from "./problems.js";
import { QueueReader } from "./queue.js";
import { SessionStore } from "./sessions.js";

/** Labels of codex_exporter_errors_total, pre-created at 0 so rate() works from the first error. */
export const ERROR_SOURCES = ["sessions", "queue", "git-state", "mcp-log", "exporter"] as const;

/** Task durations: seconds to hours. */
export const TASK_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];
/** MCP request durations: milliseconds to a minute. */
export const MCP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** prom-client defaults that are gauges named `_total`, which promtool rejects; `nodejs_active_*` by type stay. */
const NON_COUNTER_TOTALS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

/** A registry wired to the store, plus its refresh (shared by all metrics of one scrape). */
export interface Collector {
  registry: Registry;
  refresh(): Promise<void>;
  /** SIGHUP: list the sessions root again and look at the MCP log path now (a rotated-away file is finished and let go of). */
  reopen(): Promise<void>;
}

/** Builds the registry; nothing is read until the first scrape. */
export function createCollector(env: RuntimeEnv, version: string, log: Logger): Collector {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of NON_COUNTER_TOTALS) registry.removeSingleMetric(name);
  // The nodejs_eventloop_lag_* gauges read mean and stddev off Node's event-loop histogram at each scrape: 1.3 ms
  // of CPU, a third of a steady scrape. Nothing in the alerts or the dashboard uses them.
  for (const m of registry.getMetricsAsArray())
    if (m.name.startsWith("nodejs_eventloop_lag_")) registry.removeSingleMetric(m.name);

  const errorsTotal = new Counter({
    name: "codex_exporter_errors_total",
    help: "Unreadable or corrupt inputs met by the exporter, by source (each counted once)",
    labelNames: ["source"],
    registers: [registry],
    // Every metric the refresh touches waits for it, or it would show the previous scrape.
    collect: () => refresh(),
  });
  for (const source of ERROR_SOURCES) errorsTotal.inc({ source }, 0);
  const problems = new Problems((source, message) => {
    errorsTotal.inc({ source });
    log.warn(message, { source });
  });
  const sessions = new SessionStore(env.sessionsRoot, problems);
  const gitState = new GitStateReader(env.gitStateDir, problems);
  const mcpLog = new McpLogTailer(env.mcpLog, problems);
  const queue = new QueueReader(env.queueDir, problems);
  let queued = 0;

  // All collect() calls of one scrape (and overlapping scrapes) share one refresh.
  let inflight: Promise<void> | undefined;
  /** The refresh in flight, or a new one. */
  const refresh = (): Promise<void> => {
    inflight ??= doRefresh().finally(() => {
      inflight = undefined;
    });
    return inflight;
  };
  const collect = { collect: refresh, registers: [registry] };

  new Gauge({
    name: "codex_info",
    help: "Codex Father build and environment (always 1)",
    labelNames: ["version", "environment"],
    registers: [registry],
  }).set({ version, environment: env.environment }, 1);
  const sessionsGauge = new Gauge({
    name: "codex_sessions",
    help: "Sessions in the store now, by state",
    labelNames: ["state"],
    ...collect,
    collect: async () => {
      await refresh();
      for (const [state, n] of Object.entries(sessions.counts())) sessionsGauge.set({ state }, n);
    },
  });
  const finished = new Counter({
    name: "codex_tasks_finished_total",
    help: "Sessions seen to finish, by result (each counted once)",
    labelNames: ["result"],
    ...collect,
  });
  for (const result of ["completed", "failed"]) finished.inc({ result }, 0);
  // A first scrape of a big store observes every finished session at once.
  const taskDuration = new BulkHistogram(
    "codex_task_duration_seconds",
    "Duration of finished sessions, from job.meta.json",
    TASK_BUCKETS,
    registry,
    refresh,
  );
  const queueGauge = new Gauge({
    name: "codex_queue_active_tasks",
    help: "Active tasks: queue/*.running files",
    ...collect,
    collect: async () => {
      await refresh();
      queueGauge.set(queued);
    },
  });
  new Gauge({
    name: "codex_max_concurrent",
    help: "Configured CODEX_MAX_CONCURRENT",
    registers: [registry],
  }).set(env.maxConcurrent);
  const mcpRequests = new Counter({
    name: "codex_mcp_requests_total",
    help: "MCP Request lines in the MCP log",
    ...collect,
  });
  const mcpErrors = new Counter({
    name: "codex_mcp_errors_total",
    help: "MCP Error lines in the MCP log",
    ...collect,
  });
  // One observation per request line: a first scrape of a big log makes hundreds of thousands at once.
  const mcpDuration = new BulkHistogram(
    "codex_mcp_request_duration_seconds",
    "Duration of MCP requests, from duration:<s> in the MCP log",
    MCP_BUCKETS,
    registry,
    refresh,
  );
  const gitOps = new Counter({
    name: "codex_git_operations_total",
    help: "Git operations seen in git-state files, by status (each counted once)",
    labelNames: ["status"],
    ...collect,
  });
  for (const status of ["ok", "failed"]) gitOps.inc({ status }, 0);

  /** Reads everything that changed since the last scrape. */
  async function doRefresh(): Promise<void> {
    try {
      // Added up first: a labelled inc() hashes its labels, 10,000 times on a first scrape.
      const done = { completed: 0, failed: 0 };
      try {
        await sessions.refresh({
          finished: (result) => done[result]++,
          duration: (s) => taskDuration.observe(s),
        });
      } finally {
        for (const [result, n] of Object.entries(done)) finished.inc({ result }, n);
      }
      queued = queue.count();
      gitState.refresh((status) => gitOps.inc({ status }));
      await mcpLog.refresh({
        requests: (n) => mcpRequests.inc(n),
        errors: (n) => mcpErrors.inc(n),
        duration: (s) => mcpDuration.observe(s),
      });
    } catch (e) {
      // A bug or an unforeseen input must cost one scrape's freshness, never the process.
      problems.report(
        "exporter",
        `refresh:${fsError(e)}`,
        `refresh failed: ${(e as Error)?.stack ?? e}`,
      );
    }
    problems.sweep();
  }

  /** A refresh after the current one (if any), with the sessions root listed again. */
  const reopen = async (): Promise<void> => {
    await inflight;
    sessions.rescan();
    await refresh();
  };

  return { registry, refresh, reopen };
}
