/**
 * Prometheus exporter for the Codex Father session store.
 * Serves /metrics (gathered at scrape time), /health (liveness) and /ready (the healthcheck's checks, cached).
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type HealthReport, runChecks } from "./lib/checks.js";
import { createCollector } from "./lib/collector.js";
import { parseEnv } from "./lib/env.js";
import { createLogger } from "./lib/log.js";

/** How long a /ready answer is reused: the checks spawn git and probe ports, too much for every probe. */
const READY_CACHE_MS = 5000;

const parsed = parseEnv(process.env);
if (!parsed.ok) {
  for (const e of parsed.errors) console.error(`metrics: ${e}`);
  process.exit(78);
}
const env = parsed.env;
const log = createLogger("metrics", { level: env.logLevel });
const collector = createCollector(env, findVersion(), log);

let ready: { at: number; report: Promise<HealthReport> } | undefined;
/** The healthcheck's report, recomputed at most every READY_CACHE_MS. */
function readiness(): Promise<HealthReport> {
  if (!ready || Date.now() - ready.at > READY_CACHE_MS)
    ready = { at: Date.now(), report: runChecks(env) };
  return ready.report;
}

const server = createServer(async (req, res) => {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD" }).end();
    return;
  }
  try {
    if (path === "/metrics") {
      const body = await collector.registry.metrics();
      res.writeHead(200, { "Content-Type": collector.registry.contentType }).end(body);
    } else if (path === "/health") {
      res.writeHead(200, { "Content-Type": "text/plain" }).end("ok\n");
    } else if (path === "/ready") {
      const report = await readiness();
      res
        .writeHead(report.healthy ? 200 : 503, { "Content-Type": "application/json" })
        .end(`${JSON.stringify(report)}\n`);
    } else {
      res
        .writeHead(404, { "Content-Type": "text/plain" })
        .end("not found: try /metrics, /health, /ready\n");
    }
  } catch (e) {
    log.error("request failed", { path, error: String(e) });
    if (!res.headersSent) res.writeHead(500);
    res.end();
  }
});

server.on("error", (e: NodeJS.ErrnoException) => {
  log.error(`cannot listen on ${env.metricsHost}:${env.metricsPort}: ${e.code ?? e.message}`);
  process.exit(1);
});
server.listen(env.metricsPort, env.metricsHost, () => {
  log.info(`listening on ${env.metricsHost}:${env.metricsPort}`, {
    sessions: env.sessionsRoot,
    mcpLog: env.mcpLog,
  });
});

/** Stops serving at once: scrapes are idempotent, Prometheus retries. */
function stop(signal: NodeJS.Signals): void {
  log.info(`${signal} received, stopping`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);

/** Version from the nearest package.json above this file (dist/scripts or scripts), else "unknown". */
function findVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      const v = (
        JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: unknown }
      ).version;
      if (typeof v === "string") return v;
    } catch {
      // Not here: look one level up.
    }
    dir = dirname(dir);
  }
  return "unknown";
}
